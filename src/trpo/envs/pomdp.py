"""Partially observed control tasks shipped with the package, registered with Gymnasium on import:

    trpo/CartPoleNoVelocity-v1   CartPole-v1 seeing (cart position, pole angle) only
    trpo/PendulumNoVelocity-v1   Pendulum-v1 seeing (cos theta, sin theta) only

The velocities are removed from the observation, so the current observation no longer determines
the state: a policy must remember (``policy = "gru"`` or ``"lstm"``; docs/recurrent.md). These are
the memory tasks of RL-Zoo (its ``MaskVelocityWrapper`` zeroes the same components; dropping them
instead carries the same information) and sb3-contrib's ``CartPoleNoVelEnv``. Dynamics, rewards,
time limits and seeding are the original envs'.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class DropComponents(gym.ObservationWrapper):
    """Keep only the observation components ``keep`` (a Box observation space)."""

    def __init__(self, env: gym.Env, keep: list[int]):
        super().__init__(env)
        space: Any = env.observation_space  # a Box (low, high)
        self.keep = np.asarray(keep)
        self.observation_space = gym.spaces.Box(space.low[self.keep], space.high[self.keep], dtype=space.dtype)

    def observation(self, obs: np.ndarray) -> np.ndarray:
        return obs[self.keep]


def cartpole_no_velocity(**kwargs) -> gym.Env:
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    return DropComponents(CartPoleEnv(**kwargs), [0, 2])  # x, x_dot, theta, theta_dot -> x, theta


def pendulum_no_velocity(**kwargs) -> gym.Env:
    from gymnasium.envs.classic_control.pendulum import PendulumEnv

    return DropComponents(PendulumEnv(**kwargs), [0, 1])  # cos, sin, theta_dot -> cos, sin


IDS: dict[str, dict[str, Any]] = {
    "trpo/CartPoleNoVelocity-v1": dict(entry_point="trpo.envs.pomdp:cartpole_no_velocity", max_episode_steps=500,
                                       reward_threshold=475.0),
    "trpo/PendulumNoVelocity-v1": dict(entry_point="trpo.envs.pomdp:pendulum_no_velocity", max_episode_steps=200),
}


def register() -> None:
    for env_id, kw in IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kw)


register()
