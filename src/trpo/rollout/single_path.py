"""Single-path sampling (TRPO paper §5.1): run pi_old in N parallel envs for T steps each."""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from trpo.envs.lean_sync import LeanSyncVectorEnv
from trpo.errors import NonFiniteError
from trpo.nets.normalize import ObsNormalizer, RewardScaler
from trpo.nets.policies import Actor
from trpo.nets.policy_runner import NumpyPolicy, RecurrentPolicy, make_policy
from trpo.rollout.base import SamplerContext
from trpo.rollout.batch import Batch, SeqData
from trpo.timing import part


def action_to_env(space: gym.Space, a: np.ndarray) -> np.ndarray:
    """Gaussian samples are unbounded: clip to the Box for the env, keep the sample for log-probs."""
    if isinstance(space, gym.spaces.Box):
        # np.clip's result, without its Python layers (min(max(a, low), high), NaN kept)
        return np.minimum(np.maximum(a, space.low), space.high).astype(space.dtype, copy=False)
    return a


def env_snapshots(envs: gym.vector.VectorEnv) -> list[dict] | None:
    """Snapshots of every env of a sync (or split) vector env (one snapshot for an array-at-once
    vector env with ``get_snapshot``), or None when that is not possible."""
    if hasattr(envs, "env_snapshots"):  # split: the same per-env list, from its helpers too
        return envs.env_snapshots()
    if hasattr(envs, "get_snapshot"):
        return [envs.get_snapshot()]
    try:
        from trpo.envs.snapshot import snapshot, supports
    except ImportError:
        return None
    subs = getattr(envs, "envs", None)  # SyncVectorEnv only; async envs live in other processes
    if not subs or not all(supports(e) for e in subs):
        return None
    return [snapshot(e) for e in subs]


def restore_env_snapshots(envs: gym.vector.VectorEnv, states: list[dict]) -> bool:
    """Restore ``env_snapshots``; False (nothing restored) when the vector env does not match.
    ``sync`` and ``split`` write the same list (one snapshot per env), so a checkpoint of one
    resumes exactly in the other. Checkpoints of ``split`` made before 2026-12-07 held the list
    under ``{"split_envs": [...]}``: read too."""
    if len(states) == 1 and isinstance(states[0], dict) and isinstance(states[0].get("split_envs"), list):
        states = states[0]["split_envs"]
    if hasattr(envs, "restore_env_snapshots"):
        return envs.restore_env_snapshots(states)
    if hasattr(envs, "set_snapshot"):
        return len(states) == 1 and bool(envs.set_snapshot(states[0]))
    try:
        from trpo.envs.snapshot import restore, supports
    except ImportError:
        return False
    subs = getattr(envs, "envs", None)
    if not subs or len(subs) != len(states) or not all(supports(e) for e in subs):
        return False
    for e, s in zip(subs, states):
        restore(e, s)
    return True


def check_obs(obs: np.ndarray, where: str) -> None:
    if not np.isfinite(obs).all():
        raise NonFiniteError(f"non-finite observation from the environment at {where}")


def run_slice(envs: gym.vector.VectorEnv, lo: int, hi: int, n: int, raw_obs: np.ndarray, policy: NumpyPolicy,
              obs_norm: ObsNormalizer, noise: np.ndarray, keep_raw: bool) -> tuple[dict, np.ndarray]:
    """T = len(noise) steps of ``envs``, the envs lo:hi of a batch of n, from their raw
    observations ``raw_obs``, acting with ``policy`` and this slice's ``noise`` (T, hi - lo, k).
    Returns the slice's arrays (raw and normalised observations, actions, raw rewards, terminated,
    truncated; ``finals``: the raw final observation of each truncated (step, env of the batch))
    and its raw observations after the last step. The policy's forward sees all n rows (the
    others zero): the bits of the whole batch's forward (``NumpyPolicy.act_with``; the slice's noise
    scaled at once, ``act_scaled``)."""
    T, k = len(noise), hi - lo
    obs_dim = raw_obs.shape[1:]
    space = envs.single_action_space
    x = np.zeros((n, *obs_dim), obs_norm.dtype)  # the policy's input; this slice's rows filled
    mine = x[lo:hi]
    raw = np.empty((T, k, *obs_dim), np.float32) if keep_raw else None
    obs = np.empty((T, k, *obs_dim), obs_norm.dtype)
    acts = None
    rews = np.empty((T, k), np.float64)
    term = np.empty((T, k), bool)
    trunc = np.empty((T, k), bool)
    finals: dict[tuple[int, int], np.ndarray] = {}
    # a lean sync vector env itself (not a wrapper with its own step, as vine's) writes each step
    # into these rows: no copies, no info dict
    into = envs.step_into if type(envs) is LeanSyncVectorEnv and envs.steps_lean else None
    scaled, rows = policy.scale_noise(noise), slice(lo, hi)  # std * eps for the whole slice at once
    nxt = np.empty(raw_obs.shape, envs.single_observation_space.dtype)  # the dtype step's observations have
    for t in range(T):
        if raw is not None:
            raw[t] = raw_obs
        obs[t] = obs_norm(raw_obs, out=mine)
        with part("sampling: policy inference"):
            a = policy.act_scaled(x, scaled[t], rows)
        if acts is None:
            acts = np.empty((T, *a.shape), a.dtype)
        acts[t] = a
        with part("sampling: env step"):
            if into is not None:
                ended = into(action_to_env(space, a), nxt, rews[t], term[t], trunc[t])
                next_obs = nxt
            else:
                next_obs, r, te, tr, info = envs.step(action_to_env(space, a))
                rews[t], term[t], trunc[t] = r, te, tr
                ended = [(int(i), info["final_obs"][i]) for i in np.flatnonzero(tr & ~te)] if tr.any() else []
        check_obs(next_obs, f"step {t} of the batch")
        for i, final in ended:  # the final observation of a truncated episode: its bootstrap
            if trunc[t, i] and not term[t, i]:
                finals[(t, lo + i)] = np.asarray(final)
        raw_obs = next_obs
    return {"raw": raw, "obs": obs, "acts": acts, "rews": rews, "term": term, "trunc": trunc,
            "finals": finals}, raw_obs  # nxt (when the last step went through step_into) is this call's own


class SinglePathSampler:
    """Owns the vector env and the running episode bookkeeping between iterations."""
    silent_exit: str | None = None

    @classmethod
    def build(cls, ctx: SamplerContext) -> SinglePathSampler:
        envs = ctx.env.make_vector(ctx.cfg.num_envs)
        try:
            return cls(envs, ctx.actor, ctx.obs_norm, ctx.reward_scaler, ctx.cfg.steps_per_env, ctx.cfg.seed,
                       ctx.device, critic=ctx.critic, seq_len=ctx.cfg.seq_len)
        except BaseException:
            envs.close()
            raise

    def __init__(self, envs: gym.vector.VectorEnv, actor: Actor, obs_norm: ObsNormalizer,
                 reward_scaler: RewardScaler, steps_per_env: int, seed: int, device: torch.device,
                 critic: torch.nn.Module | None = None, seq_len: int = 0):
        self.envs, self.actor, self.obs_norm, self.reward_scaler = envs, actor, obs_norm, reward_scaler
        self.T, self.N = steps_per_env, envs.num_envs
        self.device = device
        self.rng = np.random.default_rng(seed)
        self.act_space = envs.single_action_space
        self.raw_obs, _ = envs.reset(seed=seed)
        check_obs(self.raw_obs, "reset")
        self.ep_return = np.zeros(self.N)
        self.ep_length = np.zeros(self.N, np.int64)
        self._in_batch = False  # inside collect until its batch is in (state_dict)
        # a recurrent actor (trpo.nets.recurrent): the hidden states of actor and critic, carried across
        # batches within an episode, and which envs start an episode at their next step
        self.recurrent = getattr(actor, "recurrent", False)
        if self.recurrent:
            if critic is None or not getattr(critic, "recurrent", False):
                raise ValueError("a recurrent actor is sampled with its recurrent critic (critic=...): the "
                                 "critic's hidden state is stepped along for the learner's values")
            self.policy = RecurrentPolicy(actor, device, critic)
            self.seq_len = seq_len or self.T
            self._fresh_states()

    def _fresh_states(self) -> None:
        self.state = self.policy.initial_state(self.N)
        self.starts = np.ones(self.N, bool)

    def collect(self) -> Batch:
        T, N = self.T, self.N
        rec = self.recurrent
        policy: Any = self.policy if rec else make_policy(self.actor, self.device)  # act()'s signature follows rec
        obs_dim = self.raw_obs.shape[1:]
        self._in_batch = True
        if isinstance(policy, NumpyPolicy) and policy.draws_ahead:
            steps = self._run_slices(policy)
        else:
            steps = self._run_steps(policy)
        raw, obs, acts, rews, term, trunc = (steps[k] for k in ("raw", "obs", "acts", "rews", "term", "trunc"))
        ep_returns, ep_lengths, final_obs, final_idx = self._episodes(steps)
        if not np.isfinite(rews).all():
            t = int(np.flatnonzero(~np.isfinite(rews).all(1))[0])
            raise NonFiniteError(f"non-finite reward from the environment at step {t} of the batch")
        rews = self.reward_scaler(rews, term | trunc).astype(np.float32)
        last = self.obs_norm(self.raw_obs)
        if self.obs_norm.enabled:  # statistics move only between batches: one pi_old per batch
            self.obs_norm.rms.update(raw.reshape(-1, *obs_dim))
        self.last_raw_obs = raw  # the batch's raw observations (None: normalisation off), for samplers
        #                          built on this one whose statistics live elsewhere (async workers)
        # a step both terminated and truncated (a fall on the last allowed step) is terminal: no
        # bootstrap; it is not also marked truncated (which would bootstrap from its final obs)
        fo = np.stack(final_obs) if final_obs else np.zeros((0, *obs_dim), self.obs_norm.dtype)
        self._in_batch = False
        seq = None
        if rec:
            h_critic = self.state[1]
            final_states = [steps["final_states"][k] for k in steps["final_keys"]]
            seq = SeqData(self.seq_len, torch.from_numpy(steps["starts"]), steps["states"][0], steps["states"][1],
                          h_critic.cpu().clone(),
                          torch.stack(final_states) if final_states else torch.zeros((0, h_critic.shape[1])))
        return Batch(
            obs=torch.from_numpy(obs), actions=torch.from_numpy(acts), rewards=torch.from_numpy(rews),
            terminated=torch.from_numpy(term), truncated=torch.from_numpy(trunc & ~term),
            last_obs=torch.from_numpy(last), final_obs=torch.from_numpy(fo),
            final_idx=torch.as_tensor(final_idx, dtype=torch.long), env_steps=T * N,
            episode_returns=ep_returns, episode_lengths=ep_lengths, seq=seq)

    def _run_slices(self, policy: NumpyPolicy) -> dict:
        """The batch from a policy whose noise is drawn ahead (``NumpyPolicy.noise``): each slice
        of the vector env runs all T steps on its own, a ``split`` vector env's slices at once in
        their processes (``map_slices``; no hand-over per step) when the forward is numpy alone,
        any other vector env as one slice."""
        noise = policy.noise(self.rng, self.T, self.N)
        N, keep_raw = self.N, self.obs_norm.enabled
        map_slices = getattr(self.envs, "map_slices", None)
        if map_slices is None or not policy.numpy_only:  # (split: its per-step hand-over then)
            steps, self.raw_obs = run_slice(self.envs, 0, N, N, self.raw_obs, policy, self.obs_norm, noise, keep_raw)
            return steps
        parts = map_slices(run_slice, lambda lo, hi: (lo, hi, N, self.raw_obs[lo:hi], policy, self.obs_norm,
                                                      noise[:, lo:hi], keep_raw),
                           waiting=lambda: part("sampling: waiting for the helpers"))
        steps = {k: None if parts[0][0][k] is None else np.concatenate([p[0][k] for p in parts], axis=1)
                 for k in ("raw", "obs", "acts", "rews", "term", "trunc")}
        steps["finals"] = {key: fo for p in parts for key, fo in p[0]["finals"].items()}
        self.raw_obs = np.concatenate([p[1] for p in parts])
        return steps

    def _run_steps(self, policy: Any) -> dict:
        """The batch one vector step at a time: a recurrent policy (its hidden states reset where
        an episode ends), a torch policy (it draws from the generator at each step), a
        multi-discrete one (its draws interleave its parts)."""
        T, N = self.T, self.N
        rec = self.recurrent
        obs_dim = self.raw_obs.shape[1:]
        raw = np.empty((T, N, *obs_dim), np.float32) if self.obs_norm.enabled else None  # for the statistics
        obs = np.empty((T, N, *obs_dim), self.obs_norm.dtype)  # normalised obs the policy saw (uint8 frames)
        acts = None
        rews = np.empty((T, N), np.float64)                  # raw, scaled once the batch is in
        term = np.empty((T, N), bool)
        trunc = np.empty((T, N), bool)
        finals: dict[tuple[int, int], np.ndarray] = {}
        steps: dict[str, Any] = {}
        if rec:  # the states each step was taken from, for the learner's sequences
            starts = np.empty((T, N), bool)
            states = [torch.empty((T, N, h.shape[1])) for h in self.state]
            final_states: dict[tuple[int, int], torch.Tensor] = {}
            steps.update(starts=starts, states=states, final_states=final_states)
        for t in range(T):
            if raw is not None:
                raw[t] = self.raw_obs
            self.obs_norm(self.raw_obs, out=obs[t])
            if rec:
                starts[t] = self.starts
                for store, h in zip(states, self.state):
                    store[t] = h
                with part("sampling: policy inference"):
                    a, self.state = policy.act(obs[t], self.state, self.rng)
            else:
                with part("sampling: policy inference"):
                    a = policy.act(obs[t], self.rng)
            if acts is None:
                acts = np.empty((T, *a.shape), a.dtype)
            acts[t] = a
            with part("sampling: env step"):
                next_obs, r, te, tr, info = self.envs.step(action_to_env(self.act_space, a))
            check_obs(next_obs, f"step {t} of the batch")
            rews[t], term[t], trunc[t] = r, te, tr
            done = te | tr
            if done.any():
                for i in np.flatnonzero(tr & ~te):
                    finals[(t, int(i))] = np.asarray(info["final_obs"][i])
                    if rec:  # the critic's state after this step values the final observation
                        final_states[(t, int(i))] = self.state[1][i].cpu()
            self.raw_obs = next_obs
            if rec:
                self.state = policy.reset(self.state, done)
                self.starts = done
        steps.update(raw=raw, obs=obs, acts=acts, rews=rews, term=term, trunc=trunc, finals=finals)
        return steps

    def _episodes(self, steps: dict) -> tuple[list[float], list[int], list[np.ndarray], list[int]]:
        """The episodes that ended in the batch, in step order: their returns and lengths (the
        running counters carried across batches), and the normalised final observations of the
        truncated ones (bootstrapped from) with their flat indices."""
        rews, term, trunc, finals = steps["rews"], steps["term"], steps["trunc"], steps["finals"]
        N = self.N
        done = term | trunc
        ended = done.any(1)
        ep_returns: list[float] = []
        ep_lengths: list[int] = []
        final_obs: list[np.ndarray] = []
        final_idx: list[int] = []
        keys = []
        stops = np.flatnonzero(ended).tolist()  # the steps where an episode ended, then the batch's last
        if not stops or stops[-1] != len(rews) - 1:
            stops.append(len(rews) - 1)
        t0 = 0
        for t in stops:
            # ep_return += rews[t0]; ...; += rews[t]: add.accumulate is that sequential scan (the same
            # additions in the same order); a non-finite reward raises after this, before anything uses it
            self.ep_return = np.add.accumulate(np.concatenate([self.ep_return[None], rews[t0:t + 1]]), axis=0)[-1]
            self.ep_length += t + 1 - t0
            t0 = t + 1
            if not ended[t]:
                continue
            for i in np.flatnonzero(done[t]):
                ep_returns.append(float(self.ep_return[i]))
                ep_lengths.append(int(self.ep_length[i]))
                if trunc[t, i] and not term[t, i]:
                    fo = finals[(t, int(i))]
                    check_obs(fo, f"step {t} of the batch (final observation)")
                    final_obs.append(self.obs_norm(fo))
                    final_idx.append(t * N + int(i))
                    keys.append((t, int(i)))
            self.ep_return[done[t]] = 0.0
            self.ep_length[done[t]] = 0
        steps["final_keys"] = keys
        return ep_returns, ep_lengths, final_obs, final_idx

    def state_dict(self) -> dict:
        """Everything the next ``collect`` depends on: the action-sampling RNG, the running episode
        counters, the current observations and, for a sync vector env whose envs can be
        snapshotted (trpo.envs.snapshot), every env's full state. Then resume is bitwise exact."""
        d = {"rng": self.rng.bit_generator.state, "ep_return": self.ep_return.copy(),
             "ep_length": self.ep_length.copy()}
        if self._in_batch:
            # a batch that did not complete (an error, a second Ctrl-C) left the envs, the generator
            # and the observations at different steps: a resume from here starts fresh episodes
            return d
        d["raw_obs"] = np.array(self.raw_obs, copy=True)
        if self.recurrent:  # the hidden states are part of where the envs are
            d["policy_state"] = [h.cpu().numpy().copy() for h in self.state]
            d["starts"] = self.starts.copy()
        envs = env_snapshots(self.envs)
        if envs is not None:
            d["envs"] = envs
        return d

    def load_state_dict(self, d: dict) -> bool:
        """Restore the sampler; returns True when the envs were restored too (exact resume),
        False when they continue from a fresh reset (async envs, envs without snapshots)."""
        self.rng.bit_generator.state = d["rng"]
        ep_return = np.asarray(d["ep_return"], np.float64)
        ep_length = np.asarray(d["ep_length"], np.int64)
        if "envs" not in d or "raw_obs" not in d or not restore_env_snapshots(self.envs, d["envs"]):
            return False  # fresh episodes: the counters (and hidden states) restart with them
        self.ep_return, self.ep_length = ep_return.copy(), ep_length.copy()
        self.raw_obs = np.array(d["raw_obs"], copy=True)
        if self.recurrent:
            if "policy_state" not in d:
                raise ValueError("the checkpoint's sampler state has no hidden states for this recurrent policy")
            self.state = tuple(torch.as_tensor(h, device=self.device).clone() for h in d["policy_state"])
            self.starts = np.asarray(d["starts"], bool).copy()
        return True

    def describe(self) -> str | None:
        return None  # the run's header says nothing more for the local samplers

    def summary(self) -> dict:
        return {}

    def close(self) -> None:
        self.envs.close()
