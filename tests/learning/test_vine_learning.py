"""Learning tests of TRPO with vine sampling (TRPO paper §5.2), fixed seeds, deterministic final
evaluation over 10 episodes. Every simulated step, branches included, counts in total_steps.

* CartPole-v1: all actions enumerated (eq. 15), 100-step branches, 1/4 of each 4096-step
  iteration on the trunk; >= 475 within 100k env steps.
* InvertedPendulum-v5: K = 4 draws from pi_old (eq. 16), 50-step branches; >= 950 within 100k.
"""
import pytest

from trpo import Config
from trpo.trainer import train

pytestmark = pytest.mark.slow


def _final(tmp_path, env_id, steps, **kw):
    cfg = Config(env_id=env_id, sampler="vine", total_steps=steps, seed=0, check_env=False, batch_steps=4096,
                 vine_trunk_fraction=0.25, checkpoint_every=1000, eval_episodes=10,
                 eval_periodic_episodes=0, **kw)
    return train(cfg, tmp_path / env_id, progress=False).summary["final_eval_return_mean"]


def test_vine_cartpole_reaches_475(tmp_path):
    assert _final(tmp_path, "CartPole-v1", 100_000, vine_branch_length=100) >= 475


def test_vine_inverted_pendulum_reaches_950(tmp_path):
    pytest.importorskip("mujoco")
    assert _final(tmp_path, "InvertedPendulum-v5", 100_000, vine_branch_length=50, vine_actions=4) >= 950
