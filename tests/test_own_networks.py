"""``trpo.train(cfg, actor=..., critic=...)``: one's own networks (docs/networks.md). Training,
checkpoints, exact resume, ``trpo.load``, evaluation and export with them; the one-line errors
when they are missing or cannot be used."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import trpo
from trpo import CheckpointError, ConfigError
from trpo.checkpoint import load_checkpoint

TINY = {"total_steps": 512, "batch_steps": 128, "num_envs": 2, "eval_periodic_episodes": 0, "eval_episodes": 1,
        "check_env": False, "critic_fit": "inline", "checkpoint_every": 2, "warnings": False}


# --- the worked example of README "Your own networks" / docs/networks.md -------------------------
class Policy(nn.Module):
    """Observations (B, 4) -> the logits of CartPole's 2 actions (B, 2): the built-in Categorical
    head wraps it."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 32), nn.LayerNorm(32), nn.ReLU())
        self.logits = nn.Linear(32, 2)

    def forward(self, obs):
        return self.logits(self.body(obs))


class Value(nn.Module):
    """Observations (B, 4) -> values (B, 1)."""

    def __init__(self, obs_space, act_space):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_space.shape[0], 32), nn.SiLU(), nn.Linear(32, 1))

    def forward(self, obs):
        return self.net(obs)


def test_worked_example_trains_saves_loads_evaluates_exports(tmp_path):
    cfg = trpo.Config(env_id="CartPole-v1", algo="trpo", **TINY)
    result = trpo.train(cfg, tmp_path / "run", actor=Policy, critic=Value, progress=False)
    agent = result.agent
    assert isinstance(agent.actor.net, Policy) and isinstance(agent.critic.net, Value)
    _, manifest = load_checkpoint(result.run_dir)
    assert manifest["own_networks"] == {"actor": f"{__name__}.Policy", "critic": f"{__name__}.Value"}

    # without the modules: one line that says what to give
    with pytest.raises(CheckpointError) as e:
        trpo.load(result.run_dir)
    msg = str(e.value)
    assert "\n" not in msg and "own actor network" in msg and "actor=" in msg and "Policy" in msg
    with pytest.raises(CheckpointError, match="own critic network"):
        trpo.load(result.run_dir, actor=Policy)

    loaded = trpo.load(result.run_dir, actor=Policy, critic=Value)
    obs = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))
    for p, q in zip(loaded.critic.parameters(), agent.critic.parameters()):
        assert torch.equal(p, q)
    mean, _, returns = loaded.evaluate(episodes=2)
    assert len(returns) == 2 and mean > 0

    from trpo.tools.export import export, torchscript_runner
    path = export(result.run_dir, "torchscript", actor=Policy, critic=Value)
    np.testing.assert_array_equal(torchscript_runner(path)(obs), agent.act(obs))


def test_resume_with_own_networks_is_exact(tmp_path):
    cfg = trpo.Config(env_id="CartPole-v1", algo="ppo", seed=3, anneal_lr=False,  # lr decay follows total_steps
                      **{**TINY, "total_steps": 256})
    trpo.train(cfg, tmp_path / "half", actor=Policy, critic=Value, progress=False)
    with pytest.raises(CheckpointError, match="own actor network"):
        trpo.train(cfg.replace(total_steps=512), resume=tmp_path / "half", progress=False)
    trpo.train(cfg.replace(total_steps=512), resume=tmp_path / "half", actor=Policy, critic=Value, progress=False)
    trpo.train(cfg.replace(total_steps=512), tmp_path / "full", actor=Policy, critic=Value, progress=False)
    a, ma = load_checkpoint(tmp_path / "half")
    b, mb = load_checkpoint(tmp_path / "full")
    assert ma["counters"]["env_steps"] == mb["counters"]["env_steps"] == 512
    for part in ("actor", "critic"):
        assert a["agent"][part].keys() == b["agent"][part].keys()
        for k in a["agent"][part]:
            assert torch.equal(a["agent"][part][k], b["agent"][part][k]), (part, k)





def test_an_actor_subclass_and_instances_on_a_box_space(tmp_path):
    """An ``Actor`` (a built-in GaussianActor with its own net) is used as it is; instances are
    trained in place; a plain MLP of one's own keeps the fast paths."""
    from trpo.nets.policies import GaussianActor, plain_actor_class

    actor = GaussianActor(3, 1, (), log_std_init=-0.5)
    actor.net = nn.Sequential(nn.Linear(3, 16), nn.GELU(), nn.Linear(16, 1))
    before = actor.net[0].weight.detach().clone()
    critic = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    cfg = trpo.Config(env_id="Pendulum-v1", algo="trpo", **TINY)
    result = trpo.train(cfg, tmp_path / "run", actor=actor, critic=critic, progress=False)
    assert result.agent.actor is actor and not torch.equal(actor.net[0].weight, before)  # trained in place
    assert plain_actor_class(actor) is GaussianActor  # Linear, GELU, Linear: numpy acting, written-out Fisher
    fresh = GaussianActor(3, 1, ())
    fresh.net = nn.Sequential(nn.Linear(3, 16), nn.GELU(), nn.Linear(16, 1))
    loaded = trpo.load(result.run_dir, actor=fresh,
                       critic=lambda: nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)))
    obs = np.random.default_rng(1).standard_normal((20, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.act(obs), result.agent.act(obs), rtol=1e-6, atol=1e-7)


def test_errors_are_one_line(tmp_path):
    cfg = trpo.Config(env_id="CartPole-v1", algo="trpo", **TINY)
    with pytest.raises(ConfigError, match=r"gives \(2, 3\) .* needs \(2, 2\)"):
        trpo.train(cfg, tmp_path / "a", actor=lambda: nn.Linear(4, 3), progress=False)
    with pytest.raises(ConfigError, match="expected"):
        trpo.train(cfg, tmp_path / "b", critic=lambda: nn.Linear(4, 2), progress=False)
    with pytest.raises(ConfigError, match="policy = 'mlp'"):
        trpo.train(cfg.replace(policy="gru", seq_len=8), tmp_path / "c", actor=Policy, progress=False)
    with pytest.raises(ConfigError, match="local sampling"):
        trpo.train(cfg.replace(algo="a3c"), tmp_path / "d", actor=Policy, progress=False)
    with pytest.raises(ConfigError, match="nn.Module"):
        trpo.train(cfg, tmp_path / "e", actor=42, progress=False)
    # a run with the built-in networks refuses modules it did not train
    r = trpo.train(cfg.replace(total_steps=128), tmp_path / "f", progress=False)
    with pytest.raises(CheckpointError, match="built-in actor"):
        trpo.load(r.run_dir, actor=Policy)


def _code_block(text: str, heading: str) -> str:
    section = text.split(heading, 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("page, heading", [("README.md", "### Your own networks"),
                                           ("docs/networks.md", "### A worked example")])
def test_the_documented_examples_run(tmp_path, monkeypatch, page, heading):
    """The README's and docs/networks.md's examples, as written, on a tiny budget."""
    from pathlib import Path

    code = _code_block((Path(__file__).resolve().parents[1] / page).read_text(), heading)
    assert "total_steps=100_000" in code
    small = ", ".join(f"{k}={v!r}" for k, v in {**TINY, "total_steps": 256}.items())
    code = code.replace("total_steps=100_000", small).replace("total_steps=200_000", "total_steps=512")
    if "export(" in code:
        pytest.importorskip("onnxruntime")
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__main__"}
    exec(compile(code, page, "exec"), ns)  # noqa: S102 - the documentation's own code
    agent = ns["agent"]
    assert agent.act(np.zeros(4, np.float32)) in (0, 1)
    assert (tmp_path / "runs" / "own" / "config.toml").exists()
