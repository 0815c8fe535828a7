"""Learning tests of the policy-gradient family on CartPole-v1 (issue 3), default settings, fixed seeds.

* reinforce, a2c and pg-l2 improve far above random (a uniformly random policy scores ~22) within
  a shortened budget: >= 200 (deterministic final evaluation) after 50k / 50k / 30k env steps on
  seed 0. They all reach 500 within 100k steps on 3 of 3 seeds (docs/results/compare_CartPole-v1.md);
  the shorter budget keeps CI lean.
* npg, ppo-kl and ppo reach >= 475 within 100k steps on 2 of 3 seeds; the loop stops as soon as two
  seeds pass, so it costs two runs unless a seed fails. trpo's own test of the same criterion is in
  tests/learning/test_trpo_learning.py.

The configuration is that of ``trpo train CartPole-v1 --algo A --seed S --total-steps N`` (only
checkpoints are rarer), the runs of ``trpo compare`` (docs/results/README.md), whose table shows every
seed's value. Measured on seed 0: reinforce 389.3 (50k), a2c 310.7 (50k), pg-l2 500.0 (30k).
* a3c (2 Ray workers) is not repeatable run to run (asynchronous); three runs of the configuration
  below ended at 208, 184 and 279 after 100k steps, so the bar is >= 100 (random ~22).
"""
import pytest

from trpo import Config
from trpo.trainer import train

pytestmark = pytest.mark.slow


def _final(tmp_path, algo, seed, steps):
    cfg = Config(env_id="CartPole-v1", algo=algo, total_steps=steps, seed=seed, checkpoint_every=1000)
    return train(cfg, tmp_path / f"{algo}_{seed}", progress=False).summary["final_eval_return_mean"]


@pytest.mark.parametrize("algo,steps", [("reinforce", 50_000), ("a2c", 50_000), ("pg-l2", 30_000)])
def test_improves_far_above_random(tmp_path, algo, steps):
    ret = _final(tmp_path, algo, 0, steps)
    assert ret >= 200, f"{algo}: final return {ret} after {steps} steps (random ~22)"


@pytest.mark.parametrize("algo", ["npg", "ppo-kl", "ppo"])
def test_reaches_475_within_100k_on_two_of_three_seeds(tmp_path, algo):
    results = []
    for seed in range(3):
        results.append(_final(tmp_path, algo, seed, 100_000))
        if sum(r >= 475 for r in results) >= 2:
            return
    pytest.fail(f"{algo}: final returns {results}, fewer than 2 of 3 seeds >= 475")


def test_a3c_improves_far_above_random(tmp_path):
    pytest.importorskip("ray")
    cfg = Config(env_id="CartPole-v1", algo="a3c", num_envs=2, total_steps=100_000, seed=0, checkpoint_every=1000)
    ret = train(cfg, tmp_path / "a3c", progress=False).summary["final_eval_return_mean"]
    assert ret >= 100, f"a3c: final return {ret} after 100k steps (random ~22)"
