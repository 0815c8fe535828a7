"""Learning thresholds on fixed seeds with the default configuration (slow: minutes on 2 cores)."""
import pytest

from trpo import Config, train


def eval_return(tmp_path, **kw):
    cfg = Config(eval_periodic_episodes=0, **kw)  # the final evaluation only (periodic ones leave training as it is)
    r = train(cfg, run_dir=tmp_path / f"{cfg.env_id}_{cfg.seed}", progress=False)
    assert r.summary["total_steps"] <= kw["total_steps"] + cfg.batch_steps
    return r.summary["final_eval_return_mean"]


@pytest.mark.slow
def test_trpo_solves_cartpole_within_100k_steps_on_2_of_3_seeds(tmp_path):
    results = {}
    for seed in (0, 1, 2):
        results[seed] = eval_return(tmp_path, env_id="CartPole-v1", total_steps=100_000, seed=seed)
        if sum(v >= 475 for v in results.values()) >= 2:
            break
    assert sum(v >= 475 for v in results.values()) >= 2, results


@pytest.mark.slow
def test_trpo_learns_pendulum_within_200k_steps(tmp_path):
    ret = eval_return(tmp_path, env_id="Pendulum-v1", total_steps=200_000, seed=0)
    assert ret >= -300, ret
