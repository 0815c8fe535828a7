"""Cutting a time-major batch into fixed-length sequences for recurrent networks.

A batch holds T steps of N envs, (T, N, ...). A recurrent learner trains on chunks of ``L`` steps
of one env each (truncated backpropagation through time, as sb3-contrib's RecurrentPPO and RLlib
do): chunk ``m = c * N + n`` holds steps ``c L .. c L + L - 1`` of env ``n``; with ``L`` dividing
``T`` there is no padding, so every per-step mean over chunks is the mean over the batch.
A chunk starts from the hidden state the sampler had at its first step (stored with the batch)
and resets to zero at every step where an episode starts.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Sequences:
    """What a recurrent network reads: M chunks of L steps."""

    obs: Tensor       # (M, L, *obs_shape)
    starts: Tensor    # (M, L) bool: an episode starts at this step (the state is zero before it)
    state0: Tensor    # (M, S): the state before each chunk's first step (detached)
    pos: Tensor | None = None  # (M,): read each chunk at this step only (vine's rollout states)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.starts.shape)  # type: ignore[return-value]  # starts is (M, L)

    @property
    def device(self) -> torch.device:
        return self.starts.device

    def __len__(self) -> int:
        return self.starts.shape[0]

    def __getitem__(self, idx) -> Sequences:
        return Sequences(self.obs[idx], self.starts[idx], self.state0[idx], None if self.pos is None else self.pos[idx])

    def to(self, device: torch.device) -> Sequences:
        return Sequences(self.obs.to(device), self.starts.to(device), self.state0.to(device),
                         None if self.pos is None else self.pos.to(device))

    def read(self, out: Tensor) -> Tensor:
        """A network's per-step outputs (M, L, ...) as this batch asks for them: all steps, or
        with ``pos`` one step per chunk, (M, ...)."""
        return out if self.pos is None else out[torch.arange(out.shape[0], device=out.device), self.pos]


def chunk(x: Tensor, L: int) -> Tensor:
    """(T, N, ...) -> (T/L * N, L, ...): chunk m = c N + n is steps c L .. c L + L - 1 of env n."""
    T, N = x.shape[:2]
    if T % L:
        raise ValueError(f"seq_len {L} does not divide the {T} steps per env of the batch")
    return x.reshape(T // L, L, N, *x.shape[2:]).transpose(1, 2).reshape((T // L) * N, L, *x.shape[2:])


def unchunk(x: Tensor, T: int, N: int) -> Tensor:
    """The inverse of ``chunk``: (T/L * N, L, ...) -> (T, N, ...)."""
    L = x.shape[1]
    return x.reshape(T // L, N, L, *x.shape[2:]).transpose(1, 2).reshape(T, N, *x.shape[2:])


def row_length(x) -> int:
    """Steps per row of what a network reads: 1 for a flat (B, ...) tensor, L for Sequences."""
    return x.shape[1] if isinstance(x, Sequences) else 1
