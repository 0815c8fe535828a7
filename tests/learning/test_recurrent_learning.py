"""Learning with memory: trpo/CartPoleNoVelocity-v1 (CartPole-v1 without the velocities).

* trpo with ``policy = "gru"`` (the env's preset, cartpole-novelocity, otherwise; the numbers below
  were measured before the preset, which reaches 475 as fast: records/recurrent-keep-ent) reaches a periodic evaluation of >= 475 within
  100k steps on 2 of 3 seeds (it stops at the first such evaluation: ``stop_at_return``); measured
  here on seeds 0-2 at 20-30k steps (docs/results/recurrent.md has the 300k-step runs);
* the MLP policy with the same settings cannot: its best periodic evaluation over 60k steps stays
  below 150 (measured ~45-65: without velocities the current observation does not say which way
  the pole is falling).
"""
import pytest

from trpo import Config
from trpo.trainer import train

pytestmark = pytest.mark.slow


def _best(tmp_path, policy, seed, steps, algo="trpo"):
    cfg = Config(env_id="trpo/CartPoleNoVelocity-v1", algo=algo, policy=policy, total_steps=steps, seed=seed,
                 eval_every=5120, stop_at_return=475.0, checkpoint_every=1000, eval_episodes=10)
    return train(cfg, tmp_path / f"{policy}_{seed}", progress=False).summary["best_eval_return"]


def test_recurrent_trpo_reaches_475_on_two_of_three_seeds(tmp_path):
    results = []
    for seed in range(3):
        results.append(_best(tmp_path, "gru", seed, 100_000))
        if sum(r >= 475 for r in results) >= 2:
            return
    pytest.fail(f"trpo/gru: best periodic evaluations {results}, fewer than 2 of 3 seeds >= 475")


def test_the_mlp_policy_cannot(tmp_path):
    best = _best(tmp_path, "mlp", 0, 60_000)
    assert best < 150, f"the MLP policy reached {best} without velocities: the task would not need memory"
