"""Exact policy-improvement algorithms on a :class:`~trpo.theory.mdp.TabularMDP`.

* :func:`algorithm1` — TRPO paper, Algorithm 1: ``pi_{i+1} = argmax_pi M_i(pi)`` with
  ``M_i(pi) = L_pi_i(pi) - C D_KL^max(pi_i, pi)``, solved exactly
  (:mod:`trpo.theory.kl_penalty`).  Minorisation-maximisation (TRPO Sec. 3; the TRPO reading-group slides say
  "minorization-minimization"): ``eta(pi_{i+1}) >= M_i(pi_{i+1}) >= M_i(pi_i) = eta(pi_i)``.
* :func:`policy_iteration` — greedy improvement (Howard; Kakade & Langford's "exact" case).
* :func:`exact_trpo` — the practical relaxation (TRPO Sec. 4: trust region with the mean KL):
  natural-gradient direction from the exact gradient and exact Fisher of a softmax-tabular
  policy, scaled to the trust region, then a backtracking line search on the exact
  surrogate and exact mean KL (TRPO Appendix C).
* :func:`exact_npg` — natural policy gradient (Kakade 2002), same direction, fixed step.
* :func:`cpi` — conservative policy iteration (Kakade & Langford 2002): mixture with the
  greedy policy, ``alpha`` maximising the CPI lower bound (TRPO eq. 6).

Every algorithm returns a :class:`Trace`, which behaves as the sequence of ``eta(pi_i)``
(``len(trace) == iters + 1``, ``np.asarray(trace)`` gives the etas) and also carries the
policies and per-iteration diagnostics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .bounds import cpi_mixture, penalty_coefficient
from .divergences import kl_max
from .kl_penalty import maximize_kl_penalized
from .mdp import TabularMDP, advantages, as_policy, eta, greedy, q_values, surrogate, visitation

__all__ = [
    "Trace",
    "softmax",
    "log_softmax",
    "softmax_kl_mean",
    "softmax_gradient",
    "softmax_fisher",
    "natural_direction",
    "algorithm1_objective",
    "algorithm1_step",
    "algorithm1",
    "policy_iteration",
    "exact_trpo",
    "exact_npg",
    "cpi",
]


@dataclass(frozen=True)
class Trace(Sequence):
    """``etas[i] = eta(pi_i)`` for ``i = 0..iters``; ``policies[i] = pi_i``; ``info`` per step."""

    name: str
    etas: np.ndarray
    policies: tuple[np.ndarray, ...]
    info: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.etas)

    def __getitem__(self, i):
        return self.etas[i] if isinstance(i, slice) else float(self.etas[i])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.array(self.etas, dtype=dtype)

    @property
    def policy(self) -> np.ndarray:
        """The last policy."""
        return self.policies[-1]


def _trace(name: str, mdp: TabularMDP, policies: list[np.ndarray], info: dict[str, list]) -> Trace:
    etas = np.array([eta(mdp, p) for p in policies])
    return Trace(name, etas, tuple(policies), {k: np.asarray(v, dtype=np.float64) for k, v in info.items()})


# -- Algorithm 1 ----------------------------------------------------------------------


def algorithm1_objective(mdp: TabularMDP, pi_i: np.ndarray, pi: np.ndarray, C: float | None = None) -> float:
    """``M_i(pi) = L_pi_i(pi) - C D_KL^max(pi_i, pi)``, ``C = 4 eps gamma / (1 - gamma)^2`` by default."""
    if C is None:
        C = penalty_coefficient(mdp, pi_i)
    return surrogate(mdp, pi_i, pi) - C * kl_max(pi_i, pi)


def algorithm1_step(mdp: TabularMDP, pi_i: np.ndarray, C: float | None = None) -> np.ndarray:
    """One step of Algorithm 1: ``argmax_pi [L_pi_i(pi) - C D_KL^max(pi_i, pi)]``, exactly.

    ``L_pi_i(pi) = eta(pi_i) + sum_s rho_i(s) sum_a pi(a|s) A_i(s, a)`` is linear in ``pi``, so
    the problem is :func:`~trpo.theory.kl_penalty.maximize_kl_penalized` with
    ``w = rho_i[:, None] * A_i``.
    """
    pi_i = as_policy(mdp, pi_i)
    if C is None:
        C = penalty_coefficient(mdp, pi_i)
    w = visitation(mdp, pi_i)[:, None] * advantages(mdp, pi_i)
    return maximize_kl_penalized(w, pi_i, C).pi


def algorithm1(mdp: TabularMDP, pi0: np.ndarray, iters: int, C: float | None = None) -> Trace:
    """Algorithm 1 (TRPO paper): policy iteration guaranteeing non-decreasing ``eta``.

    ``C=None`` uses the theorem's ``C_i = 4 eps_i gamma / (1 - gamma)^2`` with
    ``eps_i = max_{s,a} |A_pi_i(s, a)|`` at every iteration (the guarantee needs
    ``C >= C_i``).  ``info``: ``C``, ``kl_max`` of each step, ``M_new = M_i(pi_{i+1})``.
    """
    pi = as_policy(mdp, pi0).copy()
    policies = [pi]
    info: dict[str, list[float]] = {"C": [], "kl_max": [], "M_new": []}
    for _ in range(iters):
        C_i = penalty_coefficient(mdp, pi) if C is None else float(C)
        new = algorithm1_step(mdp, pi, C_i)
        info["C"].append(C_i)
        info["kl_max"].append(kl_max(pi, new))
        info["M_new"].append(algorithm1_objective(mdp, pi, new, C_i))
        pi = new
        policies.append(pi)
    return _trace("algorithm 1", mdp, policies, info)


# -- policy iteration -----------------------------------------------------------------------


def policy_iteration(mdp: TabularMDP, pi0: np.ndarray, iters: int) -> Trace:
    """Exact policy iteration: ``pi_{i+1}(s) = argmax_a Q_pi_i(s, a)`` (greedy, first maximiser
    on ties).  Monotone by the policy-improvement theorem: by the PDL, ``sum_a pi_{i+1} A_pi_i >= 0``
    at *every* state (the "Monotonic Improvement" post says it is 0 at all but one state, and asks for a
    "nonnegative" pair where a positive advantage at a visited state is what gives strict
    improvement)."""
    pi = as_policy(mdp, pi0).copy()
    policies: list[np.ndarray] = [pi]
    for _ in range(iters):
        pi = greedy(q_values(mdp, pi))
        policies.append(pi)
    return _trace("policy iteration", mdp, policies, {})


# -- softmax-tabular policies: exact gradient and Fisher ------------------------------------------


def softmax(theta: np.ndarray) -> np.ndarray:
    """``pi(a|s) = exp(theta[s, a]) / sum_b exp(theta[s, b])``."""
    return np.exp(log_softmax(theta))


def log_softmax(theta: np.ndarray) -> np.ndarray:
    """``log pi(a|s)`` of the softmax policy, finite even where ``pi`` underflows to 0."""
    z = theta - theta.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax_kl_mean(theta_old: np.ndarray, theta_new: np.ndarray, weights: np.ndarray) -> float:
    """``Dbar_KL^w(pi_old, pi_new)`` from log-probabilities (exact for nearly deterministic
    policies, where probabilities underflow and :func:`~trpo.theory.divergences.kl_mean` gives inf)."""
    log_old, log_new = log_softmax(theta_old), log_softmax(theta_new)
    per_state = np.sum(np.exp(log_old) * (log_old - log_new), axis=1)
    w = np.asarray(weights, dtype=np.float64)
    return float(w @ per_state / w.sum())


def softmax_gradient(mdp: TabularMDP, theta: np.ndarray) -> np.ndarray:
    """Exact ``grad_theta eta(softmax(theta))``, shape (S, A).

    By the first-order match (TRPO eq. 4) it equals ``grad_theta L_pi(pi_theta)`` at ``pi``:
    ``d/d theta[s, b] sum_a pi(a|s) A(s, a) = pi(b|s) (A(s, b) - sum_a pi A) = pi(b|s) A(s, b)``,
    so ``grad = rho_pi(s) pi(b|s) A_pi(s, b)`` (the policy gradient theorem, tabular form).
    """
    pi = softmax(theta)
    return visitation(mdp, pi)[:, None] * pi * advantages(mdp, pi)


def softmax_fisher(pi: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Fisher matrix of the softmax-tabular policy, ``sum_s d(s) (diag pi_s - pi_s pi_s^T)``,

    block-diagonal, shape (S A, S A), ``d = weights / sum(weights)``.  It is the Hessian of
    ``Dbar_KL^d(pi_theta_old, pi_theta)`` at ``theta = theta_old`` (TRPO Sec. 6 / Appendix C), so
    ``Dbar_KL ~ 1/2 dtheta^T F dtheta``.  (the TRPO reading-group slides (Nguyen 2021) writes ``F = -H[log grad p]`` for
    ``F = -E[grad^2 log p]`` and puts a stray multiplier in ``lambda/2 dtheta^T F dtheta``.)
    """
    S, A = pi.shape
    d = np.asarray(weights, dtype=np.float64)
    d = d / d.sum()
    F = np.zeros((S * A, S * A))
    for s in range(S):
        block = np.diag(pi[s]) - np.outer(pi[s], pi[s])
        F[s * A : (s + 1) * A, s * A : (s + 1) * A] = d[s] * block
    return F


def natural_direction(mdp: TabularMDP, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``F x = g`` exactly for the softmax-tabular policy; return ``(x, g)``, shape (S, A).

    Each Fisher block is ``d_s (diag pi_s - pi_s pi_s^T)``, singular along ``1`` (a per-state
    shift of ``theta`` does not change ``pi``).  Because ``1^T g_s = rho_s sum_a pi A = 0``,
    ``diag(pi_s)^{-1} g_s / d_s`` is an exact solution (the rank-one term vanishes on it); it is
    centred per state, which makes it the minimum-norm one.  Here ``x_s = A_pi(s, .) / (1 - gamma)``
    centred, Kakade's observation that the natural gradient of a tabular softmax policy points
    along the advantages.  (A generic least-squares solve of the dense ``F`` truncates the tiny
    eigenvalues of nearly deterministic policies and returns a wrong direction.)
    """
    pi = softmax(theta)
    rho = visitation(mdp, pi)
    d = rho / rho.sum()
    A = advantages(mdp, pi)
    g = rho[:, None] * pi * A
    # diag(pi_s)^{-1} g_s / d_s = (rho_s pi_s A_s) / (pi_s rho_s / sum(rho)) = sum(rho) A_s
    x = np.where(d[:, None] > 0, rho.sum() * A, 0.0)
    x -= x.mean(axis=1, keepdims=True)
    return x, g


def _theta_from_policy(pi0: np.ndarray) -> np.ndarray:
    if np.any(pi0 <= 0):
        raise ValueError("softmax-tabular algorithms need pi0 > 0 everywhere (log pi0 must be finite)")
    return np.log(pi0)


def exact_trpo(
    mdp: TabularMDP,
    pi0: np.ndarray,
    iters: int,
    delta: float = 0.01,
    *,
    backtrack: float = 0.5,
    max_backtracks: int = 30,
) -> Trace:
    """Exact-gradient TRPO with a mean-KL trust region (TRPO Sec. 4, Appendix C).

    maximise ``L_theta_old(theta)`` s.t. ``Dbar_KL^{rho_old}(theta_old, theta) <= delta``
    (the TRPO reading-group slides' "final optimization problem" says min; the paper's sample-based problem,
    Sec. 5, maximises):
    direction ``x = F^{-1} g`` (the TRPO reading-group slides' ``theta_old - lambda F^{-1} g`` has the sign of a
    minimisation), full step ``sqrt(2 delta / x^T F x) x``, then shrink by
    ``backtrack`` until the exact surrogate improves and the exact mean KL is ``<= delta``.
    ``info``: ``kl_mean``, ``step_fraction`` (0 if the line search failed: the policy stays).
    """
    pi = as_policy(mdp, pi0).copy()
    theta = _theta_from_policy(pi)
    policies = [pi]
    info: dict[str, list[float]] = {"kl_mean": [], "step_fraction": []}
    for _ in range(iters):
        x, g = natural_direction(mdp, theta)
        shs = float(np.sum(g * x))  # x^T F x = g^T x since F x = g
        rho = visitation(mdp, pi)
        A = advantages(mdp, pi)
        accepted, fraction, kl_step = theta, 0.0, 0.0
        if shs > 0:
            full = np.sqrt(2.0 * delta / shs) * x
            for k in range(max_backtracks):
                cand = theta + backtrack**k * full
                pi_c = softmax(cand)
                kl_c = softmax_kl_mean(theta, cand, rho)
                # L(pi_c) - L(pi) = sum_s rho(s) sum_a pi_c A (sum_a pi A = 0), without
                # adding eta(pi): the difference is resolved even when it is ~1e-12 eta
                if kl_c <= delta and float(rho @ np.sum(pi_c * A, axis=1)) > 0:
                    accepted, fraction, kl_step = cand, backtrack**k, kl_c
                    break
        theta = accepted
        pi = softmax(theta)
        info["kl_mean"].append(kl_step)
        info["step_fraction"].append(fraction)
        policies.append(pi)
    return _trace("exact TRPO", mdp, policies, info)


def exact_npg(mdp: TabularMDP, pi0: np.ndarray, iters: int, step_size: float = 0.1) -> Trace:
    """Natural policy gradient (Kakade 2002) with exact gradient and Fisher: ``theta += step F^{-1} g``.

    For softmax-tabular policies ``F^{-1} g = A_pi / (1 - gamma)`` up to per-state shifts, so
    this is the soft policy-iteration update ``pi_{i+1} ∝ pi_i exp(step A_i / (1 - gamma))``
    (Agarwal et al. 2021), which is monotone for every step size.
    """
    pi = as_policy(mdp, pi0).copy()
    theta = _theta_from_policy(pi)
    policies: list[np.ndarray] = [pi]
    for _ in range(iters):
        x, _ = natural_direction(mdp, theta)
        theta = theta + step_size * x
        policies.append(softmax(theta))
    return _trace("exact NPG", mdp, policies, {})


# -- conservative policy iteration -----------------------------------------------------------------


def cpi(mdp: TabularMDP, pi0: np.ndarray, iters: int) -> Trace:
    """Conservative policy iteration (Kakade & Langford 2002; TRPO eqs. 5-6).

    ``pi' = greedy(A_pi)``, ``pi_new = (1 - alpha) pi + alpha pi'`` with ``alpha`` maximising
    ``alpha Abar - 2 eps gamma alpha^2 / (1 - gamma)^2`` where ``Abar = L_pi(pi') - eta(pi)``
    and ``eps = max_s |E_{a~pi'} A_pi(s, a)|``: ``alpha = Abar (1 - gamma)^2 / (4 eps gamma)``, clipped to [0, 1].
    ``info``: ``alpha`` per step.
    """
    g = mdp.gamma
    pi = as_policy(mdp, pi0).copy()
    policies = [pi]
    info: dict[str, list[float]] = {"alpha": []}
    for _ in range(iters):
        A = advantages(mdp, pi)
        pi_prime = greedy(A)
        gain = float(visitation(mdp, pi) @ np.sum(pi_prime * A, axis=1))  # L_pi(pi') - eta(pi)
        eps = float(np.max(np.abs(np.sum(pi_prime * A, axis=1))))
        if eps <= 0 or gain <= 0:
            alpha = 0.0
        elif g == 0:
            alpha = 1.0
        else:
            alpha = min(1.0, gain * (1.0 - g) ** 2 / (4.0 * eps * g))
        pi = cpi_mixture(pi, pi_prime, alpha)
        info["alpha"].append(alpha)
        policies.append(pi)
    return _trace("CPI", mdp, policies, info)

