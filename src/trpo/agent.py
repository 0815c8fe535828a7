"""A trained (or training) agent: config, actor, critic and observation normaliser.

    agent = Agent.load("runs/my_run")          # from a run directory or a checkpoint manifest
    agent = Agent.load("runs/mine", actor=MyNet)  # a run trained with its own networks: give them again
    action = agent.act(obs)                    # deterministic by default
    mean, std, returns = agent.evaluate(episodes=10)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from trpo import seeds
from trpo.checkpoint import describe, load_checkpoint
from trpo.config import Config, from_dict
from trpo.envs.make import EnvSpec
from trpo.envs.mujoco_lean import lean_stepper
from trpo.errors import CheckpointError, ConfigError
from trpo.nets.factory import make_networks, network_name
from trpo.nets.policy_runner import RecurrentPolicy, make_policy
from trpo.resolve import resolve_device
from trpo.rollout.single_path import action_to_env

# Evaluation episodes of envs without a time limit end after this many steps: 108,000 frames (30
# minutes of play) at the ALE's frame skip of 4, the cap of Machado et al. 2018 ("Revisiting the
# Arcade Learning Environment"), used for any env that sets no limit of its own.
EVAL_STEP_CAP = 27_000


class Agent:
    def __init__(self, cfg: Config, obs_space: gym.Space, act_space: gym.Space, device: torch.device | None = None,
                 env: EnvSpec | None = None, actor=None, critic=None):
        """``actor`` / ``critic``: one's own networks instead of the config's (an instance, a
        factory of () or of (obs_space, act_space); the protocol: ``trpo.nets.factory``)."""
        self.cfg = cfg
        self.device = device or resolve_device(cfg.device)
        self.obs_space, self.act_space = obs_space, act_space
        self.env = env or EnvSpec.from_config(cfg)  # what ``evaluate`` makes its env from
        try:
            self.actor, self.critic, self.obs_norm = make_networks(cfg, obs_space, act_space, self.device,
                                                                   actor=actor, critic=critic)
        except ValueError as e:  # own networks or shared_trunk that do not fit these spaces: the user's to fix
            if actor is None and critic is None and not cfg.shared_trunk:
                raise
            raise ConfigError(str(e)) from None
        # which networks are one's own, and their classes (recorded in checkpoints: a load needs them again)
        self.own_networks = {role: network_name(net) for role, net, given in
                             (("actor", self.actor, actor), ("critic", self.critic, critic)) if given is not None}
        self.checkpoint: str | None = None  # set by load()

    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                "obs_rms": self.obs_norm.rms.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        try:
            self.actor.load_state_dict(d["actor"])
            self.critic.load_state_dict(d["critic"])
            self.obs_norm.rms.load_state_dict(d["obs_rms"])
        except (KeyError, RuntimeError) as e:
            raise CheckpointError(f"checkpoint does not match this configuration: {str(e).splitlines()[0]}") from None

    @classmethod
    def load(cls, path: str | Path, device: str | None = None, best: bool = False, env_fn=None,
             actor=None, critic=None) -> Agent:
        """From a run directory (its latest checkpoint; ``best``: ``checkpoints/best``, the policy
        of the best periodic evaluation) or a checkpoint manifest. ``env_fn``: the env factory a
        run trained with ``trpo.train(cfg, env_fn=...)`` used, for ``evaluate``. ``actor`` /
        ``critic``: the same own networks a run trained with (``trpo.train(cfg, actor=...)``); the
        checkpoint holds their weights, not their code."""
        if not Path(path).exists():
            raise CheckpointError(f"no such run directory or checkpoint: {path}")
        state, manifest = load_checkpoint(_best_path(path) if best else path)
        check_own_networks(manifest, actor, critic)
        cfg = from_dict(manifest["config"], source=None)
        if device is not None:
            cfg = cfg.replace(device=device)
        env = EnvSpec.from_config(cfg, env_fn)
        agent = cls(cfg, *env.spaces(), env=env, actor=actor, critic=critic)
        agent.load_state_dict(state["agent"])
        agent.checkpoint = describe(manifest)  # which checkpoint: "PATH (iteration N, S env steps)"
        return agent

    @property
    def recurrent(self) -> bool:
        return self.actor.recurrent

    def initial_state(self, n: int = 1) -> torch.Tensor:
        """A recurrent policy's hidden state at the start of an episode, (n, state size)."""
        if not self.recurrent:
            raise TypeError("this agent's policy is not recurrent (policy = 'mlp'): act(obs) needs no state")
        return self.actor.initial_state(n, self.device)

    def act(self, obs: np.ndarray, deterministic: bool = True, rng: np.random.Generator | None = None,
            state: torch.Tensor | None = None):
        """Action(s) for raw observation(s): one obs of the env's shape, or a batch of them.

        A recurrent policy (``policy`` gru or lstm) returns ``(action, state)``: pass the state back
        with the next observation of the same episode (None, or ``initial_state()``, at its start)."""
        obs = np.asarray(obs)
        single = obs.shape == self.obs_space.shape
        x = self.obs_norm(obs[None] if single else obs)
        rng = rng or np.random.default_rng()
        if self.recurrent:
            h = self.initial_state(len(x)) if state is None else torch.as_tensor(state, device=self.device)
            a, (h,) = RecurrentPolicy(self.actor, self.device).act(x, (h,), rng, deterministic)
            a = action_to_env(self.act_space, a)
            return (a[0] if single else a), h
        if state is not None:
            raise TypeError("this agent's policy is not recurrent (policy = 'mlp'): act(obs) takes no state")
        a = make_policy(self.actor, self.device).act(x, rng, deterministic)
        a = action_to_env(self.act_space, a)
        return a[0] if single else a

    def evaluate(self, episodes: int = 10, seed: int | None = None, deterministic: bool = True,
                 video_dir: str | Path | None = None,
                 max_episode_steps: int | None = None) -> tuple[float, float, list[float]]:
        """Mean and std of the undiscounted return over ``episodes`` on a separately seeded env
        (seed + ``trpo.seeds.FINAL_EVAL`` by default, never the training seeds).

        An episode ends at the env's own end or time limit; an env without a time limit (MinAtar's
        games, a user's env) is cut at ``max_episode_steps`` (default ``EVAL_STEP_CAP``), so that a
        deterministic policy that never loses (a submarine that never dives) cannot hang the run."""
        seed = self.cfg.seed + seeds.FINAL_EVAL if seed is None else seed
        if self.env.vector:
            if video_dir:
                from trpo.errors import TrpoError
                raise TrpoError("videos record one env; env_fn returns a gymnasium VectorEnv")
            return self._evaluate_vector(episodes, seed, deterministic, max_episode_steps or EVAL_STEP_CAP)
        env = self.env.make(**({"render_mode": "rgb_array"} if video_dir else {}))
        spec_limit = env.spec.max_episode_steps if env.spec is not None else None
        cap = max_episode_steps or spec_limit or EVAL_STEP_CAP
        if video_dir:
            try:
                env = gym.wrappers.RecordVideo(env, str(video_dir), episode_trigger=lambda i: True, disable_logger=True)
            except gym.error.DependencyNotInstalled as e:
                env.close()
                from trpo.errors import TrpoError
                raise TrpoError(f"--video needs moviepy: pip install 'trpo[video]' ({e})") from None
        recurrent = self.recurrent
        policy: Any = (RecurrentPolicy(self.actor, self.device) if recurrent  # act()'s signature follows recurrent
                       else make_policy(self.actor, self.device))
        rng = np.random.default_rng(seed)
        returns = []
        # Gymnasium's MuJoCo locomotion step without its info dict (the same values), else env.step
        step = lean_stepper(env) or (lambda action: env.step(action)[:4])
        try:
            for ep in range(episodes):
                obs, _ = env.reset(seed=seed + ep)
                total, done, steps = 0.0, False, 0
                state = policy.initial_state(1) if recurrent else None  # a fresh memory per episode
                while not done and steps < cap:
                    x = self.obs_norm(np.asarray(obs)[None])
                    if recurrent:
                        a, state = policy.act(x, state, rng, deterministic)
                        a = a[0]
                    else:
                        a = policy.act(x, rng, deterministic)[0]
                    obs, r, term, trunc = step(action_to_env(self.act_space, a))
                    total += float(r)
                    done = term or trunc
                    steps += 1
                returns.append(total)
        finally:
            env.close()
        return float(np.mean(returns)), float(np.std(returns)), returns


    def _evaluate_vector(self, episodes: int, seed: int, deterministic: bool,
                         cap: int) -> tuple[float, float, list[float]]:
        """``evaluate`` on a fresh VectorEnv from the user's ``env_fn`` (``EnvSpec.vector``): every env
        runs episodes to completion, env i counting the first (episodes + i) // n it finishes (so
        that short episodes are not over-represented), an episode cut at ``cap`` steps. Env i is
        reset with seed + i once; its later episodes follow from its own RNG (not seed + episode, as
        with one env). Returns the episodes' returns in the order they ended."""
        envs = self.env.make_vector(self.env.vector)
        n = envs.num_envs
        targets = np.array([(episodes + i) // n for i in range(n)])
        counts, total, steps = np.zeros(n, int), np.zeros(n), np.zeros(n, int)
        recurrent = self.recurrent
        policy: Any = (RecurrentPolicy(self.actor, self.device) if recurrent  # act()'s signature follows recurrent
                       else make_policy(self.actor, self.device))
        rng = np.random.default_rng(seed)
        state = policy.initial_state(n) if recurrent else None
        returns: list[float] = []
        try:
            obs, _ = envs.reset(seed=seed)
            while (counts < targets).any():
                x = self.obs_norm(np.asarray(obs))
                if recurrent:
                    a, state = policy.act(x, state, rng, deterministic)
                else:
                    a = policy.act(x, rng, deterministic)
                obs, r, term, trunc, _ = envs.step(action_to_env(self.act_space, a))
                total += r
                steps += 1
                done = np.asarray(term) | np.asarray(trunc)
                cut = ~done & (steps >= cap)
                if cut.any():  # no end of its own within the cap: the episode ends here
                    obs = envs.reset(options={"reset_mask": cut})[0]
                for i in np.flatnonzero(done | cut):
                    if counts[i] < targets[i]:
                        returns.append(float(total[i]))
                        counts[i] += 1
                total[done | cut], steps[done | cut] = 0.0, 0
                if recurrent:
                    state = policy.reset(state, done | cut)
        finally:
            envs.close()
        return float(np.mean(returns)), float(np.std(returns)), returns


def check_own_networks(manifest: dict, actor, critic) -> None:
    """CheckpointError (one line) unless ``actor`` / ``critic`` are given exactly where the
    checkpoint's run trained its own networks (``own_networks`` in its manifest)."""
    own = manifest.get("own_networks") or {}
    for role, given in (("actor", actor), ("critic", critic)):
        if role in own and given is None:
            raise CheckpointError(f"{manifest.get('path', 'this run')} was trained with its own {role} network "
                                  f"({own[role]}) and holds its weights only: give the same module again from "
                                  f"Python: trpo.load(..., {role}=...), trpo.train(..., resume=..., {role}=...), "
                                  f"trpo.tools.export.export(..., {role}=...)")
        if role not in own and given is not None:
            raise CheckpointError(f"{manifest.get('path', 'this run')} was trained with the built-in {role} network: "
                                  f"leave {role}= out")


def _best_path(path: str | Path) -> Path:
    """``RUN/checkpoints/best`` of a run directory (``best`` of a checkpoints directory)."""
    p = Path(path)
    for cand in (p / "checkpoints" / "best", p / "best"):
        if cand.is_dir():
            return cand
    raise CheckpointError(f"{path}: no best checkpoint (checkpoints/best is written by periodic evaluation)")
