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

import os

import numpy as np

from trpo.errors import EnvError


def envpool_available() -> bool:
    try:
        import envpool  # noqa: F401
    except ImportError:
        return False
    return True


def envpool_knows(env_id: str) -> bool:
    """envpool is installed and ships ``env_id``."""
    if not envpool_available():
        return False
    import envpool

    return env_id in envpool.list_all_envs()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class EnvPoolVectorEnv:
    """``num_envs`` copies of ``env_id`` in EnvPool, stepped synchronously (batch = all envs)."""

    def __init__(self, env_id: str, num_envs: int, num_threads: int = 0, seed: int = 0):
        try:
            import envpool
        except ImportError:
            raise EnvError("vector_mode 'envpool' needs envpool: pip install 'trpo[bench]'") from None
        if env_id not in envpool.list_all_envs():
            raise EnvError(f"environment '{env_id}' is not available in EnvPool; use vector_mode 'sync' or 'async'")
        self.env_id, self.num_envs, self.num_threads = env_id, num_envs, num_threads
        self._pool = None
        self._ids = np.arange(num_envs, dtype=np.int32)
        self._make(seed)
        self.single_observation_space = self._pool.observation_space
        self.single_action_space = self._pool.action_space

    def _make(self, seed: int) -> None:
        import envpool

        if self._pool is not None:
            self._pool.close()
        self._pool = envpool.make_gymnasium(self.env_id, num_envs=self.num_envs, batch_size=self.num_envs,
                                            num_threads=self.num_threads or min(self.num_envs, _cores()), seed=int(seed))

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
