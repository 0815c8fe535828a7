"""Lower bounds on ``eta(pi_new)`` in terms of the local approximation ``L_pi_old(pi_new)``.

Each ``*_bound`` returns a number ``b`` with ``eta(pi_new) >= b`` (the theorem being checked).
The ``*_penalty`` helpers return the subtracted term, so ``bound = L - penalty``; the
proofs in fact bound ``|eta(pi_new) - L(pi_new)| <= penalty`` (two-sided), which
:mod:`trpo.theory.check` reports as tightness ``|eta - L| / penalty`` (1 = tight).

the "Monotonic Improvement" post writes the final MIGT inequality as ``eta(pi~) <= L(pi~) - C alpha^2``; the sign
is reversed.  The paper's Theorem 1 (eq. 8) is ``eta(pi_new) >= L(pi_new) - C alpha^2``,
which is what is implemented (and what would be useless as an upper bound).

the "Monotonic Improvement" post also calls ``L_pi`` itself "a lower bound to the true objective"; it is not (``L``
can lie on either side of ``eta``); the lower bound is ``M = L - C D_KL^max``.  Its
coupling paragraph says the pair must "agree at least a proportion alpha of the time"; the
paper's definition is ``P(a != a~ | s) <= alpha``, i.e. they agree with probability
``>= 1 - alpha``.
"""

from __future__ import annotations

import numpy as np

from .divergences import kl_max, tv_max
from .mdp import TabularMDP, advantages, as_policy, surrogate

__all__ = [
    "penalty_coefficient",
    "migt_penalty",
    "migt_penalty_tight",
    "cpi_penalty",
    "migt_bound",
    "migt_bound_tight",
    "migt_bound_kl",
    "cpi_bound",
    "cpi_mixture",
]


def penalty_coefficient(mdp: TabularMDP, pi_old: np.ndarray) -> float:
    """``C = 4 eps gamma / (1 - gamma)^2`` with ``eps = max_{s,a} |A_pi_old(s, a)|`` (TRPO eq. 8-9)."""
    eps = float(np.max(np.abs(advantages(mdp, pi_old))))
    return 4.0 * eps * mdp.gamma / (1.0 - mdp.gamma) ** 2


def migt_penalty(mdp: TabularMDP, pi_old: np.ndarray, pi_new: np.ndarray) -> float:
    """``4 eps gamma alpha^2 / (1 - gamma)^2``, ``alpha = D_TV^max(pi_old, pi_new)`` (TRPO eq. 8)."""
    alpha = tv_max(pi_old, pi_new)
    return penalty_coefficient(mdp, pi_old) * alpha**2


def migt_penalty_tight(mdp: TabularMDP, pi_old: np.ndarray, pi_new: np.ndarray) -> float:
    """``4 eps alpha^2 gamma / ((1 - gamma)(1 - gamma(1 - alpha)))`` (TRPO Appendix A, proof of Theorem 1).

    It is the exact value of ``sum_t gamma^t 4 eps alpha (1 - (1 - alpha)^t)`` (the "Monotonic Improvement" post, last
    display), before the relaxation ``1 - gamma(1 - alpha) >= 1 - gamma``.  That sum bounds
    ``|eta(pi~) - L(pi~)|`` with
    ``eta(pi~) - L(pi~) = sum_t gamma^t (E_{s_t~pi~}[Abar(s_t)] - E_{s_t~pi}[Abar(s_t)])``;
    the "Monotonic Improvement" post writes ``L - eta`` on the left (sign reversed) and "=" where the triangle
    inequality gives "<=".
    """
    g = mdp.gamma
    alpha = tv_max(pi_old, pi_new)
    eps = float(np.max(np.abs(advantages(mdp, pi_old))))
    return 4.0 * eps * alpha**2 * g / ((1.0 - g) * (1.0 - g * (1.0 - alpha)))


def migt_bound(mdp: TabularMDP, pi_old: np.ndarray, pi_new: np.ndarray) -> float:
    """Theorem 1 (TRPO eq. 8): ``eta(pi_new) >= L_pi_old(pi_new) - 4 eps gamma alpha^2 / (1 - gamma)^2``

    with ``eps = max_{s,a} |A_pi_old(s, a)|`` and ``alpha = D_TV^max(pi_old, pi_new)``.
    """
    return surrogate(mdp, pi_old, pi_new) - migt_penalty(mdp, pi_old, pi_new)


def migt_bound_tight(mdp: TabularMDP, pi_old: np.ndarray, pi_new: np.ndarray) -> float:
    """The intermediate form of Theorem 1's proof (TRPO Appendix A):

    ``eta(pi_new) >= L_pi_old(pi_new) - 4 eps alpha^2 gamma / ((1 - gamma)(1 - gamma(1 - alpha)))``,
    never below :func:`migt_bound`.
    """
    return surrogate(mdp, pi_old, pi_new) - migt_penalty_tight(mdp, pi_old, pi_new)


def migt_bound_kl(mdp: TabularMDP, pi_old: np.ndarray, pi_new: np.ndarray) -> float:
    """KL form (TRPO eq. 9): ``eta(pi_new) >= L_pi_old(pi_new) - C D_KL^max(pi_old, pi_new)``,

    ``C = 4 eps gamma / (1 - gamma)^2``; it follows from eq. 8 and ``D_TV(p||q)^2 <= D_KL(p||q)``
    (Pollard 2000; Pinsker gives the sharper ``D_TV^2 <= D_KL / 2``).
    """
    return surrogate(mdp, pi_old, pi_new) - penalty_coefficient(mdp, pi_old) * kl_max(pi_old, pi_new)


def cpi_mixture(pi_old: np.ndarray, pi_prime: np.ndarray, alpha: float) -> np.ndarray:
    """Conservative update ``pi_new = (1 - alpha) pi_old + alpha pi'`` (TRPO eq. 5)."""
    if not (0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return (1.0 - alpha) * np.asarray(pi_old, dtype=np.float64) + alpha * np.asarray(pi_prime, dtype=np.float64)


def cpi_penalty(
    mdp: TabularMDP, pi_old: np.ndarray, pi_prime: np.ndarray, alpha: float, *, tight: bool = False
) -> float:
    """``2 eps gamma alpha^2 / (1 - gamma)^2`` with ``eps = max_s |E_{a ~ pi'} A_pi_old(s, a)|`` (TRPO eq. 6).

    ``tight=True`` gives Kakade & Langford's Theorem 4.1 before relaxation,
    ``2 eps gamma alpha^2 / ((1 - gamma)(1 - gamma(1 - alpha)))`` (rewritten for the
    unnormalised ``eta`` used here; K&L normalise values by ``1 - gamma``).
    the TRPO reading-group slides (Nguyen 2021) quotes this bound without defining its ``eps``; it is *not* the
    ``max_{s,a} |A|`` of Theorem 1.
    """
    g = mdp.gamma
    pi_old = as_policy(mdp, pi_old)
    pi_prime = as_policy(mdp, pi_prime)
    eps = float(np.max(np.abs(np.einsum("sa,sa->s", pi_prime, advantages(mdp, pi_old)))))
    denominator = (1.0 - g) * (1.0 - g * (1.0 - alpha)) if tight else (1.0 - g) ** 2
    return 2.0 * eps * g * alpha**2 / denominator


def cpi_bound(
    mdp: TabularMDP, pi_old: np.ndarray, pi_prime: np.ndarray, alpha: float, *, tight: bool = False
) -> float:
    """Kakade & Langford's mixture bound, as TRPO eq. 6 states it:

    ``eta(pi_new) >= L_pi_old(pi_new) - 2 eps gamma alpha^2 / (1 - gamma)^2``

    for ``pi_new = (1 - alpha) pi_old + alpha pi'`` and ``eps = max_s |E_{a ~ pi'} A_pi_old(s, a)|``.
    Returns the lower bound on ``eta(pi_new)``; ``pi_new`` is :func:`cpi_mixture`.
    """
    pi_new = cpi_mixture(pi_old, pi_prime, alpha)
    return surrogate(mdp, pi_old, pi_new) - cpi_penalty(mdp, pi_old, pi_prime, alpha, tight=tight)
