"""EnvPool behind the interface the samplers expect: a Gymnasium vector env with SAME-STEP autoreset.

EnvPool (``envpool.make_gymnasium``) steps all envs in a C++ thread pool, so its stepping runs
outside the GIL and on every core. Its autoreset is NEXT-STEP: the step after an episode ends
ignores the action and only returns the reset observation (reward 0). A sampler that trusted it
would record one dummy transition per episode. This adapter resets the finished envs at once
(``reset(env_ids)``, which EnvPool supports for a subset), returns the reset observation in their
row, and puts the last observation of the finished episode in ``info["final_obs"]`` — exactly what
``gym.vector`` gives with ``AutoresetMode.SAME_STEP``.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

import numpy as np

from trpo.errors import EnvError
from trpo.rollout.env_ids import is_gym_mujoco
from trpo.system import usable_cores

# EnvPool's registrations of Gymnasium's MuJoCo ids (the ones vector_mode = "auto" hands to EnvPool)
MUJOCO_REGISTRATION = "envpool.mujoco.gym.registration"


def envpool_available() -> bool:
    return importlib.util.find_spec("envpool") is not None


def registry(env_id: str | None = None):
    """EnvPool's registry (``list_all_envs``, ``make_gymnasium``), with ``env_id`` registered.

    ``import envpool`` imports the registrations of every env family EnvPool ships (Atari,
    Procgen, Jumanji, MyoSuite, ...): +105 MB of RSS and ~1.3 s here. For a Gymnasium MuJoCo id only
    ``envpool.mujoco.gym`` is needed (+9 MB): then the package is set up without running its
    ``__init__``, which runs in full the first time anything else asks the package for an
    attribute (``envpool.make``, ``from envpool import ...``), so other code in the process still
    sees all of EnvPool. Any other id, or an EnvPool laid out otherwise, takes ``import envpool``.
    """
    if "envpool" not in sys.modules and env_id is not None and is_gym_mujoco(env_id):
        try:
            _light_import()
        except Exception:  # noqa: BLE001 - another EnvPool layout: the full import below
            for m in [m for m in sys.modules if m == "envpool" or m.startswith("envpool.")]:
                del sys.modules[m]
    reg = sys.modules.get("envpool.registration")
    if reg is not None and env_id is not None and env_id in reg.list_all_envs():
        return reg
    import envpool

    envpool.list_all_envs  # noqa: B018 - after a light import: runs the package's __init__ (every family)
    return envpool


def _light_import() -> None:
    spec = importlib.util.find_spec("envpool")
    pkg = importlib.util.module_from_spec(spec)  # the package object; its __init__ not run yet

    def finish(name):  # PEP 562: anything else asked of the package runs envpool's own __init__ now
        del pkg.__dict__["__getattr__"]
        spec.loader.exec_module(pkg)
        return getattr(pkg, name)

    pkg.__getattr__ = finish
    sys.modules["envpool"] = pkg
    importlib.import_module(MUJOCO_REGISTRATION)
    importlib.import_module("envpool.registration")


def envpool_knows(env_id: str) -> bool:
    """envpool is installed and ships ``env_id``."""
    return envpool_available() and env_id in registry(env_id).list_all_envs()


def envpool_seed(seed: int, num_envs: int) -> int:
    """The seed to hand EnvPool for trpo's ``seed`` (0 .. 2**32 - 1).

    EnvPool asserts that its seed is an int32 and seeds env i with ``seed + i`` in C++ ``int``, so
    a seed >= 2**31 used to fail (``AssertionError: Seed should be in range of int32``) and one
    just below 2**31 overflowed for the last envs. Seeds up to 2**31 - num_envs are kept as they
    are (runs made with them stay reproducible); larger ones are hashed into that range (not taken
    modulo it, which would give 2**31 + 1 the env streams of the commonly used seed 1 or so)."""
    top = 2**31 - num_envs  # the largest seed whose seed + num_envs - 1 is still an int32
    seed = int(seed)
    if 0 <= seed <= top:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0] % (top + 1))


class EnvPoolVectorEnv:
    """``num_envs`` copies of ``env_id`` in EnvPool, stepped synchronously (batch = all envs)."""

    def __init__(self, env_id: str, num_envs: int, num_threads: int = 0, seed: int = 0):
        if not envpool_available():
            raise EnvError("vector_mode 'envpool' needs envpool: pip install 'trpo[bench]'")
        if env_id not in registry(env_id).list_all_envs():
            raise EnvError(f"environment '{env_id}' is not available in EnvPool; use vector_mode 'sync' or 'async'")
        self.env_id, self.num_envs, self.num_threads = env_id, num_envs, num_threads
        self._pool = None
        self._ids = np.arange(num_envs, dtype=np.int32)
        self._make(seed)
        self.single_observation_space = self._pool.observation_space
        self.single_action_space = self._pool.action_space

    def _make(self, seed: int) -> None:
        if self._pool is not None:
            self._pool.close()
        self._pool = registry(self.env_id).make_gymnasium(self.env_id, num_envs=self.num_envs, batch_size=self.num_envs,
                                            num_threads=self.num_threads or min(self.num_envs, usable_cores()),
                                            seed=envpool_seed(seed, self.num_envs))

    def reset(self, seed: int | None = None, options=None):
        if seed is not None:  # EnvPool is seeded at construction only
            self._make(seed)
        obs, info = self._pool.reset()
        return obs[np.argsort(info["env_id"])], {}

    def step(self, actions):
        obs, rew, term, trunc, info = self._pool.step(np.asarray(actions), self._ids)
        order = info["env_id"]
        if not np.array_equal(order, self._ids):  # rows in env order, as a gym vector env returns them
            inv = np.argsort(order)
            obs, rew, term, trunc = obs[inv], rew[inv], term[inv], trunc[inv]
        done = np.logical_or(term, trunc)
        out_info = {}
        if done.any():
            ids = np.flatnonzero(done)
            final = np.empty(self.num_envs, dtype=object)
            final[ids] = list(obs[ids])           # the last observation of each finished episode
            obs = obs.copy()
            reset_obs, reset_info = self._pool.reset(ids.astype(np.int32))
            obs[reset_info["env_id"]] = reset_obs
            out_info = {"final_obs": final, "_final_obs": done}
        return obs, rew, term, trunc, out_info

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
