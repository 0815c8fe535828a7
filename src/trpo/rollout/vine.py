"""Vine sampling (TRPO paper §5.2 and App. "vine"; the TRPO reading-group slides (Nguyen 2021), "Vine"): Q-values
from branch rollouts.

One iteration:
  1. trunk: run pi_old in the N vector envs (the single-path sampler, ``vine_trunk_fraction`` of the
     budget) and snapshot the envs (trpo.envs.snapshot) at a random subset of its states, the
     *rollout set* s_1..s_N;
  2. actions: at each s_n take K actions a_{n,k}: every action of a small Discrete space (then the
     estimator is an exact sum over actions, eq. 15), else K draws from q = pi_old (eq. 16);
  3. branches: for each (s_n, a_{n,k}) restore the snapshot, take a_{n,k}, then follow pi_old for
     ``vine_branch_length`` steps in all (fewer if the episode ends):
         Q-hat(s_n, a_{n,k}) = sum_{t < H} gamma^t r_t
     The K branches of one state share their random numbers (common random numbers, §5.2): the
     env's RNG comes back with the snapshot and pi_old's sampling noise restarts from one seed per
     state, so Q-hat differences between actions are not drowned in rollout noise.
Every simulated step, trunk and branch, counts in ``Batch.env_steps``.

The batch is the trunk's (its episodes are logged) with the vine data in ``batch.vine``
(``VineData``: the rollout-set states, their K actions, Q-hat and whether the actions were
enumerated).
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from trpo.envs.snapshot import restore, snapshot, supports
from trpo.errors import ConfigError, EnvError, NonFiniteError
from trpo.functional.sequences import Sequences
from trpo.nets.normalize import ObsNormalizer
from trpo.nets.policy_runner import RecurrentPolicy, make_policy
from trpo.rollout.base import SamplerContext
from trpo.rollout.batch import Batch, VineData
from trpo.rollout.single_path import SinglePathSampler, action_to_env
from trpo.timing import part


class _SnapshottingEnvs:
    """The vector env as the trunk sampler sees it, snapshotting chosen sub-envs just before the
    chosen steps (so the snapshot of env i before step t is the state the policy saw at row t)."""

    def __init__(self, envs: gym.vector.VectorEnv):
        self._envs: Any = envs  # a SyncVectorEnv (its envs are snapshotted)
        self.targets: dict[int, list[int]] = {}
        self.snaps: dict[tuple[int, int], dict] = {}
        self.t = 0

    def __getattr__(self, name):  # num_envs, single_action_space, envs, reset, close, ...
        return getattr(self._envs, name)

    def step(self, actions):
        for i in self.targets.get(self.t, ()):
            self.snaps[(self.t, i)] = snapshot(self._envs.envs[i])
        self.t += 1
        return self._envs.step(actions)


def branch_return(env: gym.Env, state: dict, action: np.ndarray, policy, obs_norm: ObsNormalizer,
                  act_space: gym.Space, length: int, gamma: float, seed: int,
                  memory: tuple[torch.Tensor, ...] | None = None) -> tuple[float, int]:
    """One branch: restore ``state``, take ``action``, then pi_old; returns (sum_t gamma^t r_t, steps).

    ``seed`` seeds pi_old's sampling noise: equal seeds across the K branches of one state are the
    common random numbers. A recurrent pi_old (``policy`` a RecurrentPolicy) continues from
    ``memory``, its hidden state after the rollout state's step (the same for every action there)."""
    restore(env, state)
    rng = np.random.default_rng(seed)
    a, total, discount = action, 0.0, 1.0
    for step in range(length):
        with part("sampling: env step"):
            obs, r, term, trunc, _ = env.step(action_to_env(act_space, a))
        total += discount * float(r)
        discount *= gamma
        if term or trunc:
            return total, step + 1
        x = obs_norm(np.asarray(obs, np.float32)[None])
        with part("sampling: policy inference"):
            if memory is None:
                a = policy.act(x, rng)[0]
            else:
                a, memory = policy.act(x, memory, rng)
                a = a[0]
    return total, length


class VineSampler:
    silent_exit: str | None = None
    @classmethod
    def build(cls, ctx: SamplerContext) -> VineSampler:
        envs = ctx.env.make_vector(ctx.cfg.num_envs, "sync")
        try:
            return cls(envs, ctx.env.make, ctx)
        except BaseException:
            envs.close()
            raise

    def __init__(self, envs: gym.vector.VectorEnv, make_branch_env, ctx: SamplerContext):
        """``envs``: a sync vector env (its envs are snapshotted in-process); ``make_branch_env()``
        makes the env the branches are rolled out in."""
        subs = getattr(envs, "envs", None)
        if not subs:
            raise ConfigError("sampler 'vine' needs vector_mode 'sync' (its envs are snapshotted in-process)")
        if not supports(subs[0]):
            name = type(subs[0].unwrapped).__name__
            raise EnvError(f"sampler 'vine' cannot snapshot {name}: add get_snapshot()/set_snapshot() "
                           "or trpo.envs.snapshot.register_snapshot (see docs/vine.md)")
        cfg = ctx.cfg
        self.cfg, self.actor, self.obs_norm, self.device = cfg, ctx.actor, ctx.obs_norm, ctx.device
        self.reward_scaler = ctx.reward_scaler
        n_envs = envs.num_envs
        trunk_per_env = max(1, round(cfg.batch_steps * cfg.vine_trunk_fraction / n_envs))
        self.envs = _SnapshottingEnvs(envs)
        self.trunk = SinglePathSampler(self.envs, ctx.actor, ctx.obs_norm, ctx.reward_scaler, trunk_per_env,  # type: ignore[arg-type]  # a VectorEnv, wrapped
                                       cfg.seed, ctx.device, critic=ctx.critic, seq_len=1)
        self.recurrent = self.trunk.recurrent
        self.branch_env = make_branch_env()
        self.branch_env.reset(seed=cfg.seed + 1)
        self.act_space = envs.single_action_space
        n_act = self.act_space.n if isinstance(self.act_space, gym.spaces.Discrete) else None
        # eq. 15 (all actions) for a Discrete space with at most K actions, else K draws (eq. 16)
        self.enumerated = n_act is not None and (cfg.vine_actions == 0 or cfg.vine_actions >= n_act)
        self.K = int(n_act) if self.enumerated else (cfg.vine_actions or 4)  # type: ignore[arg-type]  # enumerated: Discrete
        branch_budget = max(0, cfg.batch_steps - trunk_per_env * n_envs)
        self.n_states = cfg.vine_rollout_states or max(1, branch_budget // (self.K * cfg.vine_branch_length))
        self.n_states = min(self.n_states, trunk_per_env * n_envs)
        self.rng = np.random.default_rng([cfg.seed, 1])

    def collect(self) -> Batch:
        cfg, T, N = self.cfg, self.trunk.T, self.trunk.N
        # pi_old is the actor AND the observation statistics before the trunk updates them
        frozen = ObsNormalizer(self.obs_norm.rms.mean.shape, self.obs_norm.enabled, self.obs_norm.clip)
        frozen.rms.load_state_dict(self.obs_norm.rms.state_dict())

        # 1. trunk, snapshotting the rollout set
        chosen = np.sort(self.rng.choice(T * N, self.n_states, replace=False))
        self.envs.t, self.envs.snaps = 0, {}
        self.envs.targets = {}
        for f in chosen:
            self.envs.targets.setdefault(int(f // N), []).append(int(f % N))
        batch = self.trunk.collect()
        idx = torch.as_tensor(chosen)
        obs = batch.flat(batch.obs)[idx].numpy()
        # a recurrent pi_old: the rollout state is the observation AND the hidden state there
        h = h_critic = memory = window = None
        if self.recurrent:
            h, h_critic = batch.flat(batch.seq.actor_states)[idx], batch.flat(batch.seq.critic_states)[idx]  # type: ignore[union-attr]  # recurrent
            with torch.no_grad():  # the state after the rollout state's step, where every branch goes on from
                memory = self.actor.step(torch.as_tensor(obs, dtype=torch.float32, device=self.device),  # type: ignore[operator]  # a RecurrentActor
                                         h.to(self.device))[1]
            window = self._windows(batch, chosen)

        # 2. K actions per rollout state
        policy: Any = (RecurrentPolicy(self.actor, self.device) if self.recurrent  # act() follows recurrent
                       else make_policy(self.actor, self.device))
        if self.enumerated:
            actions = np.tile(np.arange(self.K), (len(chosen), 1))
        elif self.recurrent:
            actions = policy.act(np.repeat(obs, self.K, 0), (h.repeat_interleave(self.K, 0).to(self.device),),  # type: ignore[union-attr]  # recurrent: h
                                 self.rng)[0].reshape(len(chosen), self.K, *self.act_space.shape)  # type: ignore[misc]  # a Box or MultiDiscrete
        else:
            actions = policy.act(np.repeat(obs, self.K, 0), self.rng).reshape(len(chosen), self.K,
                                                                              *self.act_space.shape)  # type: ignore[misc]  # a Box or MultiDiscrete

        # 3. branch rollouts, common random numbers within a state
        q = np.empty((len(chosen), self.K))
        branch_steps = 0
        for n, f in enumerate(chosen):
            state = self.envs.snaps[(int(f // N), int(f % N))]
            crn_seed = int(self.rng.integers(2**63 - 1))
            mem = None if memory is None else (memory[n:n + 1],)
            for k in range(self.K):
                q[n, k], steps = branch_return(self.branch_env, state, actions[n, k], policy, frozen, self.act_space,
                                               cfg.vine_branch_length, cfg.gamma, crn_seed, mem)
                branch_steps += steps
        if not np.isfinite(q).all():
            raise NonFiniteError("non-finite branch return in vine sampling")
        if self.reward_scaler.enabled:  # the trunk's reward scale: Q-hat of order one
            q = q / np.sqrt(self.reward_scaler.rms.var + 1e-8)

        batch.env_steps += branch_steps
        batch.vine = VineData(torch.from_numpy(obs), torch.from_numpy(np.asarray(actions)),
                              torch.from_numpy(q.astype(np.float32)), self.enumerated, h, h_critic, window)
        return batch

    def _windows(self, batch: Batch, chosen: np.ndarray) -> Sequences:
        """For a recurrent policy, each rollout state as the learner reads it: the ``seq_len`` trunk
        steps of its env around it (ending at it where the trunk allows), from the stored state at
        the window's first step, read at its own step; the gradient then flows back through up to
        ``seq_len`` steps of the recurrence, as in single-path training."""
        T, N = batch.T, batch.N
        L = min(self.cfg.seq_len, T)
        t, n = torch.as_tensor(chosen // N), torch.as_tensor(chosen % N)
        t0 = (t - L + 1).clamp(0, T - L)
        times = t0[:, None] + torch.arange(L)                                    # (n_states, L)
        s = batch.seq
        return Sequences(batch.obs[times, n[:, None]], s.starts[times, n[:, None]], s.actor_states[t0, n], t - t0)  # type: ignore[union-attr]  # recurrent

    def state_dict(self) -> dict:
        # the branch env needs nothing: every branch starts with a restore
        return {"trunk": self.trunk.state_dict(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, d: dict):
        self.rng.bit_generator.state = d["rng"]
        return self.trunk.load_state_dict(d["trunk"])

    def describe(self) -> str | None:
        return None  # the run's header says nothing more for the local samplers

    def summary(self) -> dict:
        return {}

    def close(self) -> None:
        self.branch_env.close()
        self.trunk.close()  # and the vector env
