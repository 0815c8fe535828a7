"""Explicit timers around the parts of a training iteration, for the profiler
(``benchmarks/harness.py profile``). Off by default: a timed part then costs one attribute read and
a no-op context manager (well under a microsecond, against ~100 us per env step).

    from trpo.timing import TIMERS, part, timed
    with part("sampling: env step"):          # around a statement
        ...
    @timed("update: critic fit")               # around every call of a function
    def fit_critic(...): ...

    TIMERS.start(); train(...); TIMERS.stop()  # then TIMERS.wall / .cpu / .calls per label

Wall time is ``time.perf_counter``; CPU time is the process's (all its threads). A label counts the
time inside it, so parts that contain one another must not both be timed (the labels in the code
never nest, except the two halves of an iteration, "sampling" and "update", around everything).
"""
from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Timers:
    def __init__(self) -> None:
        self.on = False
        self.reset()

    def reset(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def start(self) -> None:
        self.reset()
        self.on = True

    def stop(self) -> None:
        self.on = False


TIMERS = Timers()


class _Off:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        return None


_OFF = _Off()


class _Part:
    __slots__ = ("c", "label", "t")

    def __init__(self, label: str):
        self.label = label

    def __enter__(self) -> None:
        self.t, self.c = time.perf_counter(), time.process_time()

    def __exit__(self, *exc) -> None:
        TIMERS.wall[self.label] += time.perf_counter() - self.t
        TIMERS.cpu[self.label] += time.process_time() - self.c
        TIMERS.calls[self.label] += 1
        return None


def part(label: str) -> _Part | _Off:
    """A context manager that adds its block's time to ``label`` while the timers are on."""
    return _Part(label) if TIMERS.on else _OFF


def timed(label: str) -> Callable[[F], F]:
    """A decorator: every call of the function counts to ``label`` while the timers are on."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args, **kw):
            if not TIMERS.on:
                return fn(*args, **kw)
            with _Part(label):
                return fn(*args, **kw)
        return wrapper  # type: ignore[return-value]  # same signature
    return wrap
