"""One rollout worker, made a Ray actor by ``RaySampler``: a SinglePathSampler over its own vector
env, or for vine a VineSampler's parts; it samples its share of each batch with the noise the
driver drew (``trpo.rollout.ray.replay``) and returns raw rewards for the driver to scale."""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from trpo.errors import NonFiniteError
from trpo.nets.normalize import ObsNormalizer
from trpo.nets.policy_runner import make_policy
from trpo.rollout.base import SamplerContext
from trpo.rollout.ray.replay import ReplayRNG
from trpo.rollout.ray.runtime import node_id
from trpo.rollout.single_path import SinglePathSampler
from trpo.rollout.vine import VineSampler, branch_return


class _RawRewards:
    """The worker's reward "scaler": keeps the float64 rewards and done flags (the driver scales
    them over all columns), returns them unchanged."""

    enabled = False

    def __call__(self, rewards: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.rewards, self.done = np.array(rewards, np.float64), np.array(done, bool)
        return rewards


class RolloutWorker:
    """One rollout worker (made a Ray actor by ``RaySampler``): a SinglePathSampler over its own
    vector env, or for vine a VineSampler's parts (snapshotting trunk envs, branch env)."""

    def __init__(self, cfg_dict: dict, env, T: int, vine: bool, seed: int, state: dict | None = None):
        from trpo.config import from_dict
        from trpo.nets.factory import make_networks

        torch.set_num_threads(1)
        cfg = self.cfg = from_dict({**cfg_dict, "seed": seed})
        cpu = self.device = torch.device("cpu")
        envs = env.make_vector(cfg.num_envs, "sync" if vine else None)
        try:
            self.actor, critic, self.obs_norm = make_networks(cfg, envs.single_observation_space,
                                                              envs.single_action_space, cpu)
            self.rewards = _RawRewards()
            self.vine = None
            if vine:  # its checks, snapshotting envs, trunk and branch env; the driver plans each batch
                self.vine = VineSampler(envs, env.make, SamplerContext(cfg, env, self.actor, critic, self.obs_norm,
                                                                       self.rewards, cpu))  # type: ignore[arg-type]  # _RawRewards: RewardScaler's interface
                self.sp = self.vine.trunk
                self.sp.T = T
            else:
                self.sp = SinglePathSampler(envs, self.actor, self.obs_norm, self.rewards, T, seed, cpu)  # type: ignore[arg-type]  # duck-typed
        except BaseException:
            envs.close()
            raise
        self._rng = self.sp.rng  # a real generator for state_dict/load_state_dict; collects replay
        if state is not None:
            self.load_state(state)

    def ready(self) -> dict:
        info = {"pid": os.getpid(), "node": node_id(), "state": self.state()}
        if self.vine is not None:
            info.update(K=self.vine.K, enumerated=self.vine.enumerated)
        return info

    def state(self) -> dict:
        """The sampler's state (envs' snapshots when possible, episode counters, observations)."""
        self.sp.rng = self._rng
        d = self.sp.state_dict()
        d.pop("rng")
        return d

    def load_state(self, d: dict) -> bool:
        self.sp.rng = self._rng
        return self.sp.load_state_dict({**d, "rng": self._rng.bit_generator.state})

    def run(self, weights: dict, obs_rms: dict, plan: dict) -> dict:
        t0 = time.perf_counter()
        self.actor.load_state_dict(weights)
        self.obs_norm.rms.load_state_dict(obs_rms)
        self.sp.rng = ReplayRNG([plan["trunk"]])  # type: ignore[assignment]  # Generator's interface
        try:
            if self.vine is None:
                batch, vine = self.sp.collect(), None
            else:
                batch, vine = self._vine(plan)
        finally:
            self.sp.rng = self._rng
        raw = self.sp.last_raw_obs  # the driver normalises (the same numbers): half the transfer
        out = {"raw": raw, "obs": batch.obs.numpy() if raw is None else None, "actions": batch.actions.numpy(),
               "rewards": self.rewards.rewards, "done": self.rewards.done,
               "terminated": batch.terminated.numpy(), "truncated": batch.truncated.numpy(),
               "last_obs": batch.last_obs.numpy(), "final_obs": batch.final_obs.numpy(),
               "final_idx": batch.final_idx.numpy(), "episode_returns": batch.episode_returns,
               "episode_lengths": batch.episode_lengths, "env_steps": batch.env_steps, "vine": vine}
        out["state"] = self.state()
        out["sample_s"] = time.perf_counter() - t0
        return out

    def _vine(self, plan: dict):
        """The local vine sampler's steps 1-3 for this worker's share of the rollout set
        (``plan["states"]``: flat indices t * num_envs + i into its trunk, sorted)."""
        vs: VineSampler = self.vine  # type: ignore[assignment]  # run() calls this with one
        n = self.sp.N
        frozen = ObsNormalizer(self.obs_norm.rms.mean.shape, self.obs_norm.enabled, self.obs_norm.clip)
        frozen.rms.load_state_dict(self.obs_norm.rms.state_dict())  # pi_old for the branches
        local = np.asarray(plan["states"], np.int64)
        vs.envs.t, vs.envs.snaps, vs.envs.targets = 0, {}, {}
        for f in local:
            vs.envs.targets.setdefault(int(f // n), []).append(int(f % n))
        batch = self.sp.collect()
        obs = batch.flat(batch.obs).numpy()[local]
        policy = make_policy(self.actor, self.device)
        if vs.enumerated:
            actions = np.tile(np.arange(vs.K), (len(local), 1))
        else:
            actions = policy.act(np.repeat(obs, vs.K, 0), ReplayRNG([plan["actions"]]))
            actions = np.asarray(actions).reshape(len(local), vs.K, *vs.act_space.shape)  # type: ignore[misc]  # a Box or MultiDiscrete
        q = np.empty((len(local), vs.K))
        steps = 0
        for j, f in enumerate(local):
            state = vs.envs.snaps[(int(f // n), int(f % n))]
            for k in range(vs.K):
                q[j, k], s = branch_return(vs.branch_env, state, actions[j, k], policy, frozen, vs.act_space,
                                           self.cfg.vine_branch_length, self.cfg.gamma, int(plan["crn"][j]))
                steps += s
        if not np.isfinite(q).all():
            raise NonFiniteError("non-finite branch return in vine sampling")
        batch.env_steps += steps
        return batch, {"actions": actions, "q": q}

    def close(self) -> None:
        if self.vine is not None:
            self.vine.close()
        else:
            self.sp.close()
