"""``LeanSyncVectorEnv``: Gymnasium's ``SyncVectorEnv`` with same-step autoreset, whose ``step``
returns only the info trpo's samplers read.

Each step Gymnasium merges every env's info dict into batched arrays (``VectorEnv._add_info``:
for MuJoCo's Hopper six keys per env, each a new array the first time in a step). The samplers read
one key, the final observations of ended episodes (``info["final_obs"]`` and its mask
``info["_final_obs"]``). On Hopper-v5 the merge and the generic batching cost ~20% of the step of
two envs (``benchmarks/harness.py profile``). Here ``step`` steps the same envs in the same order
with the same actions (``actions[i]``, what ``gymnasium.vector.utils.iterate`` yields for a Box,
Discrete or MultiDiscrete batch) and returns the same observations, rewards, terminated and
truncated arrays, bit for bit (tests/rollout/test_lean_sync.py), with info reduced to those two keys
(absent when no episode ended). ``step_into`` is that step written into the caller's rows instead
(the sampler's per-step loop, ``trpo.rollout.single_path.run_slice``, hands it the batch's rows: no
copies, no info dict; ``step`` is ``step_into`` into the vector env's own buffers). Gymnasium's
MuJoCo locomotion envs are stepped there without their own info dicts either
(``trpo.envs.mujoco_lean``: the same values, bit for bit, ~14 us less per Hopper step). Everything else
(construction, ``reset``, ``envs`` for snapshots, ``close``) is ``SyncVectorEnv``'s own; observation
spaces other than a Box, and the other autoreset modes, take ``SyncVectorEnv.step`` unchanged.
"""
from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from trpo.envs.mujoco_lean import lean_stepper


class LeanSyncVectorEnv(gym.vector.SyncVectorEnv):

    @classmethod
    def of(cls, envs: gym.vector.VectorEnv) -> gym.vector.VectorEnv:
        """``envs`` (made by ``gym.make_vec`` or ``SyncVectorEnv``, so built exactly as Gymnasium
        builds it) stepped by this class from now on. It adds no state (but the cache of each env's
        lean step, made at its first step), so its class can change."""
        if type(envs) is gym.vector.SyncVectorEnv:
            envs.__class__ = cls
        return envs

    @property
    def steps_lean(self) -> bool:
        """Whether ``step`` takes the lean path (and ``step_into`` may be called): same-step
        autoreset, a Box observation space, Box or MultiDiscrete actions."""
        return (self.autoreset_mode == AutoresetMode.SAME_STEP
                and isinstance(self.single_observation_space, gym.spaces.Box)
                and isinstance(self.action_space, gym.spaces.Box | gym.spaces.MultiDiscrete))

    def step_into(self, actions, obs: np.ndarray, rewards: np.ndarray, term: np.ndarray,
                  trunc: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """The lean step written into the caller's rows (``steps_lean`` only): each env's observation
        after the step (the reset one where its episode ended) into ``obs[i]``, its reward,
        terminated and truncated into ``rewards[i]``, ``term[i]``, ``trunc[i]``; returns (env, final
        observation) for each env whose episode ended. ``step`` is this into its own buffers."""
        env_obs: list = self._env_obs
        ended = []  # (env, its final observation): most steps end no episode and allocate nothing
        for i, (env, lean) in enumerate(zip(self.envs, self._lean_steps)):
            if lean is not None:
                o, rewards[i], term[i], trunc[i] = lean(actions[i])
            else:
                o, rewards[i], term[i], trunc[i], _ = env.step(actions[i])
            if term[i] or trunc[i]:
                ended.append((i, o))
                o, _ = env.reset()
            env_obs[i] = obs[i] = o
        return ended

    @functools.cached_property
    def _lean_steps(self) -> list:
        """Each env's step without its info dict where ``trpo.envs.mujoco_lean`` reproduces it
        (Gymnasium's MuJoCo locomotion envs: the same values, bit for bit), else None."""
        return [lean_stepper(env) for env in self.envs]

    def step(self, actions):
        if len(actions) != self.num_envs or not self.steps_lean:
            return super().step(actions)
        rewards, term, trunc = self._rewards, self._terminations, self._truncations
        # SyncVectorEnv: the observations into its buffer, and a copy of it returned
        ended = self.step_into(actions, self._observations, rewards, term, trunc)
        self._autoreset_envs = term | trunc
        info = {}
        if ended:
            final, mask = np.full(self.num_envs, None, object), np.zeros(self.num_envs, np.bool_)
            for i, obs in ended:
                final[i], mask[i] = obs, True
            info = {"final_obs": final, "_final_obs": mask}
        return self._observations.copy(), rewards.copy(), term.copy(), trunc.copy(), info
