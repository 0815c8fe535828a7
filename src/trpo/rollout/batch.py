"""The Batch every sampler produces and every learner consumes."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from trpo.functional.sequences import Sequences, chunk, unchunk


@dataclass
class VineData:
    """Vine sampling's extra data (TRPO paper Sec. 5.2): the rollout set and its branch returns."""

    obs: Tensor                 # (N, obs_dim): the rollout-set states s_n (normalised)
    actions: Tensor             # (N, K, *act_shape): the K actions tried at each
    q: Tensor                   # (N, K): Q-hat(s_n, a_nk) from the branch rollouts
    enumerated: bool            # every action of a Discrete space (eq. 15), else K draws (eq. 16)
    actor_states: Tensor | None = None   # (N, S): a recurrent actor's hidden state at each s_n
    critic_states: Tensor | None = None  # (N, S): the critic's
    windows: Sequences | None = None     # a recurrent actor's input for each s_n: the trunk steps
    #                                      before it, read at s_n (``Sequences.pos``)

    def to(self, device: torch.device) -> VineData:
        return VineData(self.obs.to(device), self.actions.to(device), self.q.to(device), self.enumerated,
                        *(None if h is None else h.to(device)  # type: ignore[arg-type]  # each keeps its type
                          for h in (self.actor_states, self.critic_states, self.windows)))


@dataclass
class SeqData:
    """What a recurrent policy's batch adds (``trpo.nets.recurrent``): episode starts and hidden states.
    States are the ones the sampler acted with: before each step, zero at an episode's start."""

    seq_len: int                # L: the learner trains on chunks of L steps (functional.sequences)
    starts: Tensor              # (T, N) bool: the step is the first of an episode
    actor_states: Tensor        # (T, N, S_actor): the actor's state before each step
    critic_states: Tensor       # (T, N, S_critic): the critic's, stepped along by the sampler
    last_critic_state: Tensor   # (N, S_critic): the critic's state before ``last_obs``
    final_critic_states: Tensor  # (K, S_critic): after each truncated step (before the reset),
    #                              the state ``final_obs`` is valued from

    def to(self, device: torch.device) -> SeqData:
        return SeqData(self.seq_len, *(getattr(self, k).to(device) for k in
                                       ("starts", "actor_states", "critic_states", "last_critic_state",
                                        "final_critic_states")))


@dataclass
class Batch:
    """T steps of N envs, time-major. Observations are already normalised.

    ``terminated`` and ``truncated`` stay apart: a truncated step bootstraps from the value of
    its final observation (``final_obs`` at flat indices ``final_idx = t * N + n``).
    """

    obs: Tensor                 # (T, N, obs_dim)
    actions: Tensor             # (T, N, *act_shape), as sampled (before clipping to the bounds)
    rewards: Tensor             # (T, N), scaled if reward normalisation is on
    terminated: Tensor          # (T, N) bool
    truncated: Tensor           # (T, N) bool
    last_obs: Tensor            # (N, obs_dim): s_T, to bootstrap the unfinished episodes
    final_obs: Tensor           # (K, obs_dim): final observations of the truncated steps
    final_idx: Tensor           # (K,) flat indices of the truncated steps
    env_steps: int              # env steps simulated to make this batch (all of them)
    episode_returns: list[float] = field(default_factory=list)  # undiscounted, unscaled
    episode_lengths: list[int] = field(default_factory=list)
    vine: VineData | None = None  # vine sampling's rollout set and Q-hat (single path: None)
    extras: dict = field(default_factory=dict)  # what a learner's rollout_fn computed (A3C: gradients)
    seq: SeqData | None = None  # recurrent policies: episode starts and hidden states (MLP: None)
    _chunked: dict = field(default_factory=dict, init=False, repr=False, compare=False)  # inputs(), made once

    @property
    def done(self) -> Tensor:
        return self.terminated | self.truncated

    @property
    def T(self) -> int:
        return self.obs.shape[0]

    @property
    def N(self) -> int:
        return self.obs.shape[1]

    def flat(self, x: Tensor) -> Tensor:
        return x.reshape(self.T * self.N, *x.shape[2:])

    def rows(self, x: Tensor) -> Tensor:
        """Per-step data (T, N, ...) in the rows a learner computes its losses over: flat (T N, ...)
        for MLP policies, chunks (M, L, ...) for recurrent ones (the order of ``inputs``)."""
        return self.flat(x) if self.seq is None else chunk(x, self.seq.seq_len)

    def inputs(self, critic: bool = False) -> Tensor | Sequences:
        """The observations as the actor (or the critic) reads them: flat (T N, ...), or the
        batch's Sequences, each chunk from that network's stored state at its first step."""
        if self.seq is None:
            return self.flat(self.obs)
        s, L, key = self.seq, self.seq.seq_len, "critic" if critic else "actor"
        if key not in self._chunked:  # one copy of the chunked frames for both networks and every call
            if "obs" not in self._chunked:
                self._chunked["obs"] = chunk(self.obs, L), chunk(s.starts, L)
            states = s.critic_states if critic else s.actor_states
            self._chunked[key] = Sequences(*self._chunked["obs"], chunk(states, L)[:, 0])  # type: ignore[call-arg]  # obs and starts from the tuple
        return self._chunked[key]

    def unrows(self, x: Tensor) -> Tensor:
        """The inverse of ``rows``: back to (T, N, ...)."""
        return x.reshape(self.T, self.N, *x.shape[1:]) if self.seq is None else unchunk(x, self.T, self.N)

    def to(self, device: torch.device) -> Batch:
        moved = {k: (v.to(device) if isinstance(v, (Tensor, VineData, SeqData)) else v)
                 for k, v in self.__dict__.items() if k != "_chunked"}
        return Batch(**moved)  # type: ignore[arg-type]  # the same fields, moved
