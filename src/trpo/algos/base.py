"""The Learner interface: what the training loop calls on every algorithm, and nothing more.

    learner = Learner(actor, critic, cfg, device)   # cfg already resolved (trpo.resolve)
    stats = learner.update(batch)                   # one policy (and critic) update from a Batch
    learner.sync()                                  # finish any work still running elsewhere
    learner.state_dict() / load_state_dict(d)       # optimisers, schedules, counters (not the nets)
    learner.close()                                 # release helper processes; idempotent
    learner.rollout_fn                              # None, or work to do where each batch is
                                                    # sampled (A3C: the worker's gradients)

The networks themselves belong to the ``Agent`` and are saved by the trainer. ``LearnerBase``
gives the no-op ``sync`` and ``close`` that most learners need.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from trpo.rollout.batch import Batch


@runtime_checkable
class Learner(Protocol):
    rollout_fn: Callable[..., Any] | None

    def update(self, batch: Batch) -> dict[str, float]: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, d: dict) -> None: ...


class LearnerBase:
    """No helper processes, nothing asynchronous: ``sync`` and ``close`` have nothing to do, and
    nothing runs where the batch is sampled."""

    rollout_fn: Callable[..., Any] | None = None

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass
