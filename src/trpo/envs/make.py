"""Making and checking environments (Gymnasium 1.x vector API, same-step autoreset).

``EnvSpec`` is the run's environment, resolved once (``trpo.resolve``): the id (or a user's env
factory), its ``gym.make`` kwargs, the Atari preprocessing switch and the vector-env backend.
Samplers, the evaluation and the checks make their envs from it, never from the config.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from trpo.envs.ids import is_atari, is_minatar, lookup
from trpo.envs.lean_sync import LeanSyncVectorEnv
from trpo.errors import ConfigError, EnvError


def atari_wrappers(env: gym.Env) -> gym.Env:
    """The DQN paper's preprocessing (Mnih et al. 2015; Machado et al. 2018 for the rest), by
    Gymnasium's wrappers: up to 30 no-op actions at reset, the action repeated for 4 frames with
    the max of the last two, 84x84 grayscale, the last 4 frames stacked -> uint8 (4, 84, 84).
    Rewards are not clipped (the reward scaler keeps them of order one, and returns stay game
    scores); a lost life does not end the episode; ALE v5's sticky actions (p = 0.25) stay."""
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84,
                                          terminal_on_life_loss=False, grayscale_obs=True, scale_obs=False)
    return gym.wrappers.FrameStackObservation(env, 4)


class MinAtarFrames(gym.ObservationWrapper):
    """MinAtar's observation (a bool (10, 10, C) grid, one channel per kind of object: paddle,
    ball, trail, bricks, ...; Young & Tian 2019) as an image the CNNs take: uint8 (C, 10, 10),
    channels first, 0 or 255 per cell. ``ImageTrunk`` scales by 1/255, so the network sees the
    grid's 0/1 values exactly; batches carry uint8 like Atari frames. Channels first because C
    runs up to 10 (Seaquest), where a channels-last (10, 10, 10) could not be told apart. Nothing
    else changes: MinAtar's own sticky actions (p = 0.1) and difficulty ramping stay, and there is
    no time limit beyond the game's own (Freeway: 2,500 frames)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        h, w, c = env.observation_space.shape  # type: ignore[misc]  # MinAtar: a (10, 10, C) Box
        self.observation_space = gym.spaces.Box(0, 255, (c, h, w), np.uint8)

    def observation(self, obs):
        return np.asarray(obs, bool).transpose(2, 0, 1) * np.uint8(255)  # a new (C, H, W) uint8 array


def minatar_wrappers(env: gym.Env) -> gym.Env:
    _register_minatar_snapshot()
    return MinAtarFrames(env)


def _register_minatar_snapshot() -> None:
    """Teach ``trpo.envs.snapshot`` MinAtar's env (vine sampling, exact resume): the game object's
    attributes (ints, bools, numpy grids, lists of entity lists) and its RandomState(s)."""
    from minatar.gym import BaseEnv

    from trpo.envs.snapshot import register_snapshot

    register_snapshot(BaseEnv, _minatar_get, _minatar_set)  # idempotent


def _tree(v: Any) -> Any:
    """A deep copy of plain data as JSON-able values and numpy arrays (tuples and dicts marked)."""
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, list):
        return [_tree(x) for x in v]
    if isinstance(v, tuple):
        return {"tuple": [_tree(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": {str(k): _tree(x) for k, x in v.items()}}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise EnvError(f"cannot snapshot a MinAtar game attribute of type {type(v).__name__}")


def _untree(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, list):
        return [_untree(x) for x in v]
    if isinstance(v, dict):
        return tuple(_untree(x) for x in v["tuple"]) if "tuple" in v else {k: _untree(x) for k, x in v["dict"].items()}
    return v


def _minatar_get(env) -> dict:
    game = env.game  # minatar.Environment: sticky actions; game.env: the game itself
    inner = game.env
    shared = inner.random is game.random  # after seed(): one RandomState for both
    return {"game": _tree({k: v for k, v in vars(inner).items() if k != "random"}),
            "last_action": int(game.last_action), "rng": game.random.get_state(legacy=False),
            "game_rng": None if shared else inner.random.get_state(legacy=False)}


def _minatar_set(env, s: dict) -> None:
    game = env.game
    inner = game.env
    for k, v in _untree(s["game"]).items():
        setattr(inner, k, v)
    game.last_action = s["last_action"]
    game.random.set_state(s["rng"])
    if s["game_rng"] is None:
        inner.random = game.random
    else:
        if inner.random is game.random:
            inner.random = np.random.RandomState()
        inner.random.set_state(s["game_rng"])


@contextmanager
def _env_errors(env_id: str):
    """Gymnasium's errors while making ``env_id`` -> one-line ``EnvError``s."""
    try:
        yield
    except gym.error.DependencyNotInstalled as e:
        raise EnvError(f"environment '{env_id}' needs a missing dependency: {e}") from None
    except gym.error.Error as e:
        raise EnvError(f"cannot make environment '{env_id}': {e}") from None
    except TypeError as e:  # e.g. an env_kwargs key the env does not take
        raise EnvError(f"cannot make environment '{env_id}': {str(e).splitlines()[0]}") from None


def make_env(env_id: str, atari_preprocessing: bool = True, **kwargs) -> gym.Env:
    """One environment, with a clear error for unknown ids or missing extras. ALE ids get
    ``atari_wrappers`` unless ``atari_preprocessing`` is False (the frame skip moves into the
    wrapper: the env itself is made with ``frameskip=1``); MinAtar ids always get
    ``MinAtarFrames`` (their bool grids as uint8 images)."""
    name = lookup(env_id)
    atari = atari_preprocessing and is_atari(env_id)
    with _env_errors(env_id):
        env = gym.make(name, **({"frameskip": 1} if atari else {}), **kwargs)  # type: ignore[arg-type]  # env kwargs
        if is_minatar(env_id):
            return minatar_wrappers(env)
        return atari_wrappers(env) if atari else env


def make_vector_env(env_id: str, num_envs: int, mode: str = "sync", atari_preprocessing: bool = True,
                    env_kwargs: dict | None = None) -> gym.vector.VectorEnv:
    """N copies of the env in one process (``sync``), in subprocesses (``async``), in EnvPool
    (``envpool``, see ``trpo.envs.envpool_env``) or as one array-at-once env
    (``vector_entry_point``: Gymnasium's CartPole, see ``trpo.envs.vector_cartpole``).
    ``mode`` is concrete (``trpo.resolve`` turns ``auto`` into one of these).

    Same-step autoreset: when an episode ends at step t the returned observation is already the
    reset one and the final observation is in ``info["final_obs"]`` — so no step of the batch is
    a dummy reset step, and a truncated step can bootstrap from its final observation.
    """
    name = lookup(env_id)
    env_kwargs = dict(env_kwargs or {})
    if mode in ("envpool", "vector_entry_point") and env_kwargs:
        raise EnvError(f"vector_mode '{mode}' takes no env_kwargs; use 'sync' or 'async'")
    if mode == "envpool":  # EnvPool's C++ thread pool, adapted to same-step autoreset
        from trpo.envs.envpool_env import EnvPoolVectorEnv
        return EnvPoolVectorEnv(name, num_envs)  # type: ignore[return-value]  # VectorEnv's interface, duck-typed
    if mode == "vector_entry_point":  # Gymnasium's numpy CartPole, adapted to same-step autoreset
        from trpo.envs.vector_cartpole import VectorCartPole, has_vector_cartpole
        if not has_vector_cartpole(name):
            raise EnvError(f"vector_mode 'vector_entry_point' supports Gymnasium's CartPole ids only, "
                           f"not '{env_id}'; use 'sync' or 'async'")
        return VectorCartPole(name, num_envs)  # type: ignore[return-value]  # VectorEnv's interface, duck-typed
    if mode not in ("sync", "async", "split"):
        raise EnvError(f"unknown vector_mode {mode!r}")
    atari = atari_preprocessing and is_atari(env_id)
    extra = ({"wrappers": [atari_wrappers], "frameskip": 1} if atari else
             {"wrappers": [minatar_wrappers]} if is_minatar(env_id) else {})

    def make(n: int, how: str) -> gym.vector.VectorEnv:
        with _env_errors(env_id):
            envs = gym.make_vec(name, num_envs=n, vectorization_mode=how,
                                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **extra, **env_kwargs)
        return LeanSyncVectorEnv.of(envs) if how == "sync" else envs
    if mode == "split":  # sync slices, one here and one per other core (trpo.envs.split)
        from trpo.envs.split import SplitVectorEnv, default_helpers
        return SplitVectorEnv(lambda n: make(n, "sync"), num_envs, default_helpers(num_envs))
    return make(num_envs, mode)


class UserVectorEnv(gym.vector.VectorEnv):
    """A user's ``gymnasium.vector.VectorEnv`` (from ``env_fn``) as trpo's samplers step it:
    same-step autoreset (the reset observation returned at once, the final one in
    ``info["final_obs"]``). A vector env made with ``AutoresetMode.SAME_STEP`` passes through; one
    with ``NEXT_STEP`` (Gymnasium's default) or ``DISABLED`` has the envs whose episode ended
    reset at once by ``reset(options={"reset_mask": ...})`` (Gymnasium >= 1.1; a vector env of
    one's own must honour it), so that no step of a batch is a no-op reset step.

    It shows no sub-envs (no ``envs``, no snapshots): what the user's vector env holds besides its
    envs (wrappers' statistics, its own buffers) cannot be saved, so trpo never claims to."""

    def __init__(self, env: gym.vector.VectorEnv):
        self.env = env
        self.num_envs = env.num_envs
        self.single_observation_space, self.single_action_space = env.single_observation_space, env.single_action_space
        self.observation_space, self.action_space = env.observation_space, env.action_space
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        self.same_step = mode in (AutoresetMode.SAME_STEP, AutoresetMode.SAME_STEP.value)
        self.metadata = {**env.metadata, "autoreset_mode": AutoresetMode.SAME_STEP}
        self.render_mode = getattr(env, "render_mode", None)

    def reset(self, *, seed=None, options=None):
        return self.env.reset(seed=seed, options=options)

    def reset_envs(self, mask: np.ndarray):
        """Reset the envs ``mask`` marks (the others keep their episodes); the new observations."""
        return self.env.reset(options={"reset_mask": np.asarray(mask, np.bool_)})[0]

    def step(self, actions):
        obs, r, term, trunc, info = self.env.step(actions)
        done = np.asarray(term) | np.asarray(trunc)
        if self.same_step or not done.any():
            return obs, r, term, trunc, info
        final = np.empty(self.num_envs, object)
        for i in np.flatnonzero(done):
            final[i] = np.array(obs[i], copy=True)
        info = {**info, "final_obs": final, "_final_obs": done.copy()}
        return self.reset_envs(done), r, term, trunc, info

    def close(self, **kwargs):
        self.env.close(**kwargs)


@dataclass(frozen=True)
class EnvSpec:
    """The run's environment. ``env_fn`` (``trpo.train(cfg, env_fn=...)``): a user's factory of
    one env, used instead of the id everywhere (vector envs are ``sync``/``async`` copies of it),
    or of a ``gymnasium.vector.VectorEnv``. ``from_config`` calls it once to see which (and keeps
    the spaces). ``vector``: the number of envs in the user's VectorEnv, 0 when ``env_fn`` makes
    one env (or there is none).

    A user's VectorEnv is stepped as it is (``UserVectorEnv``): its ``num_envs`` must equal the
    run's ``num_envs``; there is no single env (``make`` refuses), so the checks, the initial report
    and the evaluation run on a fresh VectorEnv from ``env_fn`` (``Agent.evaluate``), and nothing
    that needs one env or per-env snapshots runs with it (vine sampling, Ray and a3c workers,
    videos: ``trpo.resolve`` refuses them; a resume starts from freshly reset envs)."""

    env_id: str
    kwargs: dict = field(default_factory=dict)
    atari_preprocessing: bool = True
    vector_mode: str = "sync"
    env_fn: Callable[..., Any] | None = None  # -> gym.Env, or gym.vector.VectorEnv (``vector``)
    vector: int = 0
    _spaces: tuple | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_config(cls, cfg, env_fn: Callable[[], gym.Env] | None = None) -> EnvSpec:
        vector, spaces = 0, None
        if env_fn is not None:  # one call: one env or a VectorEnv?
            probe = env_fn()
            try:
                if isinstance(probe, gym.vector.VectorEnv):
                    vector, spaces = probe.num_envs, (probe.single_observation_space, probe.single_action_space)
                elif isinstance(probe, gym.Env):
                    spaces = (probe.observation_space, probe.action_space)
            finally:
                if isinstance(probe, (gym.Env, gym.vector.VectorEnv)):
                    probe.close()
        return cls(cfg.env_id, dict(cfg.env_kwargs), cfg.atari_preprocessing, cfg.vector_mode, env_fn, vector, spaces)

    def make(self, **extra: Any) -> gym.Env:
        """One env (``extra``: e.g. ``render_mode`` for videos)."""
        if self.vector:
            raise EnvError(f"env_fn makes a gymnasium VectorEnv of {self.vector} envs: there is no single env "
                           "to make (return one env from env_fn for this)")
        if self.env_fn is not None:
            env = self.env_fn(**extra) if extra else self.env_fn()
            if not isinstance(env, gym.Env):
                raise EnvError(f"env_fn returned {type(env).__name__}, not a gymnasium.Env")
            return env
        return make_env(self.env_id, self.atari_preprocessing, **self.kwargs, **extra)

    def make_vector(self, num_envs: int, mode: str | None = None) -> gym.vector.VectorEnv:
        mode = mode or self.vector_mode
        if self.vector and self.env_fn is not None:
            envs = self.env_fn()
            if not isinstance(envs, gym.vector.VectorEnv):
                raise EnvError(f"env_fn returned {type(envs).__name__}, not a gymnasium VectorEnv as before")
            if envs.num_envs != num_envs:
                envs.close()
                raise ConfigError(f"env_fn's VectorEnv has {envs.num_envs} envs but num_envs = {num_envs}: "
                                  f"set num_envs = {envs.num_envs}")
            return UserVectorEnv(envs)
        if self.env_fn is not None:
            if mode not in ("sync", "async"):
                raise EnvError(f"an env_fn env runs with vector_mode 'sync' or 'async', not {mode!r}")
            cls = LeanSyncVectorEnv if mode == "sync" else gym.vector.AsyncVectorEnv
            return cls([self.env_fn] * num_envs, autoreset_mode=AutoresetMode.SAME_STEP)
        return make_vector_env(self.env_id, num_envs, mode, self.atari_preprocessing, self.kwargs)

    def spaces(self) -> tuple[gym.Space, gym.Space]:
        """(observation space, action space) of one env (made and closed; those ``from_config``
        saw, for an ``env_fn``)."""
        if self._spaces is not None:
            check_spaces(self.env_id, *self._spaces)
            return self._spaces
        env = self.make()
        try:
            check_spaces(self.env_id, env.observation_space, env.action_space)
            return env.observation_space, env.action_space
        finally:
            env.close()


def check_spaces(env_id: str, obs_space: gym.Space, act_space: gym.Space) -> None:
    """The spaces trpo supports, with a message that names the offending space."""
    if not (isinstance(obs_space, gym.spaces.Box) and np.issubdtype(obs_space.dtype, np.number)):
        raise EnvError(f"environment '{env_id}': unsupported observation space {obs_space} (need a numeric Box)")
    ok = (isinstance(act_space, gym.spaces.Discrete)
          or (isinstance(act_space, gym.spaces.MultiDiscrete) and act_space.nvec.ndim == 1)
          or (isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1
              and np.issubdtype(act_space.dtype, np.floating)))
    if not ok:
        raise EnvError(f"environment '{env_id}': unsupported action space {act_space} "
                       "(need Discrete, 1-D MultiDiscrete or 1-D float Box)")


# Registered by the packages whose own test suites run Gymnasium's env checker on every env they
# ship (Gymnasium's tests/envs, ale_py's registration tests): the checker would repeat them at
# every start (about 1 s per Atari game: each seeded reset reloads its ROM)
CHECKED_UPSTREAM = ("gymnasium.envs.", "ale_py.")


def checked_upstream(env_id: str) -> bool:
    """The id is one Gymnasium or ALE registers (its entry point lives in their packages)."""
    try:
        entry = gym.spec(env_id).entry_point
    except gym.error.Error:
        return False
    return isinstance(entry, str) and entry.startswith(CHECKED_UPSTREAM)


def check_env(env: EnvSpec | str, atari_preprocessing: bool = True) -> None:
    """trpo's own checks (spaces; reset and step: tuple length, observation shape, dtype, bounds,
    finiteness, reward), then Gymnasium's env checker, except on the envs Gymnasium and ALE ship
    (``checked_upstream``: their maintainers run the checker on them). Our checks run first:
    their messages name the exact problem."""
    from gymnasium.utils.env_checker import check_env as gym_check_env

    spec = env if isinstance(env, EnvSpec) else EnvSpec(env, atari_preprocessing=atari_preprocessing)
    env_id = spec.env_id
    if spec.vector:
        return _check_vector_env(spec)
    made = spec.make()
    try:
        check_spaces(env_id, made.observation_space, made.action_space)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base = made.unwrapped  # the env itself: wrappers would fail on a bad step() first
            out = base.reset(seed=0)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise EnvError(f"environment '{env_id}': reset() must return (obs, info)")
            validate_step(env_id, base.observation_space, out[0], 0.0, "reset")  # type: ignore[arg-type]  # checked: a Box
            made.action_space.seed(0)
            for t in range(5):
                out = base.step(made.action_space.sample())  # type: ignore[assignment]  # reset's pair, then step's 5
                if len(out) != 5:
                    raise EnvError(f"environment '{env_id}': step() returned {len(out)} values; Gymnasium 1.x "
                                   "envs return (obs, reward, terminated, truncated, info)")
                obs, reward, term, trunc, _ = out
                validate_step(env_id, base.observation_space, obs, reward, f"step {t + 1}")
                if term or trunc:
                    base.reset()
            if spec.env_fn is None and is_minatar(env_id):
                # MinAtar's reset(seed) seeds the game's own RandomState (its runs repeat: our
                # checks above and tests/rollout/test_minatar.py) but not Gymnasium's np_random,
                # which Gymnasium's checker demands of every env: a false alarm, skipped
                return
            if spec.env_fn is None and checked_upstream(env_id):
                return
            try:
                gym_check_env(made.unwrapped, skip_render_check=True)
            except Exception as e:  # noqa: BLE001 - the checker raises AssertionError and others
                raise EnvError(f"environment '{env_id}' fails Gymnasium's env checker: "
                               f"{str(e).splitlines()[0]}") from None
    finally:
        made.close()


def _check_vector_env(spec: EnvSpec) -> None:
    """``check_env`` for a user's VectorEnv: the spaces, then reset and 5 random steps, each env's
    observation and reward checked as one env's would be. Gymnasium's env checker takes one env:
    it does not run (check the env your VectorEnv is made of with ``trpo.envs.make.check_env``)."""
    envs = spec.make_vector(spec.vector)
    try:
        check_spaces(spec.env_id, envs.single_observation_space, envs.single_action_space)
        space = cast(gym.spaces.Box, envs.single_observation_space)  # check_spaces: a numeric Box
        obs, _ = envs.reset(seed=0)
        for i in range(envs.num_envs):
            validate_step(spec.env_id, space, obs[i], 0.0, f"reset (env {i})")
        envs.action_space.seed(0)
        for t in range(5):
            obs, reward, _, _, _ = envs.step(envs.action_space.sample())
            for i in range(envs.num_envs):
                validate_step(spec.env_id, space, obs[i], reward[i], f"step {t + 1} (env {i})")
    finally:
        envs.close()


def validate_step(env_id: str, space: gym.spaces.Box, obs, reward, where: str = "step") -> None:
    """One observation and reward against the observation space: shape, dtype, finite, bounds."""
    obs = np.asarray(obs)
    if obs.shape != space.shape:
        raise EnvError(f"environment '{env_id}': {where} observation shape {obs.shape} != space shape {space.shape}")
    if obs.dtype != space.dtype:
        raise EnvError(f"environment '{env_id}': {where} observation dtype {obs.dtype} != space dtype {space.dtype}")
    if not np.all(np.isfinite(obs)):
        raise EnvError(f"environment '{env_id}': {where} observation is not finite (NaN or inf)")
    if not space.contains(obs):
        raise EnvError(f"environment '{env_id}': {where} observation is outside its observation space bounds "
                       f"[{space.low.min():g}, {space.high.max():g}]")
    try:
        r = np.asarray(reward, np.float64)
    except (TypeError, ValueError):
        raise EnvError(f"environment '{env_id}': {where} reward {reward!r} is not a number") from None
    if r.shape != () or not np.isfinite(r):
        raise EnvError(f"environment '{env_id}': {where} reward {reward!r} is not a finite scalar")
