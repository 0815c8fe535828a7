"""Recurrent policies (policy = gru / lstm): the math through the recurrence, sequences and masks,
hidden states in the sampler, acting, resume, and the package's POMDP envs."""
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import trpo
from trpo.config import Config
from trpo.errors import ConfigError
from trpo.functional import fisher_vector_product
from trpo.functional.fisher import gauss_newton_fvp
from trpo.functional.sequences import Sequences, chunk, unchunk
from trpo.nets.normalize import ObsNormalizer, RewardScaler
from trpo.nets.policies import flat_params
from trpo.nets.recurrent import RecurrentActor, RecurrentCore, RecurrentCritic
from trpo.rollout.single_path import SinglePathSampler
from tests.reliability.test_rel_resume import _assert_same_state

DISCRETE, BOX = gym.spaces.Discrete(3), gym.spaces.Box(-1.0, 1.0, (2,))
OBS = gym.spaces.Box(-np.inf, np.inf, (3,))


def _actor(kind, act_space, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return RecurrentActor(OBS, act_space, (5,), kind, 4, log_std_init=-0.3).to(dtype)


def _sequences(M=3, L=4, S=4, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    starts = torch.rand(M, L, generator=g) < 0.3
    return Sequences(torch.randn(M, L, 3, generator=g, dtype=dtype), starts,
                     torch.randn(M, S, generator=g, dtype=dtype) * 0.5)


class _Params(nn.Module):
    def __init__(self, actor, seq):
        super().__init__()
        self.actor, self.seq = actor, seq

    def forward(self):
        return self.actor.dist_params(self.seq)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("act_space", [DISCRETE, BOX], ids=["categorical", "gaussian"])
def test_fvp_through_the_recurrence_equals_the_explicit_kl_hessian(kind, act_space):
    """F v by both products (Hessian form, Gauss-Newton form) == H v, H the explicit Hessian of the
    mean KL over sequences w.r.t. every parameter (float64), at theta_old."""
    actor = _actor(kind, act_space)
    S = actor.state_size
    seq = _sequences(S=S)
    params = list(actor.parameters())
    with torch.no_grad():
        old = actor.dist_params(seq)
    theta0 = flat_params(actor)
    names = [n for n, _ in actor.named_parameters()]
    shapes = [p.shape for p in params]
    module = _Params(actor, seq)

    def mean_kl(theta):
        chunks = torch.split(theta, [math.prod(s) for s in shapes])
        p = {f"actor.{n}": c.view(s) for n, c, s in zip(names, chunks, shapes)}
        return actor.kl(old, torch.func.functional_call(module, p, ())).mean()

    H = torch.autograd.functional.hessian(mean_kl, theta0)
    assert H.abs().max() > 1e-3  # the recurrent weights matter to the KL
    v = torch.randn(theta0.numel(), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    want = H @ v
    kl = actor.kl(old, actor.dist_params(seq)).mean()
    got_h = fisher_vector_product(kl, params)(v)
    got_gn = gauss_newton_fvp(lambda: actor.dist_params(seq), actor.kl, old, params)(v)
    torch.testing.assert_close(got_h, want, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(got_gn, want, rtol=1e-8, atol=1e-10)
    # the recurrent cell's own block is not zero: the product goes through the recurrence
    n_enc = sum(p.numel() for p in actor.encoder.parameters())
    assert want[:n_enc].abs().max() > 1e-4 or want[-n_enc:].abs().max() > 1e-4


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_masked_chunks_equal_the_episodes_run_one_by_one(kind):
    """A chunk that spans episode boundaries gives the same log-probs (and so the same surrogate
    and gradient) as each episode stepped alone from the zero state."""
    actor = _actor(kind, BOX)
    g = torch.Generator().manual_seed(5)
    L = 9
    obs = torch.randn(1, L, 3, generator=g, dtype=torch.float64)
    starts = torch.zeros(1, L, dtype=torch.bool)
    starts[0, [0, 4, 7]] = True  # three episodes: steps 0-3, 4-6, 7-8
    state0 = torch.randn(1, actor.state_size, generator=g, dtype=torch.float64)  # ignored: step 0 starts
    a = torch.randn(1, L, 2, generator=g, dtype=torch.float64)
    logp = actor.log_prob(actor.dist_params(Sequences(obs, starts, state0)), a)
    one_by_one = []
    for lo, hi in [(0, 4), (4, 7), (7, 9)]:
        h = actor.initial_state(1).double()
        for t in range(lo, hi):
            params, h = actor.step(obs[:, t], h)
            one_by_one.append(actor.log_prob(params, a[:, t]))
    torch.testing.assert_close(logp[0], torch.cat(one_by_one), rtol=1e-12, atol=1e-12)
    # and the gradient of their sum
    g1 = torch.autograd.grad(logp.sum(), list(actor.parameters()))
    g2 = torch.autograd.grad(torch.cat(one_by_one).sum(), list(actor.parameters()))
    for x, y in zip(g1, g2):
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12)


def test_chunk_layout_and_inverse():
    T, N, L = 8, 3, 4
    x = torch.arange(T * N).reshape(T, N)
    c = chunk(x, L)
    assert c.shape == (T // L * N, L)
    assert c[1].tolist() == [1, 4, 7, 10]          # chunk m = c N + n: env 1, steps 0..3
    assert c[N].tolist() == [12, 15, 18, 21]       # env 0, steps 4..7
    assert torch.equal(unchunk(c, T, N), x)
    with pytest.raises(ValueError, match="does not divide"):
        chunk(x, 3)


def _sampler(kind, num_envs=3, T=24, seq_len=8, env_id="trpo/CartPoleNoVelocity-v1", **make_kw):
    torch.manual_seed(0)
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}, **make_kw)
    space = envs.single_observation_space
    actor = RecurrentActor(space, envs.single_action_space, (16,), kind, 8)
    critic = RecurrentCritic(space, (16,), kind, 8)
    return SinglePathSampler(envs, actor, ObsNormalizer(space.shape, True, 10.0), RewardScaler(num_envs, 0.99, True), T, 0,
                             torch.device("cpu"), critic=critic, seq_len=seq_len), actor, critic


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_sampler_states_reset_at_episode_starts_and_replay_through_the_chunks(kind):
    sampler, actor, critic = _sampler(kind)
    episodes_ended = 0
    for i in range(3):  # later batches start mid-episode, from carried states
        b = sampler.collect()
        s = b.seq
        if i == 0:
            assert s.starts[0].all()  # every env starts an episode at the first step
        episodes_ended += int((b.terminated | b.truncated).sum())
        # the state before an episode's first step is zero; elsewhere it is not
        assert torch.all(s.actor_states[s.starts] == 0) and torch.all(s.critic_states[s.starts] == 0)
        assert torch.all(s.actor_states[~s.starts].abs().sum(-1) > 0)
        # after a done step the next step starts an episode
        done = (b.terminated | b.truncated)
        assert torch.equal(s.starts[1:], done[:-1])
        # the learner's chunks reproduce, step by step, the states the sampler acted from
        with torch.no_grad():
            feats = actor.encoder.unroll(b.inputs())          # (M, L, H): outputs after each step
        h_after = unchunk(feats, b.T, b.N)
        want = s.actor_states[1:, :, :8]                      # h before step t+1 = h after step t (no reset)
        keep = ~s.starts[1:]
        torch.testing.assert_close(h_after[:-1][keep], want[keep], rtol=1e-5, atol=1e-6)
    sampler.close()
    assert episodes_ended >= 2  # episode ends (and resets mid-batch) were exercised, whatever the weights


def test_values_of_final_and_last_observations_use_the_critic_state_of_their_episode():
    from trpo.algos.common import values_and_next_values

    sampler, actor, critic = _sampler("gru", num_envs=2, T=40, env_id="trpo/PendulumNoVelocity-v1",
                                      max_episode_steps=15)
    sampler.collect()
    b = sampler.collect()  # starts mid-episode
    assert len(b.final_idx) >= 4  # truncations every 15 steps
    values, next_values = values_and_next_values(b, critic)
    # by hand: every env's episode stepped from zero, the final obs valued from the state after its last step
    with torch.no_grad():
        for n in range(b.N):
            h = b.seq.critic_states[0, n][None]  # where the previous batch left this env's episode
            for t in range(b.T):
                if b.seq.starts[t, n]:
                    h = critic.initial_state(1)
                v, h = critic.step(b.obs[t, n][None], h)
                torch.testing.assert_close(values[t, n], v[0], rtol=1e-5, atol=1e-6)
                k = t * b.N + n
                if k in b.final_idx.tolist():
                    j = b.final_idx.tolist().index(k)
                    torch.testing.assert_close(next_values[t, n], critic.step(b.final_obs[j][None], h)[0][0],
                                               rtol=1e-5, atol=1e-6)
            if not b.done[-1, n]:
                torch.testing.assert_close(next_values[-1, n], critic.step(b.last_obs[n][None], h)[0][0],
                                           rtol=1e-5, atol=1e-6)


def test_recurrent_config_is_checked():
    Config(policy="gru", algo="ppo")
    with pytest.raises(ConfigError, match="a3c.*no recurrent version"):
        Config(policy="gru", algo="a3c", sampler="async").replace()
    with pytest.raises(ConfigError, match="seq_len.*must divide"):
        Config(policy="lstm", num_envs=8, batch_steps=1024, seq_len=48).replace()
    from trpo.resolve import resolve_critic_fit
    assert resolve_critic_fit("auto", "trpo", "cpu", recurrent=True) == "inline"
    with pytest.raises(ConfigError, match="fits MLP critics only"):
        resolve_critic_fit("process", "trpo", "cpu", recurrent=True)


def test_pomdp_envs_drop_the_velocities():
    full, masked = gym.make("CartPole-v1"), gym.make("trpo/CartPoleNoVelocity-v1")
    o1, _ = full.reset(seed=3)
    o2, _ = masked.reset(seed=3)
    assert masked.observation_space.shape == (2,) and np.array_equal(o2, o1[[0, 2]])
    for _ in range(5):
        o1, r1, *_ = full.step(1)
        o2, r2, *_ = masked.step(1)
        assert np.array_equal(o2, o1[[0, 2]]) and r1 == r2
    assert masked.spec.max_episode_steps == 500
    pend = gym.make("trpo/PendulumNoVelocity-v1")
    assert pend.observation_space.shape == (2,) and pend.spec.max_episode_steps == 200
    from gymnasium.utils.env_checker import check_env
    from trpo.envs.pomdp import cartpole_no_velocity
    check_env(cartpole_no_velocity())


def test_agent_acts_with_a_state_and_evaluates(tmp_path):
    cfg = Config(env_id="trpo/CartPoleNoVelocity-v1", policy="gru", total_steps=512, batch_steps=256,
                 eval_episodes=2, check_env=False, eval_periodic_episodes=0)
    res = trpo.train(cfg, tmp_path / "run", progress=False)
    agent = trpo.load(tmp_path / "run")
    assert agent.recurrent
    env = gym.make("trpo/CartPoleNoVelocity-v1")
    obs, _ = env.reset(seed=0)
    a, h = agent.act(obs)
    a2, h2 = agent.act(obs, state=h)
    assert a in (0, 1) and h.shape == (1, 64) and not torch.equal(h, h2)
    batch = np.stack([obs, obs])
    acts, hb = agent.act(batch, state=agent.initial_state(2))
    assert acts.shape == (2,) and hb.shape == (2, 64)
    mean, _, returns = agent.evaluate(episodes=2)
    assert len(returns) == 2 and res.summary["final_eval_return_mean"] > 0
    mlp = trpo.train(cfg.replace(policy="mlp"), tmp_path / "mlp", progress=False).agent
    with pytest.raises(TypeError, match="not recurrent"):
        mlp.act(obs, state=h)
    with pytest.raises(TypeError, match="not recurrent"):
        mlp.initial_state()


@pytest.mark.parametrize("algo,kind", [("trpo", "gru"), ("ppo", "lstm")])
def test_recurrent_resume_is_bitwise(tmp_path, capsys, algo, kind):
    """K iterations, checkpoint, resume to 2K == 2K uninterrupted: the hidden states of actor and
    critic are part of the sampler state (mid-episode at the cut), the envs are snapshotted."""
    from trpo.checkpoint import load_checkpoint
    from trpo.cli import main

    common = ["--algo", algo, "--num-envs", "2", "--seed", "3", "--quiet", "--set", f"policy={kind}",
              "--set", "batch_steps=64", "--set", "seq_len=8", "--set", "rnn_hidden=8", "--set", "check_env=false",
              "--set", "eval_episodes=1", "--set", "eval_periodic_episodes=0", "--set", "checkpoint_every=2",
              "--set", "anneal_lr=false"]  # (an annealed lr follows total_steps, which the resume changes)
    half, full = tmp_path / "half", tmp_path / "full"
    assert main(["train", "trpo/PendulumNoVelocity-v1", "--total-steps", "256", "--run-dir", str(half), *common]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(half), "--total-steps", "512", "--quiet"]) == 0
    assert "not bitwise" not in capsys.readouterr().out
    assert main(["train", "trpo/PendulumNoVelocity-v1", "--total-steps", "512", "--run-dir", str(full), *common]) == 0
    a, ma = load_checkpoint(half)
    b, mb = load_checkpoint(full)
    assert ma["counters"]["iteration"] == mb["counters"]["iteration"] == 8
    states = a["sampler"]["policy_state"]
    assert len(states) == 2 and np.abs(states[0]).sum() > 0  # mid-episode: Pendulum runs 200 steps
    _assert_same_state(a, b)


def test_ray_backend_refuses_recurrent_policies_in_one_line():
    with pytest.raises(ConfigError, match="backend 'ray' ships MLP policies only"):
        Config(policy="gru", backend="ray").replace()


@pytest.mark.parametrize("env_id,kind", [("trpo/CartPoleNoVelocity-v1", "gru"), ("trpo/PendulumNoVelocity-v1", "lstm")])
def test_vine_with_a_recurrent_policy(tmp_path, env_id, kind):
    """Vine: the rollout states carry the hidden state (branches continue from it), the learner
    reads each rollout state through the trunk steps before it, and the step moves the recurrent
    weights through more than one step of the recurrence."""
    from trpo.agent import Agent
    from trpo.algos import get_learner
    from trpo.nets.normalize import RewardScaler
    from trpo.resolve import resolve_run
    from trpo.rollout import get_sampler
    from trpo.rollout.base import SamplerContext

    cfg, env = resolve_run(Config(env_id=env_id, sampler="vine", policy=kind, rnn_hidden=8, seq_len=8,
                                  batch_steps=512, vine_branch_length=16, check_env=False))
    agent = Agent(cfg, *env.spaces(), env=env)
    scaler = RewardScaler(cfg.num_envs, cfg.gamma, cfg.normalize_rewards)
    sampler = get_sampler("vine").build(SamplerContext(cfg, env, agent.actor, agent.critic, agent.obs_norm, scaler,
                                                    torch.device("cpu")))
    learner = get_learner(cfg.algo)(agent.actor, agent.critic, cfg, torch.device("cpu"))
    try:
        batch = sampler.collect()
        v = batch.vine
        w = v.windows
        assert w is not None and w.shape[1] == 8 and len(w) == len(v.q)
        # the window read at its position is the rollout state's observation, from its stored state
        assert torch.equal(w.obs[torch.arange(len(w)), w.pos], v.obs)
        with torch.no_grad():
            p_window = agent.actor.dist_params(w)
            p_step = agent.actor.step(v.obs, v.actor_states)[0]
        for a, b in zip(p_window, p_step):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        # the surrogate's gradient reaches the cell's recurrent weights through earlier steps
        deep = w.pos >= 2
        assert deep.any()
        h2h = agent.actor.encoder.core.h2h.weight
        g_window = torch.autograd.grad(agent.actor.dist_params(w[deep])[0].sum(), h2h)[0]
        g_step = torch.autograd.grad(agent.actor.step(v.obs[deep], v.actor_states[deep])[0][0].sum(), h2h)[0]
        assert not torch.allclose(g_window, g_step)
        before = [p.detach().clone() for p in agent.actor.parameters()]
        stats = learner.update(batch)
        assert np.isfinite(stats["kl"]) and stats["vine_states"] == len(v.q)
        if stats["step_accepted"]:
            assert any(not torch.equal(a, b) for a, b in zip(before, agent.actor.parameters()))
    finally:
        sampler.close()
        learner.close()


@pytest.mark.parametrize("env_id,kind", [("trpo/CartPoleNoVelocity-v1", "gru"), ("trpo/PendulumNoVelocity-v1", "lstm")])
def test_export_of_the_recurrent_step_function(tmp_path, env_id, kind):
    """ONNX and TorchScript: (obs, state) -> (action, state_out), equal to Agent.act with its state
    on 1,000 probe observations from probe states and along episodes (the state threaded through)."""
    pytest.importorskip("onnxruntime")
    from trpo.tools.export import export, onnx_runner, probe_observations, torchscript_runner

    cfg = Config(env_id=env_id, policy=kind, total_steps=512, batch_steps=256, eval_episodes=1, check_env=False,
                 eval_periodic_episodes=0)
    trpo.train(cfg, tmp_path / "run", progress=False)
    agent = trpo.load(tmp_path / "run")
    obs = probe_observations(agent, 1000)
    h0 = np.random.default_rng(0).normal(0, 0.5, (1000, agent.actor.state_size)).astype(np.float32)
    env = gym.make(env_id)
    for fmt, runner in (("onnx", onnx_runner), ("torchscript", torchscript_runner)):
        run = runner(export(tmp_path / "run", fmt))
        a, h = run(obs, h0)
        want_a, want_h = agent.act(obs, state=torch.from_numpy(h0))
        assert np.allclose(a, want_a, atol=1e-5) and np.allclose(h, want_h.numpy(), atol=1e-5)
        o, _ = env.reset(seed=1)
        state, h_exp = None, np.zeros((1, agent.actor.state_size), np.float32)
        for _ in range(150):
            want, state = agent.act(o, state=state)
            got, h_exp = run(o[None].astype(np.float32), h_exp)
            assert np.allclose(got[0], want, atol=1e-5)
            o, _, term, trunc, _ = env.step(want)
            if term or trunc:
                o, _ = env.reset()
                state, h_exp = None, np.zeros_like(h_exp)


@pytest.mark.parametrize("sampler", ["single-path", "vine"])
def test_image_observations_with_a_recurrent_policy(tmp_path, sampler):
    """MinAtar frames: the CNN trunk before the cell; single path and vine train and export."""
    pytest.importorskip("minatar")
    cfg = Config(env_id="MinAtar/Breakout-v1", policy="gru", sampler=sampler, total_steps=512, batch_steps=256,
                 num_envs=4, eval_episodes=1, eval_periodic_episodes=0, check_env=False, vine_branch_length=8)
    res = trpo.train(cfg, tmp_path / "run", progress=False)
    assert res.summary["total_steps"] >= 512
    agent = trpo.load(tmp_path / "run")
    frame = np.zeros(agent.obs_space.shape, agent.obs_space.dtype)
    a, h = agent.act(frame)
    assert h.shape == (1, agent.actor.state_size)


@pytest.mark.parametrize("algo", ["trpo", "npg", "ppo", "ppo-kl", "a2c", "reinforce", "pg-l2"])
def test_every_recurrent_algorithm_updates_the_cell(tmp_path, algo):
    """One iteration per algorithm: the batch is trained as sequences and the recurrent weights of
    the actor move (through the recurrence: h2h sees only the carried state)."""
    from trpo.agent import Agent
    from trpo.algos import get_learner
    from trpo.resolve import resolve_run
    from trpo.rollout import get_sampler
    from trpo.rollout.base import SamplerContext

    cfg, env = resolve_run(Config(env_id="trpo/CartPoleNoVelocity-v1", algo=algo, policy="gru", rnn_hidden=8,
                                  seq_len=8, batch_steps=256, num_envs=4, check_env=False))
    agent = Agent(cfg, *env.spaces(), env=env)
    scaler = RewardScaler(cfg.num_envs, cfg.gamma, cfg.normalize_rewards)
    sampler = get_sampler(cfg.sampler).build(SamplerContext(cfg, env, agent.actor, agent.critic, agent.obs_norm,
                                                            scaler, torch.device("cpu")))
    learner = get_learner(algo)(agent.actor, agent.critic, cfg, torch.device("cpu"))
    h2h, v_h2h = agent.actor.encoder.core.h2h.weight, agent.critic.encoder.core.h2h.weight
    before, v_before = h2h.detach().clone(), v_h2h.detach().clone()
    try:
        for _ in range(2):
            stats = learner.update(sampler.collect())
            learner.sync()
        assert all(np.isfinite(v) for v in stats.values() if isinstance(v, float))
        assert not torch.equal(before, h2h) and not torch.equal(v_before, v_h2h)
    finally:
        sampler.close()
        learner.close()


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_cells_equal_pytorchs_own(kind):
    """The written-out cells against torch.gru_cell / torch.lstm_cell with the same weights
    (PyTorch's gate layout: r, z, n for the GRU; i, f, g, o for the LSTM), float64."""
    torch.manual_seed(0)
    core = RecurrentCore(5, 7, kind).double()
    for p in core.parameters():  # non-zero biases too
        nn.init.normal_(p, std=0.5)
    x = torch.randn(4, 5, dtype=torch.float64)
    state = torch.randn(4, core.state_size, dtype=torch.float64)
    out, new = core.step(x, state)
    w = (core.x2h.weight, core.h2h.weight, core.x2h.bias, core.h2h.bias)
    if kind == "gru":
        want = torch.gru_cell(x, state, *w)
        torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(new, want, rtol=1e-12, atol=1e-12)
    else:
        h, c = torch.lstm_cell(x, (state[:, :7], state[:, 7:]), *w)
        torch.testing.assert_close(out, h, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(new, torch.cat([h, c], -1), rtol=1e-12, atol=1e-12)
