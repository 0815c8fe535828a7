"""LeanSyncVectorEnv (trpo.envs.lean_sync): the envs vector_mode "sync" steps. Against Gymnasium's own
SyncVectorEnv built the same way: the same observations, rewards, terminated and truncated arrays,
bit for bit, across episode ends and time limits, and the same final observations; info holds only
those. Other spaces fall back to Gymnasium's step."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from trpo.envs.lean_sync import LeanSyncVectorEnv
from trpo.envs.make import make_vector_env


def _gym(env_id, n, **kw):
    return gym.make_vec(env_id, num_envs=n, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **kw)


def _steps(envs, actions):
    out, finals = [envs.reset(seed=3)[0]], []
    for a in actions:
        obs, r, te, tr, info = envs.step(a)
        out.append((obs, r, te, tr))
        for i in np.flatnonzero(te | tr):
            finals.append((len(out), i, np.asarray(info["final_obs"][i])))
        assert set(info) <= {"final_obs", "_final_obs"} or type(envs) is gym.vector.SyncVectorEnv
        if (te | tr).any() and type(envs) is LeanSyncVectorEnv:
            assert np.array_equal(info["_final_obs"], te | tr)
    return out, finals


@pytest.mark.parametrize("env_id,n,kw", [("Hopper-v5", 2, {}), ("CartPole-v1", 3, {}),
                                         ("Pendulum-v1", 2, {"max_episode_steps": 50}),
                                         ("Acrobot-v1", 2, {"max_episode_steps": 40})])
def test_the_same_steps_as_gymnasium_bit_for_bit(env_id, n, kw):
    ref, lean = _gym(env_id, n, **kw), LeanSyncVectorEnv.of(_gym(env_id, n, **kw))
    assert type(lean) is LeanSyncVectorEnv and type(ref) is gym.vector.SyncVectorEnv
    ref.action_space.seed(1)
    actions = [ref.action_space.sample() for _ in range(600)]
    a, fa = _steps(ref, actions)
    b, fb = _steps(lean, actions)
    assert len(fa) == len(fb) > 0  # episodes ended (falls or time limits) inside the run
    for x, y in zip(a[1:], b[1:]):
        for u, v in zip(x, y):
            assert u.dtype == v.dtype and np.array_equal(u, v)
    assert all(t1 == t2 and i1 == i2 and np.array_equal(u, v) for (t1, i1, u), (t2, i2, v) in zip(fa, fb))


def test_returned_arrays_are_fresh():
    envs = make_vector_env("CartPole-v1", 2, "sync")
    assert type(envs) is LeanSyncVectorEnv
    envs.reset(seed=0)
    o1, r1, *_ = envs.step(np.array([0, 1]))
    keep = o1.copy(), r1.copy()
    envs.step(np.array([1, 0]))
    assert np.array_equal(o1, keep[0]) and np.array_equal(r1, keep[1])


def test_other_spaces_take_gymnasiums_step():
    envs = LeanSyncVectorEnv.of(_gym("Blackjack-v1", 2))  # a Tuple observation space
    envs.reset(seed=0)
    obs, *_ = envs.step(np.array([0, 0]))
    assert isinstance(obs, tuple)


def test_step_into_writes_what_step_returns_into_the_callers_rows():
    """``step_into`` (what the sampler's loop calls) is ``step`` without its copies and info dict:
    the same observations, rewards and flags in the caller's rows, the same final observations."""
    a, b = make_vector_env("Hopper-v5", 2, "sync"), make_vector_env("Hopper-v5", 2, "sync")
    assert a.steps_lean and b.steps_lean
    a.reset(seed=5), b.reset(seed=5)
    a.action_space.seed(2)
    obs, rew, te, tr = np.empty((2, 11)), np.empty(2), np.empty(2, bool), np.empty(2, bool)
    ended_seen = 0
    for _ in range(300):
        act = a.action_space.sample()
        o, r, t1, t2, info = a.step(act)
        ended = b.step_into(act, obs, rew, te, tr)
        assert np.array_equal(o, obs) and np.array_equal(r, rew) and np.array_equal(t1, te) and np.array_equal(t2, tr)
        assert [i for i, _ in ended] == list(np.flatnonzero(t1 | t2))
        for i, final in ended:
            assert np.array_equal(final, info["final_obs"][i])
        ended_seen += len(ended)
    assert ended_seen > 0  # random actions end Hopper's episodes within 300 steps


def test_the_samplers_loop_steps_a_lean_env_through_step_into(monkeypatch):
    from trpo.nets.normalize import ObsNormalizer
    from trpo.nets.policies import GaussianActor
    from trpo.nets.policy_runner import NumpyPolicy
    from trpo.rollout.single_path import run_slice

    calls = []
    real = LeanSyncVectorEnv.step_into
    monkeypatch.setattr(LeanSyncVectorEnv, "step_into", lambda self, *a: calls.append(1) or real(self, *a))
    monkeypatch.setattr(LeanSyncVectorEnv, "step", lambda self, a: pytest.fail("the loop called step"))
    envs = make_vector_env("Hopper-v5", 1, "sync")
    raw, _ = envs.reset(seed=0)
    policy = NumpyPolicy(GaussianActor(11, 3))
    out, last = run_slice(envs, 0, 1, 1, raw, policy, ObsNormalizer((11,), True),
                          policy.noise(np.random.default_rng(0), 50, 1), True)
    assert len(calls) == 50 and out["rews"].shape == (50, 1)
