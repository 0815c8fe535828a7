"""The Batch every sampler produces and every learner consumes."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


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
    extras: dict = field(default_factory=dict)  # sampler-specific data (e.g. vine rollouts)

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
        moved = {k: (v.to(device) if isinstance(v, Tensor) else v) for k, v in self.__dict__.items()}
        return Batch(**moved)
