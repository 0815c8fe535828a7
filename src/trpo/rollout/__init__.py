"""Samplers: they run environments and return a Batch; they never update parameters.

The registry: ``sampler = NAME`` -> the class (``build(ctx)``, see ``trpo.rollout.base``). Adding a
sampler is one file with a class that has ``build``, ``collect``, ``state_dict``,
``load_state_dict`` and ``close``, and one line here; entries are imported lazily.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trpo.rollout.batch import Batch

SAMPLERS: dict[str, str] = {
    "single-path": "trpo.rollout.single_path:SinglePathSampler",
    "vine": "trpo.rollout.vine:VineSampler",
    "async": "trpo.rollout.async_workers:AsyncWorkers",
    "ray": "trpo.rollout.ray.sampler:RaySampler",
}


def get_sampler(name: str):
    module, cls = SAMPLERS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def __getattr__(name: str):
    """``Batch`` on first use: ``trpo.config`` reads ``SAMPLERS`` and must not import torch (so that
    ``trpo --help`` or a bad argument answers before torch loads)."""
    if name == "Batch":
        from trpo.rollout.batch import Batch
        return Batch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "Batch"})


__all__ = ["Batch", "SAMPLERS", "get_sampler"]
