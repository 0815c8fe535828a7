"""Conjugate gradient for F x = g without forming F (Schulman et al. 2015, App. C)."""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor


class CGResult(NamedTuple):
    x: Tensor          # approximate solution of A x = b
    iterations: int    # iterations run
    residual: float    # ||b - A x||_2 at exit (the recursive residual)


def conjugate_gradient(Avp: Callable[[Tensor], Tensor], b: Tensor, iters: int = 10,
                       tol: float = 1e-10) -> CGResult:
    """Solve A x = b for symmetric positive-definite A given only v -> A v.

    Standard CG (Hestenes & Stiefel; Nocedal & Wright Alg. 5.2), x_0 = 0:
        alpha_k = r_k^T r_k / p_k^T A p_k
        x_{k+1} = x_k + alpha_k p_k,  r_{k+1} = r_k - alpha_k A p_k
        beta_k  = r_{k+1}^T r_{k+1} / r_k^T r_k,  p_{k+1} = r_{k+1} + beta_k p_k
    Stops when r^T r < tol or when the curvature p^T A p is not positive/finite (a guard: the
    division would be meaningless), returning the last good iterate.
    """
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = torch.dot(r, r)
    k = 0
    for k in range(1, iters + 1):
        if rr.item() < tol:
            k -= 1
            break
        Ap = Avp(p)
        pAp = torch.dot(p, Ap)
        if not torch.isfinite(pAp) or pAp.item() <= 0.0:
            k -= 1
            break
        alpha = rr / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = torch.dot(r, r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return CGResult(x, k, float(rr.sqrt()))
