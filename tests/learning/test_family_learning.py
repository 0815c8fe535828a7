"""Learning tests of the policy-gradient family on CartPole-v1 (fixed seeds, default settings).

* every first-order / l2 method improves far above random (random CartPole: ~22);
* npg, ppo-kl and ppo reach >= 475 within 100k steps on 2 of 3 seeds (stopping once 2 pass;
  trpo's own learning test lives with the TRPO foundation tests).
"""
import pytest

from trpo import Config
from trpo.train import train

pytestmark = pytest.mark.slow


def _final(tmp_path, algo, seed, steps):
    cfg = Config(env_id="CartPole-v1", algo=algo, total_steps=steps, seed=seed, check_env=False,
                 checkpoint_every=1000, eval_episodes=10)
    return train(cfg, tmp_path / f"{algo}_{seed}", progress=False).summary["final_eval_return_mean"]


@pytest.mark.parametrize("algo", ["reinforce", "a2c", "pg-l2"])
def test_improves_far_above_random(tmp_path, algo):
    assert _final(tmp_path, algo, 0, 60_000) >= 150


@pytest.mark.parametrize("algo", ["npg", "ppo-kl", "ppo"])
def test_reaches_475_within_100k_on_two_of_three_seeds(tmp_path, algo):
    results = []
    for seed in range(3):
        results.append(_final(tmp_path, algo, seed, 100_000))
        if sum(r >= 475 for r in results) >= 2:
            return
    pytest.fail(f"{algo}: final returns {results}, fewer than 2 of 3 seeds >= 475")
