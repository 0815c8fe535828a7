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
    cfg = Config(env_id="CartPole-v1", algo=algo, total_steps=steps, seed=seed, checkpoint_every=1000,
                 eval_periodic_episodes=0)
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
    cfg = Config(env_id="CartPole-v1", algo="a3c", num_envs=2, total_steps=100_000, seed=0, checkpoint_every=1000,
                 eval_periodic_episodes=0)
    ret = train(cfg, tmp_path / "a3c", progress=False).summary["final_eval_return_mean"]
    assert ret >= 100, f"a3c: final return {ret} after 100k steps (random ~22)"


def test_ppo_kl_keeps_what_it_learned(tmp_path):
    """ppo-kl once reached 500 on CartPole-v1 seed 0, then fell to 227 by 100k steps (its first
    update had KL 4.9: the penalty alone did not hold pi back). With the KL early stop of its
    epochs (algos/ppo.py, KL_STOP) the final policy keeps what the best evaluation saw: on at
    least 4 of seeds 0-4 the final evaluation is >= 475 and the largest per-update KL stays small."""
    import csv

    ok, seen = 0, []
    for seed in range(5):
        cfg = Config(env_id="CartPole-v1", algo="ppo-kl", total_steps=100_000, seed=seed, checkpoint_every=1000,
                 eval_periodic_episodes=0)
        res = train(cfg, tmp_path / f"s{seed}", progress=False)
        rows = list(csv.DictReader(open(tmp_path / f"s{seed}" / "metrics.csv")))
        max_kl = max(float(r["kl"]) for r in rows)
        final = res.summary["final_eval_return_mean"]
        seen.append((final, round(max_kl, 3)))
        ok += final >= 475 and max_kl < 0.2
        if ok >= 4:
            return
    pytest.fail(f"ppo-kl (final eval, max KL) per seed: {seen}; fewer than 4 of 5 kept >= 475")
