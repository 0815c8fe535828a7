"""``trpo export``: one graph from the raw observation to the env action, equal to ``Agent.act``.

For every action-space kind (Discrete, Box with symmetric and with asymmetric bounds,
MultiDiscrete) and for the CNN on uint8 frames, the exported ONNX graph (run by onnxruntime) and
the TorchScript module give ``Agent.act``'s deterministic actions on 1,000 raw observations spread
far beyond the observation bounds and the normaliser's clipping range: continuous actions to
~1e-5, discrete ones exactly."""
import argparse
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import trpo
from trpo import cli
from trpo.tools import export as E
from trpo.agent import Agent
from trpo.checkpoint import save_checkpoint
from trpo.errors import CheckpointError, ConfigError, TrpoError

N_OBS = 1000


# --- small envs for the spaces the classic-control ids do not have ---------------------------------
class _Tiny(gym.Env):
    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, a):
        return self.observation_space.sample(), 0.0, False, False, {}


class AsymBox(_Tiny):
    """Unbounded observations; a Box action with asymmetric, non-unit bounds (one all-positive)."""
    observation_space = gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)
    action_space = gym.spaces.Box(np.array([-1.0, 0.0, 2.5], np.float32), np.array([3.0, 0.5, 7.0], np.float32))


class Multi(_Tiny):
    observation_space = gym.spaces.Box(-2.0, 2.0, (3,), np.float32)
    action_space = gym.spaces.MultiDiscrete([3, 2, 4])


class Pixels(_Tiny):
    observation_space = gym.spaces.Box(0, 255, (4, 36, 36), np.uint8)
    action_space = gym.spaces.Discrete(3)


class PixelsLastBox(_Tiny):
    """Channels-last frames and a continuous action: the CNN with the Gaussian head and clipping."""
    observation_space = gym.spaces.Box(0, 255, (36, 36, 3), np.uint8)
    action_space = gym.spaces.Box(np.array([-0.5, 0.0], np.float32), np.array([0.5, 2.0], np.float32))


for _cls in (AsymBox, Multi, Pixels, PixelsLastBox):
    gym.register(f"TrpoExport{_cls.__name__}-v0", entry_point=_cls, max_episode_steps=8)


# --- helpers -------------------------------------------------------------------------------------
def wide_observations(agent, n=N_OBS, seed=1):
    """Raw observations: in bounds, far out of bounds and far beyond clip_obs normalised stds."""
    rng = np.random.default_rng(seed)
    space = agent.obs_space
    if space.dtype == np.uint8:
        return rng.integers(0, 256, (n, *space.shape), dtype=np.uint8)
    shape = space.shape
    mean, std = agent.obs_norm.frozen()
    low = np.where(np.isfinite(space.low), space.low, -5.0)
    high = np.where(np.isfinite(space.high), space.high, 5.0)
    k = n // 3
    inside = rng.uniform(low, high, (k, *shape))
    outside = 4 * rng.uniform(low, high, (k, *shape)) + rng.normal(0, 3, (k, *shape))
    scale = rng.choice([1.0, 5.0, 30.0], (n - 2 * k, *[1] * len(shape)))  # 30 std: past clip_obs = 10
    far = mean + std * scale * rng.standard_normal((n - 2 * k, *shape))
    return np.concatenate([inside, outside, far]).astype(np.float32)


def assert_same_actions(got, want, continuous):
    assert got.shape == want.shape
    if continuous:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert got.dtype == want.dtype
    else:
        assert np.issubdtype(got.dtype, np.integer)
        np.testing.assert_array_equal(got, want)


def check_both_formats(run_dir, continuous, min_distinct=2):
    """Export both formats, run them on 1,000 wide observations and compare with Agent.act."""
    agent = Agent.load(run_dir, device="cpu")
    obs = wide_observations(agent)
    want = agent.act(obs)
    assert len(np.unique(want.reshape(len(want), -1), axis=0)) >= min_distinct  # a policy that varies
    ts = E.export(run_dir, "torchscript")
    assert ts == run_dir / "policy.pt"
    assert_same_actions(E.torchscript_runner(ts)(obs), want, continuous)
    pytest.importorskip("onnxruntime")
    ox = E.export(run_dir, "onnx")
    assert ox == run_dir / "policy.onnx"
    import onnx
    assert max(o.version for o in onnx.load(str(ox)).opset_import if o.domain in ("", "ai.onnx")) >= 17
    import onnxruntime as ort
    sess = ort.InferenceSession(str(ox), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "obs" and inp.type == ("tensor(uint8)" if agent.obs_space.dtype == np.uint8 else "tensor(float)")
    got = sess.run(None, {"obs": obs})[0]
    assert_same_actions(got, want, continuous)
    assert_same_actions(sess.run(None, {"obs": obs[:1]})[0], want[:1], continuous)  # dynamic batch, size 1
    return agent, obs, want


def custom_run(tmp_path, env_id, head_gain=1.0, seed=0, **cfg_kw):
    """A run directory for ``env_id`` without training: a fresh agent whose head is scaled up and
    centred (so the actions spread over and beyond the Box) and whose normaliser has non-trivial
    statistics (``cfg_kw``: config keys, e.g. the networks')."""
    torch.manual_seed(seed)
    env = gym.make(env_id)
    cfg = trpo.Config(env_id=env_id, device="cpu", check_env=False, **cfg_kw)
    agent = Agent(cfg, env.observation_space, env.action_space, torch.device("cpu"))
    env.close()
    head = [m for m in agent.actor.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        head.weight.mul_(head_gain)
        if isinstance(env.action_space, gym.spaces.Box):  # means around the middle of the Box
            head.bias.copy_(torch.as_tensor((env.action_space.low + env.action_space.high) / 2))
    if agent.obs_norm.enabled:
        rng = np.random.default_rng(seed)
        shape = env.observation_space.shape
        agent.obs_norm.rms.update(rng.normal(rng.uniform(-1, 1, shape), rng.uniform(0.1, 3, shape), (256, *shape)))
    run_dir = tmp_path / env_id
    save_checkpoint(run_dir / "checkpoints", 1, {"agent": agent.state_dict()}, {"config": cfg.to_dict()})
    return run_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny real training runs (two iterations each)."""
    torch.set_num_threads(1)
    runs = {}
    for env_id in ("CartPole-v1", "Pendulum-v1"):
        cfg = trpo.Config(env_id=env_id, total_steps=2048, batch_steps=1024, num_envs=2, eval_episodes=1,
                          check_env=False, critic_epochs=1)
        runs[env_id] = trpo.train(cfg, run_dir=tmp_path_factory.mktemp("runs") / env_id, progress=False).run_dir
    return runs


# --- parity, per action-space kind ----------------------------------------------------------------
def test_discrete_cartpole(trained):
    agent, _, want = check_both_formats(trained["CartPole-v1"], continuous=False)
    assert agent.obs_norm.enabled and want.dtype == np.int64


def test_box_pendulum(trained):
    check_both_formats(trained["Pendulum-v1"], continuous=True)


def test_box_asymmetric_bounds_are_clipped(tmp_path):
    run = custom_run(tmp_path, "TrpoExportAsymBox-v0", head_gain=300.0)
    agent, _, want = check_both_formats(run, continuous=True, min_distinct=100)
    low, high = agent.act_space.low, agent.act_space.high
    for j in range(3):  # each bound is hit and the interior is reached
        assert (want[:, j] == low[j]).any() and (want[:, j] == high[j]).any()
        assert ((want[:, j] > low[j]) & (want[:, j] < high[j])).any()


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu", "gelu", "silu"])
def test_every_activation_exports_with_parity(tmp_path, activation):
    """The networks keys: every activation (here with its own actor layout and PyTorch's init) is
    exported with Agent.act's actions, continuous ones through the clipping, and Agent.act takes
    the numpy path for each."""
    from trpo.nets.policy_runner import NumpyPolicy

    run = custom_run(tmp_path, "TrpoExportAsymBox-v0", head_gain=30.0, activation=activation,
                     actor_hidden=(16, 8), critic_hidden=(8,), ortho_init=activation != "tanh")
    agent, _, want = check_both_formats(run, continuous=True, min_distinct=50)
    assert isinstance(agent.actor.net[1], type(agent.critic.net[1]))
    assert [m.out_features for m in agent.actor.net[::2]] == [16, 8, 3] and agent.critic.net[0].out_features == 8
    assert NumpyPolicy.supports(agent.actor)


def test_multidiscrete(tmp_path):
    run = custom_run(tmp_path, "TrpoExportMulti-v0", head_gain=300.0)
    _, _, want = check_both_formats(run, continuous=False, min_distinct=6)
    assert want.shape == (N_OBS, 3)
    for j, n in enumerate([3, 2, 4]):
        assert set(np.unique(want[:, j])) == set(range(n))  # every sub-action is taken somewhere


@pytest.mark.parametrize("env_id, continuous", [("TrpoExportPixels-v0", False), ("TrpoExportPixelsLastBox-v0", True)])
def test_cnn_on_uint8_frames(tmp_path, env_id, continuous):
    run = custom_run(tmp_path, env_id, head_gain=100.0)
    agent, _, _ = check_both_formats(run, continuous=continuous)
    assert not agent.obs_norm.enabled  # frames are scaled by the CNN, not normalised


def test_deployable_works_for_any_actor_subclass(tmp_path):
    """An actor the numpy fast path does not cover (a ReLU net; Agent.act then runs it in torch,
    float32): the deployable module still gives Agent.act's actions, through the actor vocabulary."""
    from trpo.nets.policies import GaussianActor

    class ReluGaussian(GaussianActor):
        def __init__(self, obs_dim, act_dim):
            super().__init__(obs_dim, act_dim)
            self.net = torch.nn.Sequential(torch.nn.Linear(obs_dim, 32), torch.nn.ReLU(), torch.nn.Linear(32, act_dim))

    run = custom_run(tmp_path, "TrpoExportAsymBox-v0")
    agent = Agent.load(run, device="cpu")
    agent.actor = ReluGaussian(5, 3)
    with torch.no_grad():
        agent.actor.net[-1].weight.mul_(30)
    obs = wide_observations(agent)
    policy = E.deployable(agent)
    with torch.no_grad():
        got = policy(torch.from_numpy(obs)).numpy()
    assert_same_actions(got, agent.act(obs), continuous=True)
    E.export_torchscript(policy, tmp_path / "p.pt", obs)
    assert_same_actions(E.torchscript_runner(tmp_path / "p.pt")(obs), agent.act(obs), continuous=True)


# --- the command line and its errors --------------------------------------------------------------
def run_cli(argv, monkeypatch):
    """``trpo.cli.main`` with the export subcommand registered (whether or not cli.py lists it)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "export" not in sub.choices:
        E.register(sub)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    return cli.main(argv)


def test_cli_writes_the_file_and_a_usage_hint(trained, tmp_path, monkeypatch, capsys):
    out = tmp_path / "deploy" / "cartpole.pt"
    out.parent.mkdir()
    assert run_cli(["export", str(trained["CartPole-v1"]), "--format", "torchscript", "-o", str(out)], monkeypatch) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == str(out) and out.is_file()
    assert len(lines) == 2 and "'obs'" in lines[1] and "float32" in lines[1] and "(batch, 4)" in lines[1]


def test_not_a_run_directory_is_one_line_error(tmp_path, monkeypatch, capsys):
    with pytest.raises(CheckpointError):
        E.export(tmp_path, "torchscript")
    with pytest.raises(ConfigError):
        E.export(tmp_path / "missing", "torchscript")
    with pytest.raises(ConfigError):
        E.export(tmp_path, "savedmodel")
    assert run_cli(["export", str(tmp_path), "--format", "torchscript"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert err.startswith("trpo: error: ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "policy.pt").exists()


def test_missing_extra_is_one_line_error(tmp_path, monkeypatch, capsys):
    run = custom_run(tmp_path, "TrpoExportMulti-v0")
    for mod in ("onnx", "onnxruntime", "onnxscript"):
        monkeypatch.setitem(sys.modules, mod, None)  # ``import onnx`` now raises ImportError
    with pytest.raises(TrpoError, match=r"^trpo export --format onnx needs: pip install 'trpo\[export\]'$"):
        E.export(run, "onnx")
    assert run_cli(["export", str(run)], monkeypatch) == 2  # a user error: exit status 2
    assert capsys.readouterr().err == "trpo: error: trpo export --format onnx needs: pip install 'trpo[export]'\n"
    assert not (run / "policy.onnx").exists()


def test_a_graph_that_disagrees_is_refused(tmp_path, monkeypatch):
    run = custom_run(tmp_path, "TrpoExportMulti-v0", head_gain=300.0)
    real = E.deployable

    class OffByOne(torch.nn.Module):
        def __init__(self, agent):
            super().__init__()
            self.inner = real(agent)
            self.input_dtype, self.obs_shape = self.inner.input_dtype, self.inner.obs_shape

        def forward(self, obs):
            return (self.inner(obs) + 1) % 2

    monkeypatch.setattr(E, "deployable", OffByOne)
    with pytest.raises(TrpoError, match="disagrees with Agent.act"):
        E.export(run, "torchscript")
    assert not (run / "policy.pt").exists()


def test_importing_trpo_does_not_import_onnx():
    code = ("import sys, trpo, trpo.cli, trpo.tools.export; trpo.cli.build_parser(); "
            "assert not {'onnx', 'onnxruntime', 'onnxscript'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
