"""The natural-gradient direction scaled to the trust region, shared by NPG and TRPO."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from trpo.functional.cg import conjugate_gradient


class NaturalStep(NamedTuple):
    step: Tensor             # beta * x, the full step before any line search
    direction: Tensor        # x ~= F^{-1} g from CG
    step_size: float         # beta = sqrt(2 delta / x^T F x)
    expected_gain: float     # first-order predicted surrogate gain g^T (beta x)
    cg_iterations: int
    cg_residual: float
    xFx: float


def natural_step(g: Tensor, fvp: Callable[[Tensor], Tensor], max_kl: float, cg_iters: int = 10) -> NaturalStep:
    """Maximise g^T d subject to 1/2 d^T F d <= delta (policy-gradients lecture notes §3.6.2; TRPO paper App. C):

        x    = F^{-1} g                       (conjugate gradient on Fisher-vector products)
        beta = sqrt(2 delta / (x^T F x))      (the quadratic KL model hits delta exactly)
        d    = beta x

    the policy-gradients lecture notes writes beta* = (1/lambda) sqrt(2 eps / g^T F^{-1} g) and steps theta + beta* d*
    with d* = (1/lambda) F^{-1} g, which double-counts 1/lambda; with d* = F^{-1} g (as here) the
    multiplier drops out and x^T F x = g^T F^{-1} g. Raises FloatingPointError on a non-finite or
    non-positive curvature instead of dividing by it.
    """
    cg = conjugate_gradient(fvp, g, iters=cg_iters)
    x = cg.x
    xFx = float(torch.dot(x, fvp(x)))
    if not math.isfinite(xFx) or xFx <= 0.0:
        raise FloatingPointError(f"natural step: x^T F x = {xFx} is not positive and finite")
    beta = math.sqrt(2.0 * max_kl / xFx)
    step = beta * x
    if not torch.isfinite(step).all():
        raise FloatingPointError("natural step: the CG solution is not finite")
    return NaturalStep(step, x, beta, float(torch.dot(g, step)), cg.iterations, cg.residual, xFx)
