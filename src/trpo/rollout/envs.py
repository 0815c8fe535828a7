"""Making and checking environments (Gymnasium 1.x vector API, same-step autoreset)."""
from __future__ import annotations

import difflib
import os
import warnings
from contextlib import contextmanager

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from trpo.errors import EnvError


def _lookup(env_id: str) -> None:
    if env_id in gym.registry:
        return
    if env_id.startswith("ALE/"):
        try:
            import ale_py  # registers the Atari envs
            gym.register_envs(ale_py)
        except ImportError:
            raise EnvError(f"environment '{env_id}' needs the Atari extra: pip install 'trpo[atari]'") from None
        if env_id in gym.registry:
            return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise EnvError(f"unknown environment '{env_id}'{hint}")


def is_atari(env_id: str) -> bool:
    """An ALE id (``ALE/Pong-v5``, ...): registered by ale-py."""
    try:
        return str(gym.spec(env_id).entry_point).startswith("ale_py")
    except gym.error.Error:
        return False


def atari_wrappers(env: gym.Env) -> gym.Env:
    """The DQN paper's preprocessing (Mnih et al. 2015; Machado et al. 2018 for the rest), by
    Gymnasium's wrappers: up to 30 no-op actions at reset, the action repeated for 4 frames with
    the max of the last two, 84x84 grayscale, the last 4 frames stacked -> uint8 (4, 84, 84).
    Rewards are not clipped (the reward scaler keeps them of order one, and returns stay game
    scores); a lost life does not end the episode; ALE v5's sticky actions (p = 0.25) stay."""
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84,
                                          terminal_on_life_loss=False, grayscale_obs=True, scale_obs=False)
    return gym.wrappers.FrameStackObservation(env, 4)


@contextmanager
def _env_errors(env_id: str):
    """Gymnasium's errors while making ``env_id`` -> one-line ``EnvError``s."""
    try:
        yield
    except gym.error.DependencyNotInstalled as e:
        raise EnvError(f"environment '{env_id}' needs a missing dependency: {e}") from None
    except gym.error.Error as e:
        raise EnvError(f"cannot make environment '{env_id}': {e}") from None


def make_env(env_id: str, atari_preprocessing: bool = True, **kwargs) -> gym.Env:
    """One environment, with a clear error for unknown ids or missing extras. ALE ids get
    ``atari_wrappers`` unless ``atari_preprocessing`` is False (the frame skip moves into the
    wrapper: the env itself is made with ``frameskip=1``)."""
    _lookup(env_id)
    atari = atari_preprocessing and is_atari(env_id)
    with _env_errors(env_id):
        env = gym.make(env_id, **({"frameskip": 1} if atari else {}), **kwargs)
        return atari_wrappers(env) if atari else env


def usable_cores() -> int:
    """The cores this process may run on (its affinity set), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def is_gym_mujoco(env_id: str) -> bool:
    """A registered id whose env is one of Gymnasium's MuJoCo envs."""
    try:
        return str(gym.spec(env_id).entry_point).startswith("gymnasium.envs.mujoco")
    except gym.error.Error:
        return False


def resolve_vector_mode(env_id: str, mode: str, sampler: str = "single-path") -> str:
    """``auto`` -> the fastest backend here (docs/benchmarks.md, "Throughput against the number of
    envs"): Gymnasium's array-at-once ``CartPoleVectorEnv`` for CartPole (``vector_entry_point``);
    EnvPool for MuJoCo envs, whose C++ stepping it spreads over every core, when envpool is
    installed and knows the id; otherwise ``sync``: for cheap envs (classic control) one process
    beats EnvPool's thread hand-off and ``async``'s pipes. Vine sampling needs ``sync`` (it
    snapshots the envs one by one, in-process). Any other mode is returned as it is."""
    if mode != "auto":
        return mode
    from trpo.rollout.envpool_env import envpool_knows
    from trpo.rollout.vector_cartpole import has_vector_cartpole

    _lookup(env_id)
    if sampler != "single-path":
        return "sync"
    if has_vector_cartpole(env_id):
        return "vector_entry_point"
    return "envpool" if is_gym_mujoco(env_id) and envpool_knows(env_id) else "sync"


def make_vector_env(env_id: str, num_envs: int, mode: str = "sync", atari_preprocessing: bool = True
                    ) -> gym.vector.VectorEnv:
    """N copies of the env in one process (``sync``), in subprocesses (``async``), in EnvPool
    (``envpool``, see ``trpo.rollout.envpool_env``) or as one array-at-once env
    (``vector_entry_point``: Gymnasium's CartPole, see ``trpo.rollout.vector_cartpole``).

    Same-step autoreset: when an episode ends at step t the returned observation is already the
    reset one and the final observation is in ``info["final_obs"]`` — so no step of the batch is
    a dummy reset step, and a truncated step can bootstrap from its final observation.
    """
    _lookup(env_id)
    mode = resolve_vector_mode(env_id, mode)
    if mode == "envpool":  # EnvPool's C++ thread pool, adapted to same-step autoreset
        from trpo.rollout.envpool_env import EnvPoolVectorEnv
        return EnvPoolVectorEnv(env_id, num_envs)
    if mode == "vector_entry_point":  # Gymnasium's numpy CartPole, adapted to same-step autoreset
        from trpo.rollout.vector_cartpole import VectorCartPole, has_vector_cartpole
        if not has_vector_cartpole(env_id):
            raise EnvError(f"vector_mode 'vector_entry_point' supports Gymnasium's CartPole ids only, "
                           f"not '{env_id}'; use 'sync' or 'async'")
        return VectorCartPole(env_id, num_envs)
    atari = atari_preprocessing and is_atari(env_id)
    with _env_errors(env_id):
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode,
                            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
                            **({"wrappers": [atari_wrappers], "frameskip": 1} if atari else {}))


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


def check_env(env_id: str, atari_preprocessing: bool = True) -> None:
    """trpo's own checks (spaces; reset and step: tuple length, observation shape, dtype, bounds,
    finiteness, reward), then Gymnasium's env checker. Our checks run first: their messages name
    the exact problem."""
    from gymnasium.utils.env_checker import check_env as gym_check_env

    env = make_env(env_id, atari_preprocessing)
    try:
        check_spaces(env_id, env.observation_space, env.action_space)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base = env.unwrapped  # the env itself: wrappers would fail on a bad step() first
            out = base.reset(seed=0)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise EnvError(f"environment '{env_id}': reset() must return (obs, info)")
            validate_step(env_id, base.observation_space, out[0], 0.0, "reset")
            env.action_space.seed(0)
            for t in range(5):
                out = base.step(env.action_space.sample())
                if len(out) != 5:
                    raise EnvError(f"environment '{env_id}': step() returned {len(out)} values; Gymnasium 1.x "
                                   "envs return (obs, reward, terminated, truncated, info)")
                obs, reward, term, trunc, _ = out
                validate_step(env_id, base.observation_space, obs, reward, f"step {t + 1}")
                if term or trunc:
                    base.reset()
            try:
                gym_check_env(env.unwrapped, skip_render_check=True)
            except Exception as e:  # the checker raises AssertionError and others
                raise EnvError(f"environment '{env_id}' fails Gymnasium's env checker: {str(e).splitlines()[0]}") from None
    finally:
        env.close()


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
