"""The run's debugging warnings (``trpo.diagnostics.RunWatch``) on constructed metric rows: each
fires on the failure it names, once, and stays silent on a healthy run."""
import json
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch

import trpo
from trpo.diagnostics import (
    EV_GRACE,
    EV_ITERS,
    FROZEN_ITERS,
    FROZEN_KL,
    OBS_STD_LIMIT,
    REJECT_WINDOW,
    SMALL_KL_ITERS,
    RunWatch,
)
from trpo.nets.normalize import ObsNormalizer

CFG = trpo.Config(env_id="CartPole-v1")


def _agent(discrete=True, act_dims=2, norm_enabled=False):
    act_space = gym.spaces.Discrete(4) if discrete else gym.spaces.Box(-1, 1, (act_dims,), np.float32)
    return SimpleNamespace(actor=SimpleNamespace(discrete=discrete), act_space=act_space,
                           obs_norm=ObsNormalizer((3,), norm_enabled))


def _feed(watch, rows, batch=None):
    out = []
    for row in rows:
        out += watch.observe(row, batch)
    return out


def _collapse(n=40, h0=1.386, h_end=0.02, accepted=0):
    """Entropy falling geometrically from h0 to h_end over n iterations, steps accepted or not."""
    hs = np.geomspace(h0, h_end, n)
    return [{"entropy": float(h), "step_accepted": accepted} for h in hs]


def test_entropy_collapse_fires_once_on_a_constructed_collapse():
    watch = RunWatch(CFG, _agent())
    msgs = _feed(watch, _collapse() + _collapse(h0=0.01, h_end=0.001))
    collapse = [m for m in msgs if "entropy collapsed" in m]
    assert len(collapse) == 1 and "rejected 10 of the last 10 steps" in collapse[0]
    assert "entropy_coef" in collapse[0] and "entropy_collapse" in watch.fired


def test_entropy_collapse_fires_at_the_first_iteration_it_holds():
    watch = RunWatch(CFG, _agent())
    rows = [{"entropy": 1.386, "step_accepted": 1}] * 5 + [{"entropy": 0.05, "step_accepted": 0}] * 12
    fired_at = [i for i, r in enumerate(rows) if any("entropy collapsed" in m for m in watch.observe(r))]
    # below 5% of 1.386 from row 5 on; a full window of 10 steps with half of them rejected: row 9
    assert fired_at == [REJECT_WINDOW - 1]


def test_entropy_collapse_is_silent_while_the_line_search_accepts_or_the_entropy_is_healthy():
    watch = RunWatch(CFG, _agent())
    assert _feed(watch, _collapse(accepted=1)) == []  # low entropy, but the steps still move the policy
    watch = RunWatch(CFG, _agent())
    healthy = [{"entropy": 1.386 * (0.6 + 0.4 * np.cos(i / 5) ** 2), "step_accepted": i % 3 != 0} for i in range(100)]
    assert _feed(watch, healthy) == []
    half = [{"entropy": 1.386, "step_accepted": 1}] + [{"entropy": 0.01, "step_accepted": i % 2} for i in range(30)]
    watch = RunWatch(CFG, _agent())
    assert len(_feed(watch, half)) == 1  # exactly half rejected counts as rejecting (<= 50% accepted)


def test_entropy_collapse_without_a_line_search_and_for_gaussians():
    watch = RunWatch(CFG, _agent())  # ppo / a2c rows carry no step_accepted: the entropy alone decides
    assert len(_feed(watch, [{"entropy": 1.0}, {"entropy": 0.5}, {"entropy": 0.04}])) == 1
    watch = RunWatch(CFG, _agent(discrete=False, act_dims=2))
    # Gaussian entropy per dimension is log std + const: a fall of log 20 per dimension is std / 20
    h0 = 2.84  # two dims, std 1
    rows = [{"entropy": h0, "step_accepted": 0}] + [{"entropy": h0 - 2 * np.log(10), "step_accepted": 0}] * 12
    assert _feed(watch, rows) == []  # std / 10: not yet
    rows = [{"entropy": h0 - 2 * np.log(25), "step_accepted": 0}] * 12
    msgs = _feed(watch, rows)
    assert len(msgs) == 1 and "action std fell 25x" in msgs[0]


def test_small_kl_fires_after_its_window_and_resets_on_a_real_step():
    watch = RunWatch(CFG, _agent())
    tiny = {"kl": 1e-6, "surrogate_gain": 1e-7, "entropy": 1.0, "step_accepted": 1}
    ok = {"kl": 0.008, "surrogate_gain": 0.01, "entropy": 1.0, "step_accepted": 1}
    assert _feed(watch, [tiny] * (SMALL_KL_ITERS - 1) + [ok] + [tiny] * (SMALL_KL_ITERS - 1)) == []
    msgs = _feed(watch, [tiny])
    assert len(msgs) == 1 and "mean KL per update stayed below 1% of max_kl" in msgs[0]
    assert _feed(watch, [tiny] * 50) == []  # once per run
    watch = RunWatch(CFG, _agent())
    rows = [{"kl": 1e-6, "entropy": 1.0}] * 50  # no surrogate_gain: not a trust-region learner
    assert not [m for m in _feed(watch, rows) if "max_kl" in m]  # (the first-order watch, policy_frozen, may fire)


def test_useless_critic_fires_after_grace_and_window():
    watch = RunWatch(CFG, _agent())
    rows = [{"explained_variance": 0.01}] * (EV_GRACE + EV_ITERS)
    fired_at = [i for i, r in enumerate(rows) if watch.observe(r)]
    assert fired_at == [EV_GRACE + EV_ITERS - 1] and "critic_useless" in watch.fired
    watch = RunWatch(CFG, _agent())
    good = [{"explained_variance": 0.01}] * EV_GRACE + [{"explained_variance": 0.6}] * 100
    assert _feed(watch, good) == []
    watch = RunWatch(CFG, _agent())
    flicker = [{"explained_variance": 0.01 if i % EV_ITERS else 0.5} for i in range(200)]
    assert _feed(watch, flicker) == []  # never 20 bad iterations in a row


def test_exploding_observations_fire_with_and_without_normalisation():
    agent = _agent(norm_enabled=True)
    agent.obs_norm.rms.update(np.array([[0.0, 1.0, 2.0], [1.0, 1e6, 3.0]]))
    watch = RunWatch(CFG, agent)
    msgs = _feed(watch, [{}])
    assert len(msgs) == 1 and "running std" in msgs[0] and "exploding_obs" in watch.fired
    agent = _agent(norm_enabled=True)
    agent.obs_norm.rms.update(np.random.default_rng(0).normal(size=(100, 3)))
    assert _feed(RunWatch(CFG, agent), [{}] * 5) == []
    agent = _agent(norm_enabled=False)
    big = SimpleNamespace(obs=torch.tensor([[1.0, -2 * OBS_STD_LIMIT, 0.0]]))
    msgs = _feed(RunWatch(CFG, agent), [{}], big)
    assert len(msgs) == 1 and "normalize_obs off" in msgs[0]
    frames = SimpleNamespace(obs=torch.full((2, 4, 8, 8), 255, dtype=torch.uint8))  # images: never
    assert _feed(RunWatch(CFG, agent), [{}], frames) == []


def test_disabled_watch_says_nothing():
    watch = RunWatch(CFG, _agent(), enabled=False)
    assert _feed(watch, _collapse()) == [] and watch.fired == []


@pytest.mark.parametrize("algo", ["trpo", "ppo", "a2c", "reinforce"])
def test_a_healthy_cartpole_run_fires_no_warning(tmp_path, capsys, algo):
    cfg = trpo.Config(env_id="CartPole-v1", algo=algo, total_steps=40_000, eval_periodic_episodes=0,
                      eval_episodes=10)
    res = trpo.train(cfg, run_dir=tmp_path / "cp", progress=False)
    summary = json.loads((tmp_path / "cp" / "summary.json").read_text())
    assert summary["warnings"] == [] and res.summary["warnings"] == []
    assert res.summary["final_eval_return_mean"] > LEARNED[algo]  # it learned: not silent because nothing happened
    assert "warning" not in capsys.readouterr().out.lower()


LEARNED = {"trpo": 150, "ppo": 150, "a2c": 100, "reinforce": 60}  # random play: ~22


def test_the_mean_action_falling_behind_sampling_warns_once_with_its_remedy():
    from types import SimpleNamespace

    from trpo.diagnostics import RunWatch

    agent = SimpleNamespace(actor=SimpleNamespace(discrete=False), obs_norm=SimpleNamespace(enabled=False),
                            act_space=SimpleNamespace(shape=(3,)))
    w = RunWatch(SimpleNamespace(max_kl=0.01), agent)
    row = {"eval_return_mean": 100.0, "eval_stochastic_return_mean": 3200.0}
    assert w._policy_modes(row) == []                         # once can be noise
    (msg,) = w._policy_modes(row)                              # twice in a row fires
    assert "clipped_action_logprob=true" in msg and "100.0" in msg and "3200.0" in msg
    assert w._policy_modes(row) == [] and w.fired == ["deterministic_worse"]  # once per run
    on = RunWatch(SimpleNamespace(max_kl=0.01, clipped_action_logprob=True), agent)  # already on: not offered
    (msg,) = [m for _ in range(2) for m in on._policy_modes(row)]
    assert "clipped_action_logprob" not in msg and "more training" in msg
    calm = RunWatch(SimpleNamespace(max_kl=0.01), agent)
    for det in (3100.0, 100.0, 3150.0, 90.0):                 # never twice in a row
        assert calm._policy_modes({"eval_return_mean": det, "eval_stochastic_return_mean": 3200.0}) == []
    noisy = RunWatch(SimpleNamespace(max_kl=0.01), agent, eval_episodes=5)  # early in training: noise
    for _ in range(3):
        assert noisy._policy_modes({"eval_return_mean": 14.0, "eval_return_std": 6.0,
                                    "eval_stochastic_return_mean": 23.2, "eval_stochastic_return_std": 12.0}) == []


def _metric_rows(path):
    import csv

    with open(path) as f:
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in r.items()} for r in csv.DictReader(f)]


def test_frozen_policy_fires_on_the_recorded_dead_pong_run_and_not_on_the_live_one():
    """The records of PPO on Pong (benchmarks/records/pong-ppo-small-cnn/): the small CNN's actor
    fell silent (KL per update ~1e-7 from iteration 36 on, entropy back at ln 6); the Nature
    network's kept moving."""
    from pathlib import Path

    from trpo.algos import ALGOS

    rec = Path(__file__).resolve().parents[1] / "benchmarks" / "records" / "pong-ppo-small-cnn"
    dead = _metric_rows(rec / "ppo_small_cnn_metrics.csv")
    watch = RunWatch(CFG, _agent(), algo=ALGOS["ppo"])
    fired_at = [int(r["iteration"]) for r in dead if any("policy stopped moving" in m for m in watch.observe(r))]
    first_tiny = next(int(r["iteration"]) for i, r in enumerate(dead) if all(x["kl"] < FROZEN_KL for x in dead[i:]))
    assert fired_at == [first_tiny + FROZEN_ITERS - 1] and "policy_frozen" in watch.fired
    watch = RunWatch(CFG, _agent(), algo=ALGOS["ppo"])
    assert not [m for m in _feed(watch, _metric_rows(rec / "ppo_nature_metrics.csv")) if "stopped moving" in m]


def test_frozen_policy_is_silent_where_a_still_policy_is_expected():
    from trpo.algos import ALGOS

    start = [{"kl": 1e-3, "entropy": 1.79, "lr": 2.5e-4}]
    still = [{"kl": 1e-7, "entropy": 1.79, "lr": 2.5e-4}] * (FROZEN_ITERS + 5)
    assert len(_feed(RunWatch(CFG, _agent(), algo=ALGOS["ppo"]), start + still)) == 1  # the failure itself
    assert len(_feed(RunWatch(CFG, _agent(), algo=ALGOS["a2c"]), start + still)) == 1
    converged = [{"kl": 1e-7, "entropy": 0.5, "lr": 2.5e-4}] * 50  # near-deterministic: small KL is expected
    assert _feed(RunWatch(CFG, _agent(), algo=ALGOS["ppo"]), start + converged) == []
    annealed = [{"kl": 1e-7, "entropy": 1.79, "lr": 2e-5}] * 50  # the last 10% of an annealed lr
    assert _feed(RunWatch(CFG, _agent(), algo=ALGOS["ppo"]), start + annealed) == []
    trust = [{"kl": 1e-7, "entropy": 1.79, "surrogate_gain": 1e-9, "step_accepted": 1}] * 50
    assert not [m for m in _feed(RunWatch(CFG, _agent(), algo=ALGOS["trpo"]), trust) if "stopped moving" in m]
    gaussian = [{"kl": 1e-7, "entropy": 2.8, "lr": 3e-4}] * 50  # the log-std always gets a gradient
    assert _feed(RunWatch(CFG, _agent(discrete=False), algo=ALGOS["ppo"]), gaussian) == []
    flicker = [{"kl": 1e-7 if i % FROZEN_ITERS else 1e-3, "entropy": 1.79, "lr": 2.5e-4} for i in range(200)]
    assert _feed(RunWatch(CFG, _agent(), algo=ALGOS["ppo"]), start + flicker) == []  # never 20 in a row


def test_frozen_policy_reads_the_configured_lr_and_the_uniform_entropy_after_a_resume():
    """A resumed run's watch starts afresh: its first rows may be late in an annealing or from a
    converged policy. The lr is the configured one and the entropy is measured against log n, so
    neither looks frozen; a NaN lr in a row is skipped."""
    from trpo.algos import ALGOS

    cfg = trpo.Config(env_id="CartPole-v1", lr=2.5e-4)
    six = SimpleNamespace(actor=SimpleNamespace(discrete=True), act_space=gym.spaces.Discrete(6),
                          obs_norm=ObsNormalizer((3,), False))
    late = [{"kl": 1e-7, "entropy": 1.7, "lr": 2e-5}] * 50  # 8% of the configured lr: the annealing's tail
    assert _feed(RunWatch(cfg, six, algo=ALGOS["ppo"]), late) == []
    converged = [{"kl": 1e-7, "entropy": 0.3, "lr": 2e-4}] * 50  # below half of log 6 from the first row on
    assert _feed(RunWatch(cfg, six, algo=ALGOS["ppo"]), converged) == []
    dead = [{"kl": 1e-7, "entropy": 1.79, "lr": 2e-4}] * FROZEN_ITERS
    assert len(_feed(RunWatch(cfg, six, algo=ALGOS["ppo"]), dead)) == 1
    nan_first = [{"kl": 1e-3, "entropy": 1.79, "lr": float("nan")}, *dead]
    assert len(_feed(RunWatch(trpo.Config(env_id="CartPole-v1"), six, algo=ALGOS["ppo"]), nan_first)) == 1
