"""env_fn may return a gymnasium VectorEnv: single-path sampling steps it as it is; vine, workers
and videos are refused with one line; a resume starts from fresh envs; evaluation runs on it."""
import gymnasium as gym
import numpy as np
import pytest

import trpo
from trpo.envs.make import EnvSpec, UserVectorEnv
from trpo.errors import ConfigError


def cartpoles(n=2, **kw):
    return lambda: gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * n, **kw)


@pytest.fixture
def cfg(tiny_cfg):
    return tiny_cfg.replace(env_id="my-cartpoles", eval_every=256, eval_periodic_episodes=2, eval_episodes=3)


@pytest.mark.parametrize("mode", [gym.vector.AutoresetMode.NEXT_STEP, gym.vector.AutoresetMode.SAME_STEP])
def test_the_adapter_gives_same_step_autoreset(mode):
    envs = UserVectorEnv(cartpoles(autoreset_mode=mode)())
    obs, _ = envs.reset(seed=0)
    ended, steps = 0, 0
    while ended < 3:
        obs, r, term, trunc, info = envs.step(np.ones(2, np.int64))  # always right: short episodes
        steps += 1
        assert np.all(r == 1.0)  # never a no-op reset step (NEXT_STEP's reward 0)
        for i in np.flatnonzero(term | trunc):
            ended += 1
            assert abs(info["final_obs"][i][2]) > 0.2 or abs(info["final_obs"][i][0]) > 2.4  # it fell
            assert np.all(np.abs(obs[i]) <= 0.05)  # the reset observation, returned at once
    assert steps < 30
    envs.close()


def test_training_on_a_user_vector_env(tmp_path, cfg, capsys):
    cfg = cfg.replace(check_env=True)  # the checks run on it
    res = trpo.train(cfg, run_dir=tmp_path / "r", env_fn=cartpoles())
    assert res.summary["total_steps"] == 512 and res.summary["final_eval_episodes"] == 3
    assert res.summary["final_eval_return_mean"] > 0 and res.summary["best_eval_return"] > 0
    assert "random policy: return" in capsys.readouterr().out  # the initial report ran on it
    mean, std, returns = res.agent.evaluate(5, seed=7)
    assert len(returns) == 5 and all(r > 0 for r in returns)
    assert res.agent.evaluate(5, seed=7) == (mean, std, returns)  # seeded: repeatable
    # resume: fresh envs, with the note
    trpo.train(cfg.replace(total_steps=768), resume=tmp_path / "r", env_fn=cartpoles(), progress=False)
    assert "resuming with freshly reset environments" in capsys.readouterr().out
    agent = trpo.load(tmp_path / "r", env_fn=cartpoles())
    assert agent.env.vector == 2 and len(agent.evaluate(3)[2]) == 3


def test_num_envs_must_match(tmp_path, cfg):
    with pytest.raises(ConfigError, match=r"VectorEnv of 3 envs but num_envs = 2: set num_envs = 3$"):
        trpo.train(cfg, run_dir=tmp_path / "r", env_fn=cartpoles(3), progress=False)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("change, match", [
    ({"sampler": "vine"}, r"^sampler 'vine' snapshots each env .*VectorEnv"),
    ({"algo": "a3c"}, r"^sampler 'async' \(algo 'a3c'\) makes an env in each worker"),
    ({"video_every": 2}, r"^config key 'video_every' records an episode of one env"),
])
def test_what_needs_one_env_is_refused_in_one_line(tmp_path, cfg, change, match):
    if "video_every" in change:
        pytest.importorskip("moviepy")
    with pytest.raises(ConfigError, match=match) as e:
        trpo.train(cfg.replace(**change), run_dir=tmp_path / "r", env_fn=cartpoles(), progress=False)
    assert "\n" not in str(e.value)


def test_a_spec_of_a_vector_env_has_no_single_env():
    spec = EnvSpec.from_config(trpo.Config(env_id="x"), cartpoles())
    assert spec.vector == 2 and spec.spaces()[0].shape == (4,)
    with pytest.raises(trpo.EnvError, match="no single env"):
        spec.make()
