"""The Sampler interface: what the training loop calls on every way of producing batches.

    sampler = SAMPLER_CLASS.build(ctx)      # ctx: a SamplerContext, the same for every sampler
    batch = sampler.collect()               # the next Batch, from the current policy
    sampler.state_dict() / load_state_dict(d) -> bool   # True: the envs were restored too
                                            # (exact resume); False: they restart from a reset
    sampler.close()                         # its envs, processes, actors; idempotent
    sampler.summary() -> dict               # counters for summary.json (e.g. worker restarts)

A sampler knows the actor (to act), the observation normaliser and reward scaler (to feed it),
and how to make envs; it never knows a learner. Work that a learner wants done next to the
rollout (A3C's worker gradients) arrives as ``ctx.rollout_fn``, a plain function.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    from trpo.config import Config
    from trpo.envs.make import EnvSpec
    from trpo.nets.normalize import ObsNormalizer, RewardScaler
    from trpo.nets.policies import Actor, Critic
    from trpo.rollout.batch import Batch


@dataclass
class SamplerContext:
    cfg: Config                         # resolved: vector_mode, device, sampler are concrete
    env: EnvSpec                        # makes one env or a vector env of the run's env
    actor: Actor
    critic: Critic                      # for samplers that ship both networks to workers
    obs_norm: ObsNormalizer
    reward_scaler: RewardScaler
    device: torch.device
    rollout_fn: Callable[..., Any] | None = None
    own_networks: bool = False          # actor or critic of the user's own (``trpo.train(actor=...)``): samplers
                                        # whose workers build their networks from the config refuse them


OWN_NETWORKS_REFUSED = ("own actor/critic networks train with local sampling: not with backend 'ray' or "
                        "a3c's async workers (they build their networks from the config)")


@runtime_checkable
class Sampler(Protocol):
    # why this backend's process may end without running Python (the trainer then starts a
    # watcher that prints the resume command: trpo.runs.SilentExitWatch), or None
    silent_exit: str | None

    def collect(self) -> Batch: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, d: dict) -> bool: ...

    def close(self) -> None: ...

    def summary(self) -> dict: ...

    def describe(self) -> str | None: ...
