"""Composable training callbacks (what Stable-Baselines3's users know as ``BaseCallback``).

    from trpo.callbacks import CheckpointEvery, StopOnThreshold
    trpo.train(cfg, callback=[StopOnThreshold(475), CheckpointEvery(50_000)])

A callback is a callable ``(row, agent) -> bool | str | None`` that the trainer calls after every
iteration with the metrics row (periodic evaluation included, where one ran); a true return value
stops the run cleanly (a checkpoint, then the final evaluation). A string is a true value that
also says why: ``summary.json`` records ``stop_reason = "callback: <the string>"`` (any other true
value: ``"callback"``). A plain function is a callback; so is a list of them (``CallbackList``).

``Callback`` adds one hook, ``on_start(run)``, called once before the first iteration (also on a
resume) with a ``RunHandle``: the run directory, the resolved config, the counters so far, and
``run.save_checkpoint(directory)``, which writes a full checkpoint (the one ``--resume`` and
``trpo.load`` read) into a directory of the callback's choosing. The trainer knows no built-in
callback: it calls ``on_start`` and ``__call__`` on whatever ``as_callback`` made of its argument.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trpo.agent import Agent
    from trpo.config import Config


class RunHandle:
    """What a callback may see and do of the run (``Callback.on_start``): ``path`` (the run
    directory), ``cfg`` (the resolved config), ``iteration`` and ``env_steps`` (live counters), and
    ``save_checkpoint(directory, keep=None)``: a full checkpoint of the current state, named
    ``ckpt-NNNNNN`` by iteration like those in ``RUN/checkpoints``; ``keep``: how many of that
    directory's newest checkpoints to keep (None: all). Returns the manifest's path."""

    def __init__(self, path: Path, cfg: Config, counters: dict, save: Callable[[Path, int | None], Path]):
        self.path, self.cfg = Path(path), cfg
        self._counters, self._save = counters, save

    @property
    def iteration(self) -> int:
        return self._counters["iteration"]

    @property
    def env_steps(self) -> int:
        return self._counters["env_steps"]

    def save_checkpoint(self, directory: str | Path, keep: int | None = None) -> Path:
        return self._save(Path(directory), keep)


class Callback:
    """Subclass and override ``__call__`` (and ``on_start`` if it needs the run)."""

    def on_start(self, run: RunHandle) -> None:
        """Once, before the first iteration of this ``train`` call (a resume calls it again)."""

    def __call__(self, row: dict, agent: Agent) -> bool | str | None:
        return None


class FunctionCallback(Callback):
    """A plain ``f(row, agent)`` as a ``Callback`` (what ``as_callback`` makes of a function)."""

    def __init__(self, fn: Callable[[dict, Agent], Any]):
        self.fn = fn

    def __call__(self, row: dict, agent: Agent) -> Any:
        return self.fn(row, agent)

    def __repr__(self) -> str:
        return f"FunctionCallback({getattr(self.fn, '__name__', self.fn)!r})"


class CallbackList(Callback):
    """Calls every callback, in order, every iteration (also after one asked to stop, so that a
    checkpointing callback still sees the last row); stops the run if any asks, with the first
    reason given."""

    def __init__(self, callbacks: Iterable[Callable]):
        self.callbacks = [as_callback(c) for c in callbacks]

    def on_start(self, run: RunHandle) -> None:
        for c in self.callbacks:
            c.on_start(run)

    def __call__(self, row: dict, agent: Agent) -> bool | str | None:
        stop: Any = None
        for c in self.callbacks:
            out = c(row, agent)
            if out and not stop:
                stop = out
        return stop


class StopOnThreshold(Callback):
    """Stops the run once ``row[on] >= threshold`` (default: the periodic evaluation's mean return,
    ``eval_return_mean``). Rows where the column is empty (no evaluation ran in that iteration) or
    NaN (no episode ended yet) are ignored; a column the rows do not have is a KeyError naming the
    columns they do have. Like ``stop_at_return``, which reads the same evaluation, but on any column."""

    def __init__(self, threshold: float, on: str = "eval_return_mean"):
        self.threshold, self.on = float(threshold), on

    def __call__(self, row: dict, agent: Agent) -> str | None:
        if self.on not in row:
            raise KeyError(f"StopOnThreshold: the metrics rows have no column {self.on!r}; they have "
                           f"{', '.join(row)}")
        v = row[self.on]
        if v is None or not math.isfinite(v) or v < self.threshold:
            return None
        return f"StopOnThreshold: {self.on} {v:.4g} >= {self.threshold:g}"


class CheckpointEvery(Callback):
    """A full checkpoint every ``steps`` env steps, into ``path`` (default ``RUN/checkpoints/every``;
    a relative path is taken inside the run directory), named ``ckpt-NNNNNN`` by iteration; all are
    kept unless ``keep`` says how many. Each is a complete checkpoint: ``trpo.load(manifest)``
    loads its policy, ``trpo.train(None, resume=RUN, checkpoint=...)`` does not (it resumes from
    ``RUN/checkpoints`` only); ``trpo eval RUN --checkpoint manifest`` evaluates it. The first one
    is written at the first iteration that reaches a multiple of ``steps`` (iterations move in
    whole batches, so the multiples are crossed, not hit); a resumed run continues the count."""

    def __init__(self, steps: int, path: str | Path | None = None, keep: int | None = None):
        if int(steps) < 1:
            raise ValueError(f"CheckpointEvery: steps must be at least 1, not {steps}")
        self.steps, self.path, self.keep = int(steps), path, keep
        self.run: RunHandle | None = None
        self.saved: list[Path] = []  # manifests written by this callback in this train() call

    def on_start(self, run: RunHandle) -> None:
        self.run = run
        self.dir = run.path / (self.path if self.path is not None else Path("checkpoints") / "every")
        self._last = run.env_steps // self.steps

    def __call__(self, row: dict, agent: Agent) -> None:
        if self.run is None:
            raise RuntimeError("CheckpointEvery needs the run: pass it to trpo.train(callback=...)")
        k = row["env_steps"] // self.steps
        if k > self._last:
            self._last = k
            self.saved.append(self.run.save_checkpoint(self.dir, keep=self.keep))


def as_callback(callback: Callable | Iterable[Callable] | None) -> Callback:
    """What ``trpo.train(callback=...)`` accepts, as one ``Callback``: None (a callback that does
    nothing), a ``Callback``, a plain ``f(row, agent)``, or a list or tuple of these (a
    ``CallbackList``)."""
    if callback is None:
        return Callback()
    if isinstance(callback, Callback):
        return callback
    if isinstance(callback, (list, tuple)):
        return CallbackList(callback)
    if callable(callback):
        return FunctionCallback(callback)
    raise TypeError(f"callback must be a function f(row, agent), a trpo.callbacks.Callback or a list of them, "
                    f"not {type(callback).__name__}")


__all__ = ["Callback", "CallbackList", "CheckpointEvery", "FunctionCallback", "RunHandle", "StopOnThreshold",
           "as_callback"]
