"""The Python API: build a config in code, train, load, act."""
import numpy as np

import trpo


def test_config_train_load_act(tmp_path, tiny_cfg):
    result = trpo.train(tiny_cfg, run_dir=tmp_path / "r", progress=False)
    assert result.summary["total_steps"] == 512
    agent = trpo.load(tmp_path / "r")
    obs = np.zeros(4, np.float32)
    a = agent.act(obs)
    assert a in (0, 1)
    batch = agent.act(np.zeros((5, 4), np.float32))
    assert batch.shape == (5,)
    # the loaded agent acts exactly like the trained one
    for o in np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32):
        assert agent.act(o) == result.agent.act(o)
    mean, std, returns = agent.evaluate(episodes=2)
    assert len(returns) == 2 and mean == np.mean(returns)


def test_continuous_actions_are_clipped_to_the_box(tmp_path):
    cfg = trpo.Config(env_id="Pendulum-v1", total_steps=256, num_envs=2, batch_steps=128, check_env=False,
                      eval_episodes=1, log_std_init=2.0)
    agent = trpo.train(cfg, run_dir=tmp_path / "p", progress=False).agent
    acts = agent.act(np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32) * 5, deterministic=False)
    assert acts.shape == (50, 1) and np.all(np.abs(acts) <= 2.0)
