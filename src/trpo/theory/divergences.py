"""Divergences between tabular policies (TRPO paper, Sec. 3).

Rows are states: ``p[s]`` and ``q[s]`` are distributions over actions.

* ``D_TV(p || q) = 1/2 sum_i |p_i - q_i|`` (the TRPO reading-group slides (Nguyen 2021) prints ``|p_i q_i|``:
  the minus sign was lost; the paper has ``|p_i - q_i|``).
* ``D_KL(p || q) = sum_i p_i log(p_i / q_i)``, with ``0 log 0 = 0`` and ``+inf`` where
  ``p_i > 0 = q_i``.
* ``D^max(pi, pi~) = max_s D(pi(.|s) || pi~(.|s))`` and the state-averaged
  ``Dbar^rho(pi, pi~) = E_{s ~ rho}[D_KL(pi(.|s) || pi~(.|s))]`` (TRPO Sec. 4).

The argument order follows the paper: ``kl_max(pi_old, pi_new)`` is
``max_s KL(pi_old(.|s) || pi_new(.|s))``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tv", "kl", "tv_max", "kl_max", "kl_mean"]


def _pair(p: object, q: object) -> tuple[np.ndarray, np.ndarray]:
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    if p.shape != q.shape or p.ndim != 2:
        raise ValueError(f"p and q must have the same shape (S, A), got {p.shape} and {q.shape}")
    return p, q


def tv(p: object, q: object) -> np.ndarray:
    """Per-state total variation ``1/2 sum_a |p(a|s) - q(a|s)|``, shape (S,)."""
    p, q = _pair(p, q)
    return 0.5 * np.abs(p - q).sum(axis=1)


def kl(p: object, q: object) -> np.ndarray:
    """Per-state ``KL(p(.|s) || q(.|s))``, shape (S,); ``0 log 0 = 0``, ``p > 0 = q`` gives inf."""
    p, q = _pair(p, q)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return terms.sum(axis=1)


def tv_max(p: object, q: object) -> float:
    """``D_TV^max(p, q) = max_s D_TV(p(.|s) || q(.|s))`` (TRPO, before eq. 8)."""
    return float(tv(p, q).max())


def kl_max(p: object, q: object) -> float:
    """``D_KL^max(p, q) = max_s D_KL(p(.|s) || q(.|s))`` (TRPO, before eq. 9)."""
    return float(kl(p, q).max())


def kl_mean(p: object, q: object, weights: object) -> float:
    """``Dbar_KL^w(p, q) = sum_s w(s) KL(p(.|s) || q(.|s)) / sum_s w(s)`` (TRPO Sec. 4).

    ``weights`` are normalised here, so the unnormalised visitation ``rho_pi`` can be
    passed directly (the paper's ``s ~ rho_old`` means the normalised distribution).
    States with zero weight are ignored even when their KL is infinite.
    """
    w = np.asarray(weights, dtype=np.float64)
    d = kl(p, q)
    if w.shape != d.shape:
        raise ValueError(f"weights must have shape (S,) = {d.shape}, got {w.shape}")
    if np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    w = w / w.sum()
    return float(np.sum(w[w > 0] * d[w > 0]))
