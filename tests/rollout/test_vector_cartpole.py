"""Gymnasium's array-at-once CartPole behind same-step autoreset (trpo.envs.vector_cartpole),
stepped against N ordinary CartPole-v1 envs in a SyncVectorEnv (the independent reference)."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import trpo
from trpo.envs.make import make_vector_env
from trpo.envs.vector_cartpole import VectorCartPole, has_vector_cartpole

N = 6


def _time_limit(env):
    while not isinstance(env, gym.wrappers.TimeLimit):
        env = env.env
    return env


def _copy_state_into(sync, vec, rows):
    """Put the sync envs' carts in the rows into the vector env's state (and step counters)."""
    for i in rows:
        sync.envs[i].unwrapped.state = vec.env.state[:, i].copy()
        _time_limit(sync.envs[i])._elapsed_steps = int(vec.env.steps[i])


def test_steps_like_cartpole_v1_with_same_step_autoreset():
    vec = VectorCartPole("CartPole-v1", N)
    sync = gym.make_vec("CartPole-v1", num_envs=N, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    obs_v, _ = vec.reset(seed=1)
    sync.reset(seed=2)
    _copy_state_into(sync, vec, range(N))
    vec.env.steps[0] = 495                      # env 0 reaches the 500-step limit: a truncation
    _time_limit(sync.envs[0])._elapsed_steps = 495
    rng = np.random.default_rng(0)
    seen_term = seen_trunc = 0
    for t in range(600):
        a = rng.integers(0, 2, N)
        obs_v, r_v, te_v, tr_v, info_v = vec.step(a)
        obs_s, r_s, te_s, tr_s, info_s = sync.step(a)
        np.testing.assert_array_equal(r_v, r_s)
        np.testing.assert_array_equal(te_v, te_s)
        np.testing.assert_array_equal(tr_v, tr_s)
        done = te_v | tr_v
        seen_term += int(te_v.sum())
        seen_trunc += int((tr_v & ~te_v).sum())
        np.testing.assert_allclose(obs_v[~done], obs_s[~done], rtol=1e-6, atol=1e-6)
        if done.any():
            np.testing.assert_array_equal(info_v["_final_obs"], done)
            for i in np.flatnonzero(done):  # the finished episode's last observation ...
                np.testing.assert_allclose(info_v["final_obs"][i], info_s["final_obs"][i], rtol=1e-6, atol=1e-6)
                # ... and a fresh start in the same step: state in [-0.05, 0.05], counter 0
                assert np.all(np.abs(obs_v[i]) <= 0.05) and vec.env.steps[i] == 0 and not vec.env.prev_done[i]
            _copy_state_into(sync, vec, np.flatnonzero(done))
        else:
            assert info_v == {}
        assert obs_v.dtype == np.float32 and obs_v.shape == (N, 4)
    assert seen_term > 10 and seen_trunc == 1


def test_snapshot_restores_the_exact_continuation():
    vec = VectorCartPole("CartPole-v1", N)
    vec.reset(seed=3)
    rng = np.random.default_rng(1)
    for _ in range(40):
        vec.step(rng.integers(0, 2, N))
    snap = vec.get_snapshot()
    actions = rng.integers(0, 2, (200, N))
    first = [vec.step(a) for a in actions]
    other = VectorCartPole("CartPole-v1", N)
    other.reset(seed=99)
    assert other.set_snapshot(snap)
    for a, (o, r, te, tr, info) in zip(actions, first):
        o2, r2, te2, tr2, info2 = other.step(a)
        np.testing.assert_array_equal(o, o2)
        np.testing.assert_array_equal(te | tr, te2 | tr2)
    assert not VectorCartPole("CartPole-v1", N + 1).set_snapshot(snap)  # another size: refused


def test_only_gymnasium_cartpole_ids_and_auto_picks_it():
    assert has_vector_cartpole("CartPole-v1") and has_vector_cartpole("CartPole-v0")
    assert not has_vector_cartpole("Acrobot-v1") and not has_vector_cartpole("Nope-v0")
    from trpo.resolve import resolve_vector_mode

    assert isinstance(make_vector_env("CartPole-v1", 4, resolve_vector_mode("CartPole-v1", "auto")), VectorCartPole)
    v0 = make_vector_env("CartPole-v0", 2, "vector_entry_point")
    assert v0.env.max_episode_steps == 200      # the spec's time limit reaches the vector env
    with pytest.raises(trpo.EnvError, match="CartPole ids only"):
        make_vector_env("Pendulum-v1", 2, "vector_entry_point")
