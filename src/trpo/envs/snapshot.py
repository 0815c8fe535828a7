"""Environment snapshots: save and restore the full simulator state, through the wrappers.

    state = snapshot(env)      # a dict of JSON-able values and numpy arrays (no pickle, no objects)
    ...                        # step the env anywhere
    restore(env, state)        # the env is back: same next observation and reward for the same action

Vine sampling (TRPO paper §5.2) branches several rollouts from one state; exact resume saves the
envs in a checkpoint. Both need the *whole* state:

* every wrapper of the chain: TimeLimit's elapsed-step counter (it decides truncation),
  OrderEnforcing's ``_has_reset``, PassiveEnvChecker's flags, a frame stack's queue, and in
  general every scalar (bool / int / float / str / None) or numpy-array attribute of a wrapper and
  every list, tuple or deque of them;
* the base env's simulator state, by the first handler that applies, in this order:
    1. a handler registered with ``register_snapshot(EnvClass, get, set)`` (MRO lookup);
    2. the env's own ``get_snapshot() -> dict`` / ``set_snapshot(dict)`` methods;
    3. built in: classic control (CartPole, Pendulum, Acrobot, MountainCar, MountainCarContinuous),
       MuJoCo (``MujocoEnv``: integration state = time, qpos, qvel, act, warm start, ctrl, applied
       forces, mocap, plus the body/geom/site kinematics a reward may read before the next step),
       ALE (``AtariEnv``: ``ale.cloneState(include_rng=True)`` / ``restoreState``);
* the base env's ``np_random`` generator state (noise of the next reset or step).

An env none of these covers raises ``EnvError`` naming the class and the two ways to add it;
``supports(env)`` says so without raising. See docs/vine.md, "Snapshots of your own env".
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from trpo.errors import EnvError

__all__ = ["snapshot", "restore", "supports", "register_snapshot"]

Getter = Callable[[gym.Env], dict]
Setter = Callable[[gym.Env, dict], None]
_REGISTRY: dict[type, tuple[Getter, Setter]] = {}


def register_snapshot(env_class: type, get: Getter, set: Setter) -> None:
    """Teach ``snapshot``/``restore`` a base env class (and its subclasses).

    ``get(env) -> dict`` must return JSON-able values and numpy arrays only, copies not views;
    ``set(env, state)`` must put the simulator back exactly. The env's ``np_random`` and the
    wrappers are handled for you.
    """
    _REGISTRY[env_class] = (get, set)


# --- wrappers: their scalar and array attributes ---------------------------------------------
_SKIP = {"_saved_kwargs", "_action_space", "_observation_space", "_metadata", "_cached_spec"}


def _is_plain(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str, np.ndarray, np.generic))


def layers(env: gym.Env) -> list[gym.Env]:
    """The env and every env it wraps, outermost first (the base env last)."""
    out = [env]
    while isinstance(out[-1], gym.Wrapper):
        out.append(out[-1].env)
    return out


def _copy(v: Any) -> Any:
    return v.copy() if isinstance(v, np.ndarray) else v.item() if isinstance(v, np.generic) else v


def _wrapper_state(w: gym.Wrapper) -> dict:
    """Plain attributes as they are; lists, tuples and deques of plain values (a frame stack's
    queue, AtariPreprocessing's max-pool buffer) as {"seq": kind, "items": [...], "maxlen": n}."""
    out = {}
    for k, v in vars(w).items():
        if k in _SKIP:
            continue
        if _is_plain(v):
            out[k] = _copy(v)
        elif isinstance(v, (list, tuple, deque)) and all(_is_plain(x) for x in v):
            out[k] = {"seq": type(v).__name__, "items": [_copy(x) for x in v], "maxlen": getattr(v, "maxlen", None)}
    return out


def _restored(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, dict) and "seq" in v:
        items = [x.copy() if isinstance(x, np.ndarray) else x for x in v["items"]]
        return {"list": list, "tuple": tuple}.get(v["seq"], lambda xs: deque(xs, maxlen=v["maxlen"]))(items)
    return v


# --- base envs: built-in handlers -------------------------------------------------------------
def _attrs_handler(*names: str) -> tuple[Getter, Setter]:
    """Envs whose whole state is a few plain attributes (classic control)."""
    def get(env):  # numpy scalars travel as 0-d arrays (dtype kept), come back as scalars
        return {n: (np.array(v, copy=True) if isinstance(v, (np.ndarray, np.generic, list, tuple)) else v)
                for n in names for v in [getattr(env, n)]}

    def set(env, s):
        for n in names:
            v = s[n]
            if isinstance(v, np.ndarray):
                v = v[()] if v.ndim == 0 else np.array(v, copy=True)
            setattr(env, n, v)
    return get, set


# Integration state: everything mj_step reads (time, qpos, qvel, act, qacc_warmstart, ctrl,
# qfrc_applied, xfrc_applied, eq_active, mocap, userdata, plugin state).
_MJ_KINEMATICS = ("xpos", "xquat", "xmat", "xipos", "ximat", "xanchor", "xaxis", "geom_xpos", "geom_xmat",
                  "site_xpos", "site_xmat", "subtree_com", "cinert", "cdof", "cvel", "cacc", "cfrc_int",
                  "cfrc_ext", "sensordata")


def _mujoco_get(env) -> dict:
    import mujoco

    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    buf = np.empty(mujoco.mj_stateSize(env.model, spec), np.float64)
    mujoco.mj_getState(env.model, env.data, buf, spec)
    # After mj_step the kinematics lag the integrated qpos by one substep; a reward that reads
    # e.g. body positions before stepping (Ant, Humanoid) needs them exactly as they were.
    kin = {n: getattr(env.data, n).copy() for n in _MJ_KINEMATICS if hasattr(env.data, n)}
    return {"integration": buf, **{"kin_" + n: v for n, v in kin.items()}}


def _mujoco_set(env, s: dict) -> None:
    import mujoco

    mujoco.mj_setState(env.model, env.data, np.asarray(s["integration"], np.float64),
                       mujoco.mjtState.mjSTATE_INTEGRATION)
    mujoco.mj_forward(env.model, env.data)       # contacts and derived quantities, consistent
    for k, v in s.items():
        if k.startswith("kin_"):
            np.copyto(getattr(env.data, k[4:]), v)


def _ale_get(env) -> dict:
    raw = env.ale.cloneState(include_rng=True).serialize()
    return {"ale_state": np.frombuffer(raw, np.uint8).copy()}


def _ale_set(env, s: dict) -> None:
    import ale_py

    env.ale.restoreState(ale_py.ALEState(np.asarray(s["ale_state"], np.uint8).tobytes()))


def _builtin(base: gym.Env) -> tuple[Getter, Setter] | None:
    mod = type(base).__module__
    if mod.startswith("gymnasium.envs.classic_control"):
        names = {"CartPoleEnv": ("state", "steps_beyond_terminated"), "PendulumEnv": ("state", "last_u"),
                 "AcrobotEnv": ("state",), "MountainCarEnv": ("state",),
                 "Continuous_MountainCarEnv": ("state",)}.get(type(base).__name__)
        return _attrs_handler(*names) if names else None
    try:
        from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
        if isinstance(base, MujocoEnv):
            return _mujoco_get, _mujoco_set
    except ImportError:  # mujoco not installed
        pass
    if mod.startswith("ale_py") and hasattr(base, "ale"):
        return _ale_get, _ale_set
    return None


def _handler(base: gym.Env) -> tuple[Getter, Setter] | None:
    for cls in type(base).__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls]
    if callable(getattr(base, "get_snapshot", None)) and callable(getattr(base, "set_snapshot", None)):
        return type(base).get_snapshot, type(base).set_snapshot  # type: ignore[attr-defined]  # checked above
    return _builtin(base)


def supports(env: gym.Env) -> bool:
    """True when ``snapshot(env)`` / ``restore(env, s)`` know this env's simulator."""
    return _handler(env.unwrapped) is not None


def _require(env: gym.Env) -> tuple[Getter, Setter]:
    h = _handler(env.unwrapped)
    if h is None:
        cls = type(env.unwrapped)
        raise EnvError(f"cannot snapshot environment class {cls.__module__}.{cls.__name__}: give it "
                       "get_snapshot()/set_snapshot(state) methods or call "
                       "trpo.envs.snapshot.register_snapshot(EnvClass, get, set) (see docs/vine.md)")
    return h


def snapshot(env: gym.Env) -> dict:
    """The full state of ``env`` and all its wrappers: JSON-able values and numpy arrays only."""
    get, _ = _require(env)
    chain = layers(env)
    base = chain[-1]
    return {"env_class": f"{type(base).__module__}.{type(base).__name__}",
            "wrappers": [[type(w).__name__, _wrapper_state(w)] for w in chain[:-1]],  # type: ignore[arg-type]  # the wrappers
            "np_random": base.np_random.bit_generator.state,
            "np_random_seed": getattr(base, "_np_random_seed", None),
            "base": get(base)}


def restore(env: gym.Env, state: dict) -> None:
    """Put ``env`` (the same wrapper chain and env class) back to ``state`` from ``snapshot``."""
    _, set_ = _require(env)
    chain = layers(env)
    base = chain[-1]
    cls = f"{type(base).__module__}.{type(base).__name__}"
    names = [type(w).__name__ for w in chain[:-1]]
    if state.get("env_class") != cls or [n for n, _ in state["wrappers"]] != names:
        raise EnvError(f"snapshot of {state.get('env_class')} with wrappers {[n for n, _ in state['wrappers']]} "
                       f"cannot be restored into {cls} with wrappers {names}")
    for w, (_, attrs) in zip(chain[:-1], state["wrappers"]):
        for k, v in attrs.items():
            setattr(w, k, _restored(v))
        if isinstance(w, gym.wrappers.PassiveEnvChecker) and getattr(w, "_previous_data", None) is None:
            # its one-shot first-step checks compare against the previous obs/info objects, which a
            # snapshot does not hold: mark them done (they only warn, never change the dynamics)
            w.checked_step = w.checked_data_reuse = True
    base.np_random.bit_generator.state = state["np_random"]
    if state.get("np_random_seed") is not None:
        base._np_random_seed = state["np_random_seed"]
    set_(base, state["base"])
