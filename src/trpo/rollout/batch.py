"""The Batch every sampler produces and every learner consumes."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class VineData:
    """Vine sampling's extra data (TRPO paper Sec. 5.2): the rollout set and its branch returns."""

    obs: Tensor                 # (N, obs_dim): the rollout-set states s_n (normalised)
    actions: Tensor             # (N, K, *act_shape): the K actions tried at each
    q: Tensor                   # (N, K): Q-hat(s_n, a_nk) from the branch rollouts
    enumerated: bool            # every action of a Discrete space (eq. 15), else K draws (eq. 16)

    def to(self, device: torch.device) -> "VineData":
        return VineData(self.obs.to(device), self.actions.to(device), self.q.to(device), self.enumerated)


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

    def to(self, device: torch.device) -> "Batch":
        moved = {k: (v.to(device) if isinstance(v, (Tensor, VineData)) else v) for k, v in self.__dict__.items()}
        return Batch(**moved)
