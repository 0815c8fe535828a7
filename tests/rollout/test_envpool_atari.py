"""EnvPool's Atari envs against the Python DQN preprocessing (``atari_wrappers``): same format
(uint8 (4, 84, 84), stacked frames, action space), the same pixels and rewards from the same ALE
state, episodes that end on game over only, truncation at 27,000 steps; ``auto`` picks EnvPool
for ALE v5 ids (and only where it may)."""
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ale_py")
pytest.importorskip("cv2")
pytest.importorskip("envpool")

from trpo.resolve import resolve_vector_mode  # noqa: E402
from trpo.envs.envpool_env import (ATARI_OPTIONS, EnvPoolVectorEnv, envpool_knows,  # noqa: E402
                                      envpool_task_id)
from trpo.envs.make import make_env, make_vector_env  # noqa: E402

ENV = "ALE/Pong-v5"


def test_ids_and_options_match_ale_v5():
    assert envpool_task_id("ALE/Pong-v5") == "Pong-v5" and envpool_task_id("Hopper-v5") == "Hopper-v5"
    assert envpool_knows("ALE/Pong-v5") and envpool_knows("ALE/MontezumaRevenge-v5")
    assert not envpool_knows("ALE/Pong-ram-v5")  # an older ale-py's RAM observations: not EnvPool's
    assert not envpool_knows("PongNoFrameskip-v4")  # v4 settings (no sticky actions): not EnvPool's v5
    envs = EnvPoolVectorEnv(ENV, 2, seed=0)
    try:
        cfg = envs._pool.config
        for k, v in ATARI_OPTIONS.items():
            assert cfg[k] == v, k
        assert cfg["repeat_action_probability"] == 0.25 and cfg["max_episode_steps"] == 27_000
        py = make_env(ENV)
        ale_kwargs = py.unwrapped.spec.kwargs
        assert ale_kwargs["repeat_action_probability"] == cfg["repeat_action_probability"]
        assert ale_kwargs["full_action_space"] == cfg["full_action_space"]
        assert ale_kwargs["max_num_frames_per_episode"] == cfg["max_episode_steps"] * cfg["frame_skip"]
        assert envs.single_observation_space == py.observation_space  # Box(0, 255, (4, 84, 84), uint8)
        assert envs.single_action_space == py.action_space             # Discrete(6): the minimal set
        py.close()
    finally:
        envs.close()


def test_vector_format_and_frame_stacking_match_the_python_pipeline():
    ep, py = make_vector_env(ENV, 3, "envpool"), make_vector_env(ENV, 3, "sync")
    try:
        for envs in (ep, py):
            obs, _ = envs.reset(seed=0)
            assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8
            assert all(np.array_equal(obs[i, 0], obs[i, 3]) for i in range(3))  # reset: the first frame, 4 times
            prev = obs
            for _ in range(5):
                obs, r, te, tr, info = envs.step(np.ones(3, np.int64))
                assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8 and r.shape == (3,)
                assert te.dtype == tr.dtype == np.bool_
                assert np.array_equal(obs[:, :3], prev[:, 1:])  # oldest first, newest last, shifted by one
                prev = obs
    finally:
        ep.close()
        py.close()


def _python_env(game):
    env = make_env(f"ALE/{game}-v5", repeat_action_probability=0.0)
    env.env.noop_max = 1  # AtariPreprocessing under the frame stack: exactly one no-op frame at reset
    return env


@pytest.mark.parametrize("game,steps", [("Breakout", 400), ("Pong", 300)])
def test_same_pixels_rewards_and_episode_end_from_the_same_ale_state(game, steps):
    """Sticky actions off and one no-op frame at reset: both pipelines run the same deterministic
    ALE game, so every frame, reward and end must agree. Breakout (5 lives) ends only on game over
    (a lost life does not end the episode in either) within these steps under this action sequence."""
    ep = EnvPoolVectorEnv(f"ALE/{game}-v5", 1, seed=0, noop_max=1, repeat_action_probability=0.0)
    py = _python_env(game)
    try:
        o1, _ = ep.reset()
        o2, _ = py.reset(seed=0)
        assert np.array_equal(o1[0], o2)
        rng = np.random.default_rng(0)
        ended = False
        for t in range(steps):
            a = int(rng.integers(py.action_space.n))
            o1, r1, te1, tr1, info = ep.step(np.array([a]))
            o2, r2, te2, tr2, _ = py.step(a)
            assert r1[0] == r2 and te1[0] == te2 and tr1[0] == tr2, t
            if te2 or tr2:  # EnvPool's row is already the next episode's; its last frame is final_obs
                assert np.array_equal(info["final_obs"][0], o2) and info["_final_obs"][0]
                assert np.array_equal(o1[0, 0], o1[0, 3])  # a reset stack
                ended = True
                break
            assert np.array_equal(o1[0], o2), t
        assert ended == (game == "Breakout")
    finally:
        ep.close()
        py.close()


def test_truncation_is_truncated_not_terminated_with_the_final_frame():
    envs = EnvPoolVectorEnv(ENV, 2, seed=1, max_episode_steps=20)
    try:
        envs.reset()
        for t in range(20):
            obs, r, te, tr, info = envs.step(np.zeros(2, np.int64))
        assert tr.all() and not te.any()
        assert info["_final_obs"].all() and info["final_obs"][0].shape == (4, 84, 84)
        assert not np.array_equal(info["final_obs"][0], obs[0])  # the row is the reset frame
    finally:
        envs.close()


def test_auto_picks_envpool_for_ale_v5_ids_only_where_it_may():
    assert resolve_vector_mode(ENV, "auto") == "envpool"
    assert resolve_vector_mode(ENV, "auto", atari_preprocessing=False) == "sync"  # raw frames: Gymnasium's env
    assert resolve_vector_mode(ENV, "auto", sampler="vine") == "sync"             # snapshots: in-process envs
    assert resolve_vector_mode(ENV, "auto", env_kwargs={"mode": 1}) == "sync"      # EnvPool takes no env kwargs
    assert resolve_vector_mode(ENV, "auto", custom_env=True) == "sync"
    assert resolve_vector_mode("PongNoFrameskip-v4", "auto") == "sync"
    assert resolve_vector_mode(ENV, "sync") == "sync"


def test_atari_ids_import_only_envpools_atari_registrations():
    code = """
import sys
from trpo.envs.ids import lookup
lookup("ALE/Pong-v5")
from trpo.envs.envpool_env import envpool_knows
assert envpool_knows("ALE/Pong-v5")
assert "envpool.entry" not in sys.modules and "envpool.mujoco.gym.registration" not in sys.modules
assert envpool_knows("Hopper-v5") and "envpool.entry" not in sys.modules  # the other light family, added
import envpool
assert "CartPole-v1" in envpool.list_all_envs()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_a_short_trpo_run_on_pong_trains_in_envpool(tmp_path):
    import trpo

    cfg = trpo.Config(env_id=ENV, total_steps=128, batch_steps=64, num_envs=2, eval_episodes=1,
                      eval_periodic_episodes=0, check_env=False)
    res = trpo.train(cfg, run_dir=tmp_path / "pong", progress=False)
    saved = trpo.load_toml(tmp_path / "pong" / "config.toml")
    assert saved.vector_mode == "envpool" and saved.preset == "atari" and saved.keep_freed_memory
    assert res.summary["total_steps"] >= 128 and res.summary["final_eval_return_mean"] >= -21


def test_ppo_on_atari_gets_cleanrls_settings():
    import trpo
    from trpo.resolve import resolve_run

    cfg, _ = resolve_run(trpo.Config(env_id=ENV, algo="ppo"))
    assert cfg.preset == "atari-ppo" and (cfg.num_envs, cfg.batch_steps, cfg.epochs, cfg.minibatch_size) == (8, 1024, 4, 256)
    assert (cfg.lr, cfg.clip_range, cfg.clip_value, cfg.entropy_coef) == (2.5e-4, 0.1, True, 0.01)
    assert cfg.cnn == "nature"  # CleanRL's network: the small TRPO-paper CNN's actor died under PPO on Pong
    assert cfg.shared_trunk  # CleanRL's one trunk: with two CNNs PPO's actor units fell silent on Pong
    cfg, _ = resolve_run(trpo.Config(env_id=ENV, algo="ppo", epochs=10))   # the user's key wins
    assert cfg.epochs == 10 and cfg.minibatch_size == 256
    from trpo.config import from_dict

    cfg, _ = resolve_run(from_dict({"env_id": ENV, "algo": "ppo", "shared_trunk": False}))
    assert not cfg.shared_trunk and cfg.cnn == "nature"  # given false: false, the rest of the preset stays
    cfg, _ = resolve_run(trpo.Config(env_id=ENV, algo="trpo"))
    assert not cfg.shared_trunk  # trpo's atari preset: its own critic fit, two networks

