"""snapshot/restore: after restore, the same actions give bit-identical observations, rewards and
termination/truncation flags (against the recorded original trajectory), in each env family."""
import gymnasium as gym
import numpy as np
import pytest

from trpo.errors import EnvError
from trpo.envs.make import make_env
from trpo.envs.snapshot import register_snapshot, restore, snapshot, supports


def _is_plain(x) -> bool:
    if isinstance(x, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in x.items())
    if isinstance(x, (list, tuple)):
        return all(_is_plain(v) for v in x)
    return x is None or isinstance(x, (bool, int, float, str, np.ndarray))


def _play(env, actions):
    out = []
    for a in actions:
        obs, r, te, tr, _ = env.step(a)
        out.append((np.asarray(obs).copy(), float(r), bool(te), bool(tr)))
        if te or tr:
            break
    return out


def _assert_same(a, b):
    assert len(a) == len(b)
    for (o1, r1, te1, tr1), (o2, r2, te2, tr2) in zip(a, b):
        np.testing.assert_array_equal(o1, o2)
        assert (r1, te1, tr1) == (r2, te2, tr2)


def _roundtrip(env_id, warmup=5, horizon=20, **kw):
    env, fresh = make_env(env_id, **kw), make_env(env_id, **kw)
    env.reset(seed=1)
    fresh.reset(seed=123)
    env.action_space.seed(0)
    for _ in range(warmup):
        env.step(env.action_space.sample())
    s = snapshot(env)
    assert _is_plain(s)
    actions = [env.action_space.sample() for _ in range(horizon)]
    ref = _play(env, actions)
    env.reset()
    for _ in range(7):  # wander off
        out = env.step(env.action_space.sample())
        if out[2] or out[3]:
            env.reset()
    restore(env, s)
    _assert_same(_play(env, actions), ref)
    restore(fresh, s)  # another instance of the same env
    _assert_same(_play(fresh, actions), ref)
    # the env RNG is part of the state: the next reset is the same too
    restore(env, s)
    restore(fresh, s)
    np.testing.assert_array_equal(env.reset()[0], fresh.reset()[0])
    env.close()
    fresh.close()


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1", "Acrobot-v1", "MountainCar-v0",
                                    "MountainCarContinuous-v0"])
def test_classic_control_restore_is_exact(env_id):
    _roundtrip(env_id)


@pytest.mark.parametrize("env_id", ["InvertedPendulum-v5", "Hopper-v5", "Ant-v5"])
def test_mujoco_restore_is_exact(env_id):
    pytest.importorskip("mujoco")
    _roundtrip(env_id, warmup=3, horizon=10)


def test_ale_restore_is_exact():
    ale_py = pytest.importorskip("ale_py")
    gym.register_envs(ale_py)
    try:
        env = gym.make("ALE/Pong-v5")
        env.close()
    except Exception as e:  # no ROM
        pytest.skip(f"no ALE ROM available: {e}")
    # the preprocessed env (frame stack, max-pooling buffer) and ALE's RNG. Sticky actions off: ALE's
    # saved state lacks the last applied action a sticky action repeats (docs/vine.md)
    _roundtrip("ALE/Pong-v5", warmup=30, horizon=15, repeat_action_probability=0.0)


def test_time_limit_counter_is_restored():
    env = make_env("CartPole-v1", max_episode_steps=8)
    env.reset(seed=0)
    for _ in range(5):
        env.step(0 if _ % 2 else 1)
    s = snapshot(env)
    ref = _play(env, [1, 0, 1, 0, 1, 0])
    assert ref[-1][3] and len(ref) == 3  # truncated after 8 steps in all
    env.reset()
    restore(env, s)
    _assert_same(_play(env, [1, 0, 1, 0, 1, 0]), ref)


class _NoisyChain(gym.Env):
    """Uses np_random in step: the RNG state must come back with the snapshot."""
    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float64)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = 0.0
        return np.array([self.x]), {}

    def step(self, a):
        self.x += a + self.np_random.normal()
        return np.array([self.x]), float(self.x), False, False, {}


class _WithMethods(_NoisyChain):
    def get_snapshot(self):
        return {"x": self.x}

    def set_snapshot(self, s):
        self.x = s["x"]


class _Registered(_NoisyChain):
    pass


def test_unknown_env_has_a_clear_error_and_user_hooks_work():
    env = gym.wrappers.TimeLimit(_NoisyChain(), 50)
    assert not supports(env)
    with pytest.raises(EnvError, match="register_snapshot"):
        snapshot(env)
    for cls in (_WithMethods, _Registered):
        if cls is _Registered:
            register_snapshot(_Registered, lambda e: {"x": e.x}, lambda e, s: setattr(e, "x", s["x"]))
        env = gym.wrappers.TimeLimit(cls(), 50)
        assert supports(env)
        env.reset(seed=3)
        env.step(1)
        s = snapshot(env)
        ref = _play(env, [0, 1, 1])
        env.step(0)
        restore(env, s)
        _assert_same(_play(env, [0, 1, 1]), ref)


def test_restore_into_a_different_env_is_refused():
    a, b = make_env("CartPole-v1"), make_env("Pendulum-v1")
    a.reset(seed=0)
    b.reset(seed=0)
    with pytest.raises(EnvError, match="cannot be restored"):
        restore(b, snapshot(a))
