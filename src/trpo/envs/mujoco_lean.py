"""Lean steps of Gymnasium's MuJoCo locomotion envs (v5): what ``env.step`` returns but the info dict,
bit for bit, with less Python around the simulator.

Gymnasium's Hopper-v5 step costs ~75 us here, of which the simulator (four ``mj_step`` and one
``mj_rnePostConstraint``) ~56 us: the rest is Python around it, mostly what the samplers never
read (a six-entry info dict, the reward's parts named, the health check computed twice, an action
shape check through ``np.array``). ``lean_stepper(env)`` returns a function of one action that
runs the same simulator calls and the same arithmetic for the observation, the reward and
``terminated`` (the same operations in the same order, so the same bits; ``np.clip`` as the
``maximum`` and ``minimum`` it computes, ``np.sum`` as the array's own ``sum``), counts the step in
``TimeLimit`` as it does, and returns ``(obs, reward, terminated, truncated)``. It is returned only
for an env it reproduces exactly: the class one of ``PORTS`` itself (not a subclass), no render
mode, only the wrappers ``gym.make`` adds (``TimeLimit``, ``OrderEnforcing``,
``PassiveEnvChecker``), and a Gymnasium whose v5 steps were read for it (1.1 to 1.4; a newer one
gets ``None`` until checked). Each env's own settings (reward weights, healthy ranges, the
observation's options, ``frame_skip``: its constructor's arguments) are read from the env when the
stepper is made; the model and data, and ``dt``, at every step. Until the env checker's first two steps are done, or
before a reset, or for an action of another shape, the stepper calls ``env.step`` (so its checks
and errors are Gymnasium's). tests/rollout/test_mujoco_lean.py steps both side by side, every option.

Used by ``LeanSyncVectorEnv.step_into`` (the samplers' step) and by the evaluation episodes
(``Agent.evaluate``); the reset is the env's own.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from trpo.envs.snapshot import layers

Stepper = Callable[[np.ndarray], tuple]

# Gymnasium versions whose v5 locomotion steps these ports were read against (1.1.1 and 1.4.0
# compared: the same but for the info dict, and Humanoid's mass_center, which the port calls)
_READ = ((1, 1), (1, 2), (1, 3), (1, 4))


def _gym_version_read() -> bool:
    try:
        major, minor = (int(p) for p in gym.__version__.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) in _READ


def _simulation(env) -> Callable[[np.ndarray], None]:
    """MujocoEnv.do_simulation less its shape check (the stepper checks the shape): the action
    into ``ctrl``, ``frame_skip`` calls of ``mj_step``, then ``mj_rnePostConstraint`` (cacc,
    cfrc_int, cfrc_ext)."""
    import mujoco
    fs = env.frame_skip

    def simulate(a: np.ndarray) -> None:
        m, d = env.model, env.data
        d.ctrl[:] = a
        mujoco.mj_step(m, d, nstep=fs)
        mujoco.mj_rnePostConstraint(m, d)

    return simulate


def _hopping(state_range: bool) -> Callable[[gym.Env], Stepper]:
    """HopperEnv.step (``state_range``: healthy also by every state but x and z in its range) and
    Walker2dEnv.step (healthy by z and angle alone): forward velocity, healthy reward, control cost."""
    def port(env) -> Stepper:
        simulate = _simulation(env)
        lo_s, hi_s = env._healthy_state_range if state_range else (None, None)
        lo_z, hi_z = env._healthy_z_range
        lo_a, hi_a = env._healthy_angle_range
        fw, hw, cw = env._forward_reward_weight, env._healthy_reward, env._ctrl_cost_weight
        first = 1 if env._exclude_current_positions_from_observation else 0
        stop = env._terminate_when_unhealthy

        def step(a):
            d = env.data
            qpos, qvel = d.qpos, d.qvel
            x0 = qpos[0]
            simulate(a)
            x_velocity = (qpos[0] - x0) / env.dt
            obs = np.concatenate((qpos[first:], np.minimum(np.maximum(qvel, -10), 10)))
            healthy = bool(lo_z < qpos[1] < hi_z and lo_a < qpos[2] < hi_a)
            if state_range and healthy:
                state = np.concatenate((qpos[2:], qvel))  # state_vector()[2:]
                healthy = bool(np.logical_and(lo_s < state, state < hi_s).all())
            reward = (fw * x_velocity + healthy * hw) - cw * np.square(a).sum()
            return obs, reward, (not healthy) and stop

        return step
    return port


def _planar(skip: int) -> Callable[[gym.Env], Stepper]:
    """HalfCheetahEnv.step (skip 1) and SwimmerEnv.step (skip 2): forward velocity less the
    control cost, never terminated; ``skip`` leading positions left out of the observation."""
    def port(env) -> Stepper:
        simulate = _simulation(env)
        fw, cw = env._forward_reward_weight, env._ctrl_cost_weight
        first = skip if env._exclude_current_positions_from_observation else 0

        def step(a):
            d = env.data
            qpos = d.qpos
            x0 = qpos[0]
            simulate(a)
            x_velocity = (qpos[0] - x0) / env.dt
            obs = np.concatenate((qpos[first:], d.qvel))
            return obs, fw * x_velocity - cw * np.square(a).sum(), False

        return step
    return port


def _ant(env) -> Stepper:
    """AntEnv.step: the main body's forward velocity, healthy reward, control and contact costs."""
    simulate = _simulation(env)
    body = env.data.body(env._main_body).id
    lo_z, hi_z = env._healthy_z_range
    lo_f, hi_f = env._contact_force_range
    fw, hw, cw, kw = (env._forward_reward_weight, env._healthy_reward, env._ctrl_cost_weight,
                      env._contact_cost_weight)
    first = 2 if env._exclude_current_positions_from_observation else 0
    forces_seen = env._include_cfrc_ext_in_observation
    stop = env._terminate_when_unhealthy

    def step(a):
        d = env.data
        x0 = d.xpos[body, 0]
        simulate(a)
        qpos, qvel = d.qpos, d.qvel
        x_velocity = (d.xpos[body, 0] - x0) / env.dt
        forces = np.minimum(np.maximum(d.cfrc_ext, lo_f), hi_f)  # np.clip's values
        obs = (np.concatenate((qpos[first:], qvel, forces[1:].ravel())) if forces_seen
               else np.concatenate((qpos[first:], qvel)))
        healthy = bool(np.isfinite(qpos).all() and np.isfinite(qvel).all() and lo_z <= qpos[2] <= hi_z)
        reward = ((x_velocity * fw + healthy * hw)
                  - (cw * np.square(a).sum() + kw * np.square(forces).sum()))
        return obs, reward, (not healthy) and stop

    return step


def _humanoid(env) -> Stepper:
    """HumanoidEnv.step: the mass centre's forward velocity, healthy reward, control (of
    ``data.ctrl``) and clipped contact costs; the observation's optional parts."""
    from gymnasium.envs.mujoco.humanoid_v5 import mass_center  # Gymnasium's own (its formula changed in 1.2.1)
    simulate = _simulation(env)
    lo_z, hi_z = env._healthy_z_range
    lo_c, hi_c = env._contact_cost_range
    fw, hw, cw, kw = (env._forward_reward_weight, env._healthy_reward, env._ctrl_cost_weight,
                      env._contact_cost_weight)
    first = 2 if env._exclude_current_positions_from_observation else 0
    parts = [(name, lo) for name, lo, on in (("cinert", 1, env._include_cinert_in_observation),
                                             ("cvel", 1, env._include_cvel_in_observation),
                                             ("qfrc_actuator", 6, env._include_qfrc_actuator_in_observation),
                                             ("cfrc_ext", 1, env._include_cfrc_ext_in_observation))
             if on is True]
    stop = env._terminate_when_unhealthy

    def step(a):
        m, d = env.model, env.data
        x0 = mass_center(m, d)
        simulate(a)
        qpos = d.qpos
        x_velocity = (mass_center(m, d) - x0)[0] / env.dt
        obs = np.concatenate((qpos[first:], d.qvel, *(getattr(d, name)[lo:].ravel() for name, lo in parts)))
        healthy = bool(lo_z < qpos[2] < hi_z)
        contact = np.clip(kw * np.square(d.cfrc_ext).sum(), lo_c, hi_c)
        reward = (fw * x_velocity + healthy * hw) - (cw * np.square(d.ctrl).sum() + contact)
        return obs, reward, (not healthy) and stop

    return step


@functools.cache
def _ports() -> dict[type, Callable[[gym.Env], Stepper]]:
    from gymnasium.envs.mujoco.ant_v5 import AntEnv
    from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
    from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
    from gymnasium.envs.mujoco.humanoid_v5 import HumanoidEnv
    from gymnasium.envs.mujoco.swimmer_v5 import SwimmerEnv
    from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv
    return {HopperEnv: _hopping(True), Walker2dEnv: _hopping(False), HalfCheetahEnv: _planar(1), SwimmerEnv: _planar(2),
            AntEnv: _ant, HumanoidEnv: _humanoid}


def lean_stepper(env: gym.Env) -> Stepper | None:
    """``env.step`` less the info dict, for the envs this module reproduces (see the module's
    docstring); None for any other env."""
    *wrappers, base = layers(env)
    if (getattr(base, "render_mode", None) is not None or not _gym_version_read()
            or not type(base).__module__.startswith("gymnasium.envs.mujoco.")):  # (other envs import no mujoco)
        return None
    port = _ports().get(type(base))
    if port is None:
        return None
    limit: Any = None  # the wrappers gym.make adds (their private counters and flags are read)
    order: Any = None
    checker: Any = None
    for w in wrappers:
        kind = type(w)
        if kind is gym.wrappers.TimeLimit and limit is None:
            limit = w
        elif kind is gym.wrappers.OrderEnforcing and order is None:
            order = w
        elif kind is gym.wrappers.PassiveEnvChecker and checker is None:
            checker = w
        else:
            return None
    physics = port(base)
    shape = base.action_space.shape

    def step(action: np.ndarray) -> tuple:
        if ((order is not None and not order._has_reset)
                or (checker is not None and (not checker.checked_step
                                             or getattr(checker, "checked_data_reuse", True) is False))
                or (limit is not None and limit._elapsed_steps is None) or np.shape(action) != shape):
            return env.step(action)[:4]  # Gymnasium's checks (and errors) on the steps that make them
        obs, reward, terminated = physics(action)
        truncated = False
        if limit is not None:  # TimeLimit.step
            limit._elapsed_steps += 1
            truncated = limit._elapsed_steps >= limit._max_episode_steps
        return obs, reward, terminated, truncated

    return step
