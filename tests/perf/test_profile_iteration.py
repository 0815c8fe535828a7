"""benchmarks/profile_iteration.py (and bench_atari's breakdown, which calls it): the timed parts
of an iteration are the real code path's, none counted twice, they add up to the iteration, and
the library is left as it was."""
import importlib.util
from pathlib import Path

import pytest

from trpo.config import Config

SPEC = importlib.util.spec_from_file_location(
    "profile_iteration", Path(__file__).resolve().parents[2] / "benchmarks" / "profile_iteration.py")


@pytest.mark.parametrize("sampler", ["single-path", "vine"])
def test_breakdown_parts_add_up(sampler, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prof = importlib.util.module_from_spec(SPEC)
    SPEC.loader.exec_module(prof)
    # every function the timers wrap, as the library has it before the profile
    import trpo.algos.critic_process as CP
    import trpo.algos.trpo as T
    import trpo.algos.trust_region as TR
    import trpo.nets.policy_runner as PR
    import trpo.rollout.single_path as SP
    import trpo.rollout.vine as V
    from trpo.envs.make import EnvSpec
    owners = (CP.CriticFitProcess, T, T.TRPO, TR, PR.RecurrentPolicy, SP, SP.SinglePathSampler, V, V.VineSampler,
              EnvSpec)
    before = [dict(vars(o)) for o in owners]

    cfg = Config(env_id="CartPole-v1", sampler=sampler, batch_steps=512, num_envs=4, critic_fit="inline",
                 eval_periodic_episodes=0, eval_episodes=1, check_env=False)
    b = prof.breakdown(cfg, iters=2, warmup=1)
    assert b["iters"] == 2 and b["batch_steps"] == 512
    for part in ("sampling: env step", "sampling: policy inference", "update: Fisher-vector products (CG)",
                 "update: line search", "update: critic fit",
                 *(["update: GAE + critic values"] if sampler == "single-path" else [])):  # vine: rollout Q
        assert b["parts_ms"][part] > 0, part
    assert b["calls_per_iter"]["update: line search"] == 1.0
    assert sum(b["parts_ms"].values()) == pytest.approx(b["ms_per_iter"], rel=1e-9)
    assert sum(b["parts_cpu_ms"].values()) == pytest.approx(b["cpu_ms_per_iter"], rel=1e-9)
    assert "| **update (all)** |" in prof.table(b)
    assert [dict(vars(o)) for o in owners] == before  # the profile put every wrapped function back
