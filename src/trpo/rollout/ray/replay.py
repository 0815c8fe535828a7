"""The action noise: drawn by the driver from its generator in the local sampler's order
(``Noise``), split by rows among the workers, and replayed by each worker's policy
(``ReplayRNG``), so that a Ray batch equals the local sampler's batch."""
from __future__ import annotations

import numpy as np

from trpo.nets.policy_runner import NumpyPolicy


class ReplayRNG:
    """Stands in for the ``np.random.Generator`` a policy draws its sampling noise from: serves
    numbers the driver drew, in the order the policy asks for them (checked by method and shape).

    ``segments``: [(methods, arrays)], each array (S, ...): S calls, each taking ``methods[j]`` ->
    ``arrays[j][s]`` in turn."""

    def __init__(self, segments):
        self._it = self._serve(segments)

    @staticmethod
    def _serve(segments):
        for methods, arrays in segments:
            for s in range(len(arrays[0])):
                for m, a in zip(methods, arrays):
                    yield m, a[s]

    def _next(self, method: str, shape):
        m, v = self._take(method, shape)
        want = None if shape is None else tuple(np.atleast_1d(shape))
        if m == method and want is not None and len(want) == np.ndim(v) + 1 and want[1:] == np.shape(v):
            # want[0] calls at once (``NumpyPolicy.noise``: a batch's noise drawn ahead of it)
            return np.stack([v] + [self._check(method, want[1:], *self._take(method, want[1:]))
                                   for _ in range(want[0] - 1)])
        return self._check(method, shape, m, v)

    def _take(self, method: str, shape) -> tuple:
        try:
            return next(self._it)
        except StopIteration:
            raise RuntimeError(f"ray sampler: no replayed noise left for {method}{shape}") from None

    @staticmethod
    def _check(method: str, shape, m: str, v):
        if m != method or (shape is not None and np.shape(v) != tuple(np.atleast_1d(shape))):
            raise RuntimeError(f"ray sampler: the policy asked for {method}{shape}, the driver drew "
                               f"{m}{np.shape(v)} (the draw pattern of policy_runner changed?)")
        return v

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return self._next("standard_normal", size)

    def gumbel(self, loc=0.0, scale=1.0, size=None):
        return self._next("gumbel", size)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._next("integers", None)


class Noise:
    """The numbers ``policy.act(obs of M rows, rng)`` draws (trpo.nets.policy_runner), S
    calls in a row, drawn at once from the driver's generator (numpy's vectorised draws equal
    the same draws one call at a time), then split by rows among the workers."""

    def __init__(self, actor):
        if NumpyPolicy.supports(actor):
            p = NumpyPolicy(actor)
            self.kind, self.width, self.nvec = p.kind.__name__, p.layers[-1][1].shape[0], p.nvec  # type: ignore[union-attr]  # a plain actor
        else:  # TorchPolicy: one integer (a torch seed) per call
            self.kind, self.width, self.nvec = "torch", 0, None

    def draw(self, rng: np.random.Generator, S: int, M: int, W: int) -> tuple[tuple, tuple]:
        if self.kind == "GaussianActor":
            return ("standard_normal",), (rng.standard_normal((S, M, self.width)),)
        if self.kind == "CategoricalActor":
            return ("gumbel",), (rng.gumbel(size=(S, M, self.width)),)
        if self.kind == "MultiCategoricalActor":  # per call: part j is gumbel(size=(M, nvec[j]))
            flat = rng.gumbel(size=(S, M * self.width))
            cuts = M * np.concatenate([[0], np.cumsum(self.nvec)])  # type: ignore[arg-type]  # MultiCategorical: nvec
            parts = tuple(flat[:, a:b].reshape(S, M, int(n)) for a, b, n in zip(cuts[:-1], cuts[1:], self.nvec))  # type: ignore[arg-type]  # nvec set
            return ("gumbel",) * len(parts), parts
        # a torch sampler cannot be split by rows: every worker gets its own seed per call
        return ("integers",), (rng.integers(2**63 - 1, size=(S, W)),)

    def take(self, drawn: tuple[tuple, tuple], k: int, rows) -> tuple[tuple, tuple]:
        methods, arrays = drawn
        if self.kind == "torch":
            return methods, tuple(a[:, k] for a in arrays)
        return methods, tuple(np.ascontiguousarray(a[:, rows]) for a in arrays)
