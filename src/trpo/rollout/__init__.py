"""Samplers: they run environments and return a Batch; they never update parameters."""
from trpo.rollout.batch import Batch
from trpo.rollout.single_path import SinglePathSampler

__all__ = ["Batch", "SinglePathSampler"]
