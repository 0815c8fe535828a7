"""Backtracking line search on the trust-region step (Schulman et al. 2015, App. C)."""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from torch import Tensor


class LineSearchResult(NamedTuple):
    accepted: bool
    step_fraction: float   # the accepted fraction of the full step (0.0 when rejected)
    backtracks: int        # number of shrinks tried before acceptance (max_backtracks if rejected)
    surrogate_gain: float  # L(theta_new) - L(theta_old) at the accepted step (0.0 when rejected)
    kl: float              # measured mean KL at the accepted step (0.0 when rejected)


def backtracking_line_search(evaluate: Callable[[Tensor], tuple[float, float]], full_step: Tensor,
                             max_kl: float, max_backtracks: int = 10, shrink: float = 0.8) -> LineSearchResult:
    """Try beta * s, beta * shrink * s, ... and accept the first step that satisfies BOTH

        measured mean KL(pi_old || pi_new) <= max_kl     and     L(theta_new) - L(theta_old) > 0.

    ``evaluate(step)`` applies ``step`` to the old parameters and returns (surrogate gain, mean KL)
    measured on the batch; it must not keep the step applied (the caller applies the result).
    the policy-gradients lecture notes §3.6.3 writes the shrink rule as "0.5 beta if KL < eps"; shrinking is
    needed when the constraint is *violated*, KL > delta (TRPO paper App. C), which is what is implemented.
    """
    frac = 1.0
    for k in range(max_backtracks):
        gain, kl = evaluate(frac * full_step)
        if kl <= max_kl and gain > 0.0:  # non-finite values fail both comparisons
            return LineSearchResult(True, frac, k, gain, kl)
        frac *= shrink
    return LineSearchResult(False, 0.0, max_backtracks, 0.0, 0.0)
