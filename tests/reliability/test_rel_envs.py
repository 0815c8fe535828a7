"""Environment validation before training, and NaN/inf fail-fast during it (injected bad envs)."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from trpo.cli import main
from trpo.errors import EnvError, NonFiniteError
from trpo.envs.make import check_env


class _Base(gym.Env):
    """A 2-D Box env; subclasses inject one fault (``bad_at``: the first bad step)."""

    bad_at = 0

    def __init__(self):
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def _obs(self):
        return np.zeros(2, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _reward(self):
        return 1.0

    def step(self, action):
        self.t += 1
        return self._obs(), self._reward(), self.t >= 20, False, {}


class NaNObs(_Base):
    def _obs(self):
        return np.full(2, np.nan if self.t > self.bad_at else 0.0, np.float32)


class NaNReward(_Base):
    def _reward(self):
        return float("nan") if self.t > self.bad_at else 1.0


class InfObsLate(NaNObs):
    bad_at = 60  # passes the pre-training checks, fails inside a batch

    def _obs(self):
        return np.full(2, np.inf if self.t > self.bad_at else 0.0, np.float32)

    def step(self, action):
        self.t += 1
        return self._obs(), 1.0, False, False, {}


class NaNRewardLate(InfObsLate):
    def _obs(self):
        return np.zeros(2, np.float32)

    def _reward(self):
        return float("nan") if self.t > self.bad_at else 1.0

    def step(self, action):
        self.t += 1
        return self._obs(), self._reward(), False, False, {}


class WrongDtype(_Base):
    def _obs(self):
        return np.zeros(2, np.float64)


class OutOfBounds(_Base):
    def _obs(self):
        return np.full(2, 5.0, np.float32)


class FourTuple(_Base):
    def step(self, action):
        self.t += 1
        return self._obs(), 1.0, self.t >= 20, {}


class DictObs(_Base):
    def __init__(self):
        super().__init__()
        self.observation_space = spaces.Dict({"a": spaces.Box(-1, 1, (2,), np.float32)})

    def _obs(self):
        return {"a": np.zeros(2, np.float32)}


class TupleObs(_Base):
    def __init__(self):
        super().__init__()
        self.observation_space = spaces.Tuple((spaces.Discrete(3),))

    def _obs(self):
        return (0,)


class Box2DAction(_Base):
    def __init__(self):
        super().__init__()
        self.action_space = spaces.Box(-1, 1, (2, 2), np.float32)


ENVS = {c.__name__: c for c in (NaNObs, NaNReward, InfObsLate, NaNRewardLate, WrongDtype, OutOfBounds,
                                 FourTuple, DictObs, TupleObs, Box2DAction)}
for _name, _cls in ENVS.items():
    if f"Rel{_name}-v0" not in gym.registry:
        gym.register(id=f"Rel{_name}-v0", entry_point=_cls, max_episode_steps=200)


def _cli(capsys, *argv):
    rc = main(["train", *argv, "--total-steps", "256", "--num-envs", "2", "--set", "batch_steps=64",
               "--set", "eval_episodes=1", "--quiet"])
    err = capsys.readouterr().err
    return rc, err


@pytest.mark.parametrize("name, pattern", [
    ("NaNObs", "not finite|NaN"), ("NaNReward", "reward .* not finite|reward"),
    ("WrongDtype", "dtype|float64"), ("OutOfBounds", "bounds|observation space"),
    ("FourTuple", "4 values|expected 5|step"),
    ("DictObs", "unsupported observation space Dict"), ("TupleObs", "unsupported observation space Tuple"),
    ("Box2DAction", r"unsupported action space Box\(-1.0, 1.0, \(2, 2\)"),
])
def test_bad_env_refused_before_training(name, pattern, tmp_path, capsys):
    env_id = f"Rel{name}-v0"
    with pytest.raises(EnvError, match=pattern):
        check_env(env_id)
    rc, err = _cli(capsys, env_id, "--run-dir", str(tmp_path / "run"))
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trpo: error:") and env_id in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "run" / "metrics.csv").exists()  # refused before any training


def test_unsupported_space_refused_even_without_checker(tmp_path, capsys):
    rc, err = _cli(capsys, "RelDictObs-v0", "--set", "check_env=false", "--run-dir", str(tmp_path / "r"))
    assert rc == 2 and "unsupported observation space Dict" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name, where", [("InfObsLate", "non-finite observation"),
                                         ("NaNRewardLate", "non-finite reward"),
                                         ("NaNObs", "non-finite observation"),
                                         ("NaNReward", "non-finite reward")])
def test_nan_during_training_stops_with_named_source(name, where, tmp_path, capsys):
    """The checker is off (or cannot see the fault): the sampler stops the run at the first bad value."""
    rc, err = _cli(capsys, f"Rel{name}-v0", "--set", "check_env=false", "--set", "checkpoint_every=1",
                   "--run-dir", str(tmp_path / "run"))
    assert rc == NonFiniteError.exit_code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and where in lines[0], err
    if name.endswith("Late"):  # 60 steps x 2 envs pass: the first batch (64 steps) is fine and saved
        assert "last good checkpoint" in lines[0]
        from trpo.checkpoint import load_checkpoint
        _, manifest = load_checkpoint(tmp_path / "run")
        assert manifest["counters"]["iteration"] == 1


def test_good_env_passes_checks():
    check_env("CartPole-v1")
    check_env("Pendulum-v1")


def test_gymnasium_checker_runs_except_on_the_envs_gymnasium_ships(monkeypatch):
    """Gymnasium's checker is skipped for the ids Gymnasium (and ALE) register, whose own test
    suites run it; a user's registered env still gets it, after trpo's own checks."""
    import gymnasium.utils.env_checker as checker

    from trpo.envs.make import checked_upstream

    calls = []
    monkeypatch.setattr(checker, "check_env", lambda env, **kw: calls.append(type(env).__name__))
    check_env("CartPole-v1")
    check_env("Pendulum-v1")
    assert calls == [] and checked_upstream("Hopper-v5") and not checked_upstream("trpo/CartPoleNoVelocity-v1")

    gym.register("TestMine-v0", entry_point=_Base, max_episode_steps=10)
    try:
        assert not checked_upstream("TestMine-v0")
        check_env("TestMine-v0")
        assert calls == ["_Base"]
    finally:
        gym.registry.pop("TestMine-v0")
