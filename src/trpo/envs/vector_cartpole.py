"""Gymnasium's own array-at-once CartPole (``CartPoleVectorEnv``) with SAME-STEP autoreset.

Gymnasium registers a ``vector_entry_point`` for CartPole-v0/v1: one numpy state array of shape
(4, N) stepped for all N carts by a few array operations, instead of N Python ``CartPoleEnv``
objects behind ``SyncVectorEnv`` (here ~35 us per step of 8 carts against ~70 us; the dynamics,
thresholds, reward, initial-state distribution and time limit are those of ``CartPoleEnv``).
Its autoreset is NEXT-STEP only: the step after an episode ends ignores the action and returns the
reset observation with reward 0, which a sampler would record as a dummy transition. This adapter
resets the finished carts at once, the way the env's own step would on the next call (new state
uniform in [low, high] from the env's ``np_random``, step counter 0), returns the reset observation
in their row and the last observation of the finished episode in ``info["final_obs"]``: what
``gym.vector`` gives with ``AutoresetMode.SAME_STEP`` (see ``trpo.envs.make.make_vector_env``).

It reads and writes the env's documented state arrays (``state``, ``steps``, ``prev_done``,
``low``, ``high``); ``tests/test_vector_cartpole.py`` steps it against ``SyncVectorEnv`` CartPoles
put in the same states, so a Gymnasium release that changed them would fail there.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

ENTRY_POINT = "gymnasium.envs.classic_control.cartpole:CartPoleVectorEnv"


def has_vector_cartpole(env_id: str) -> bool:
    """``env_id`` is registered with Gymnasium's ``CartPoleVectorEnv`` as its vector entry point
    (and the default kwargs: a user's registration with other kwargs keeps to ``sync``)."""
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return False
    return spec.vector_entry_point == ENTRY_POINT and not spec.additional_wrappers


class VectorCartPole:
    """``num_envs`` CartPoles in one ``CartPoleVectorEnv``, same-step autoreset, snapshottable."""

    def __init__(self, env_id: str, num_envs: int):
        # CartPoleVectorEnv: its state arrays (state, steps, prev_done, low, high) are not on VectorEnv's type
        self.env: Any = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
        self.num_envs = num_envs
        self.single_observation_space = self.env.single_observation_space
        self.single_action_space = self.env.single_action_space

    def reset(self, seed: int | None = None, options=None):
        return self.env.reset(seed=seed, options=options)

    def step(self, actions):
        obs, rew, term, trunc, _ = self.env.step(np.asarray(actions))
        done = term | trunc
        if not done.any():
            return obs, rew, term, trunc, {}
        e = self.env
        ids = np.flatnonzero(done)
        final = np.empty(self.num_envs, dtype=object)
        final[ids] = list(obs[ids])                     # the last observation of each finished episode
        # the reset that CartPoleVectorEnv.step would do on the next call, done now:
        e.state[:, ids] = e.np_random.uniform(low=e.low, high=e.high, size=(4, ids.size))
        e.steps[ids] = 0
        e.prev_done[ids] = False
        obs[ids] = e.state[:, ids].T                    # obs is a fresh float32 copy of the state
        return obs, rew, term, trunc, {"final_obs": final, "_final_obs": done}

    # snapshots for exact resume (trpo.rollout.single_path.env_snapshots): arrays and JSON-able only
    def get_snapshot(self) -> dict:
        e = self.env
        return {"env_class": "VectorCartPole", "num_envs": self.num_envs,
                "state": np.array(e.state, copy=True), "steps": e.steps.copy(), "prev_done": e.prev_done.copy(),
                "low": float(e.low), "high": float(e.high), "np_random": e.np_random.bit_generator.state}

    def set_snapshot(self, s: dict) -> bool:
        if s.get("env_class") != "VectorCartPole" or s.get("num_envs") != self.num_envs:
            return False
        e = self.env
        e.state = np.array(s["state"], np.float64, copy=True)
        e.steps = np.array(s["steps"], np.int32, copy=True)
        e.prev_done = np.array(s["prev_done"], bool, copy=True)
        e.low, e.high = float(s["low"]), float(s["high"])
        e.np_random.bit_generator.state = s["np_random"]
        return True

    def close(self) -> None:
        self.env.close()
