r"""The exact inner step of Algorithm 1: a max-KL-penalised linear objective over policies.

Algorithm 1 of the TRPO paper sets ``pi_{i+1} = argmax_pi [L_pi_i(pi) - C D_KL^max(pi_i, pi)]``.
Dropping the constant ``eta(pi_i)`` and writing ``w[s, a] = rho_pi_i(s) A_pi_i(s, a)``,
``q = pi_i``, the problem is

    maximise_{p}  sum_s <p_s, w_s> - C max_s KL(q_s || p_s),      p_s on the simplex.      (P)

It is concave (``KL(q||p)`` is convex in ``p``, a max of convex functions is convex) but the
max couples the states.  Epigraph form: maximise ``sum_s <p_s, w_s> - C t`` subject to
``KL(q_s || p_s) <= t`` for every state.  With one multiplier ``lam_s >= 0`` per state the
KKT conditions read

* per state, ``p_s`` maximises ``<p, w_s> - lam_s KL(q_s || p)``; stationarity gives the
  closed form ``p(a) = lam q(a) / (mu - w(a))`` with ``mu > max_a w(a)`` fixed by
  ``sum_a p(a) = 1`` (so ``lam = 1 / E_q[1 / (mu - w)]``);
* ``KL(q_s || p_s) = t`` wherever ``lam_s > 0`` (complementary slackness);
* ``sum_s lam_s = C`` (stationarity in ``t``).

Each state's curve is parametrised by ``mu`` (written ``mu = mu_lo + exp(u)``); along it
``KL`` decreases and ``lam`` increases, so for a given ``t`` each ``lam_s(t)`` is found by a
1-D safeguarded Newton solve, and ``sum_s lam_s(t)`` is decreasing in ``t``: the outer
problem ``sum_s lam_s(t) = C`` is a second 1-D safeguarded Newton solve (in ``log t``).
This is exact up to floating point; no gradient steps on ``p`` are taken.

Actions with ``q(a) = 0`` (e.g. a deterministic ``pi_i``) cost no KL directly; if the best
such action beats every action in the support of ``q``, the curve has a second piece on
which ``mu`` sticks at that action's ``w`` and the left-over mass goes to it.  Its inverse
is explicit: ``lam = exp(E_q log(w_O - w) - t)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KLPenaltySolution", "maximize_kl_penalized", "penalized_objective"]

_U_LO, _U_HI = -300.0, 60.0  # exp(u) range in units of each state's scale of w
_MAX_LOG_STEP = 5.0  # largest outer Newton step in log t before a bracket is known


@dataclass(frozen=True)
class KLPenaltySolution:
    """``pi`` solves (P); ``t = max_s KL(q_s || pi_s)`` and ``lam`` are the KKT multipliers."""

    pi: np.ndarray
    t: float
    lam: np.ndarray
    objective: float
    outer_iterations: int


def penalized_objective(w: np.ndarray, q: np.ndarray, p: np.ndarray, C: float) -> float:
    """``sum_s <p_s, w_s> - C max_s KL(q_s || p_s)``, the objective of (P)."""
    from .divergences import kl_max

    return float(np.sum(p * w)) - C * kl_max(q, p)


def _log1p_minus_x(y: np.ndarray) -> np.ndarray:
    """``log(1 + y) - y``, accurate for small ``|y|`` (Horner series) as well as large."""
    small = np.abs(y) < 0.01
    ys = np.where(small, y, 0.0)
    acc = np.zeros_like(ys)
    for k in range(11, 1, -1):  # y^2 (-1/2 + y (1/3 + y (-1/4 + ...))); error < 1e-20 y^2
        acc = (-1.0) ** (k + 1) / k + ys * acc
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = np.log1p(y) - y
    return np.where(small, ys * ys * acc, direct)


@dataclass(frozen=True)
class _Curve:
    """The regime-1 family of each state: ``p(a) ∝ q(a) / (mu - w(a))``, ``mu = mu_lo + exp(u)``,
    in normalised units (``w`` shifted so its max on the support is 0, then scaled to 1):
    ``mu - w(a) = mu_lo + exp(u) + d(a)``."""

    q: np.ndarray
    supp: np.ndarray
    d: np.ndarray
    d_bar: np.ndarray
    mu_lo: np.ndarray

    def rows(self, idx: np.ndarray) -> _Curve:
        return _Curve(self.q[idx], self.supp[idx], self.d[idx], self.d_bar[idx], self.mu_lo[idx])

    def __call__(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """KL, lam (normalised), their mu-derivatives and p along ``mu = mu_lo + exp(u)``.

        With ``z = mu - w``, ``x = 1/z``, ``z_bar = E_q z`` and ``y = z / z_bar - 1`` (``E_q y = 0``):
        ``p = q x / E_q x``, ``lam = 1 / E_q x``, ``KL(q||p) = E_q log(z) + log E_q(x)
        = E_q[log1p(y) - y] + log1p(E_q[y^2 / (1 + y)])`` -- the centred form keeps full
        relative accuracy when ``p`` is close to ``q`` and KL is tiny.
        """
        q, supp = self.q, self.supp
        e = np.exp(u)
        z = np.where(supp, (self.mu_lo + e)[:, None] + self.d, 1.0)  # mu - w_a > 0
        z_bar = self.mu_lo + e + self.d_bar  # E_q z
        r = z / z_bar[:, None]  # 1 + y, computed directly (accurate when z << z_bar)
        y = np.where(supp, (self.d - self.d_bar[:, None]) / z_bar[:, None], 0.0)  # accurate when small
        h = np.where(np.abs(y) < 0.01, _log1p_minus_x(y), np.log(r) - y)
        s2 = np.sum(np.where(supp, q * y * y / r, 0.0), axis=1)  # E_q[z_bar / z] - 1 >= 0
        kl = np.sum(np.where(supp, q * h, 0.0), axis=1) + np.log1p(s2)
        v = np.where(supp, -y / r, 0.0)  # z_bar x - 1, with x = 1 / z
        var_v = np.sum(np.where(supp, q * (v - s2[:, None]) ** 2, 0.0), axis=1)
        dkl_dmu = -var_v / (z_bar * (1.0 + s2))  # = -Var_q(x) / E_q(x)
        lam = z_bar / (1.0 + s2)  # = 1 / E_q(x)
        e_inv_r2 = np.sum(np.where(supp, q / (r * r), 0.0), axis=1)
        dlam_dmu = e_inv_r2 / (1.0 + s2) ** 2  # = E_q(x^2) / E_q(x)^2
        p = np.where(supp, q / r, 0.0) / (1.0 + s2)[:, None]
        return {"kl": kl, "dkl_du": e * dkl_dmu, "lam": lam, "dlam_dmu": dlam_dmu, "dkl_dmu": dkl_dmu, "p": p}


class _States:
    """Per-state quantities of (P), normalised so that each state's ``w`` has scale 1."""

    def __init__(self, w: np.ndarray, q: np.ndarray) -> None:
        self.q = q
        self.supp = q > 0
        neg_inf = np.full_like(w, -np.inf)
        w_on = np.where(self.supp, w, neg_inf)
        w_off = np.where(self.supp, neg_inf, w)
        self.m = w_on.max(axis=1)  # best action in the support of q
        w_off_max = w_off.max(axis=1)
        spread = np.where(self.supp, self.m[:, None] - w, 0.0).max(axis=1)
        self.spread = spread
        gain_off = np.where(np.isfinite(w_off_max), w_off_max - self.m, -np.inf)
        self.scale = np.maximum(spread, np.maximum(gain_off, 0.0))
        self.active = self.scale > 0  # states whose best response is not q itself
        scale = np.where(self.active, self.scale, 1.0)
        # d_a = (m - w_a) / scale >= 0 on the support (0 off it, unused there)
        self.d = np.where(self.supp, (self.m[:, None] - w) / scale[:, None], 0.0)
        self.d_bar = np.sum(q * self.d, axis=1)
        # o = normalised gain of the best action outside the support (regime 2 iff o > 0)
        self.o = np.where(np.isfinite(gain_off), gain_off / scale, -np.inf)
        self.two = self.active & (self.o > 0)
        self.mu_lo = np.where(self.two, self.o, 0.0)
        self.off_best = (~self.supp) & (w_off == w_off_max[:, None]) & self.two[:, None]
        self.curve = _Curve(q, self.supp, self.d, self.d_bar, self.mu_lo)
        # regime-2 constants: z_O = o + d on the support
        with np.errstate(divide="ignore", invalid="ignore"):
            z_o = np.where(self.supp, self.mu_lo[:, None] + self.d, 1.0)
            self.elog_zo = np.sum(np.where(self.supp, q * np.log(z_o), 0.0), axis=1)
            e_inv_zo = np.sum(np.where(self.supp, q / z_o, 0.0), axis=1)
            self.t_o = np.where(self.two, self.elog_zo + np.log(e_inv_zo), np.inf)

def _solve_u(curve: _Curve, t: float, u0: np.ndarray) -> tuple[np.ndarray, dict]:
    """Find ``u`` with ``KL(u) = t`` for every row of ``curve``, by safeguarded Newton on
    ``log KL(u) - log t`` (decreasing in ``u``, nearly linear for large ``u``)."""
    lo = np.full(u0.size, _U_LO)
    hi = np.full(u0.size, _U_HI)
    u = np.clip(u0, lo + 1e-9, hi - 1e-9)
    log_t = np.log(t)
    for _ in range(200):
        c = curve(u)
        with np.errstate(divide="ignore", invalid="ignore"):  # KL may underflow to 0: f = -inf
            f = np.log(c["kl"]) - log_t  # decreasing in u
            df = c["dkl_du"] / c["kl"]
        lo = np.where(f > 0, u, lo)
        hi = np.where(f <= 0, u, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = u - f / df
        ok = np.isfinite(newton) & (newton >= lo) & (newton <= hi)
        converged = np.abs(f) < 1e-12
        u_next = np.where(converged, u, np.where(ok, newton, 0.5 * (lo + hi)))
        done = converged | (np.abs(u_next - u) <= 1e-13 * (1.0 + np.abs(u)))
        u = u_next
        if np.all(done):
            break
    return u, curve(u)


def _lambdas(states: _States, t: float, u_warm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """``lam_s(t)`` (normalised), ``d lam_s / dt`` and the regime-1 ``u``, for all states."""
    S = states.q.shape[0]
    lam = np.zeros(S)
    dlam = np.zeros(S)
    reg2 = states.two & (t >= states.t_o)
    reg1 = states.active & ~reg2
    lam[reg2] = np.exp(states.elog_zo[reg2] - t)
    dlam[reg2] = -lam[reg2]
    curve: dict[str, np.ndarray] = {}
    idx = np.flatnonzero(reg1)
    if idx.size:
        u, curve = _solve_u(states.curve.rows(idx), t, u_warm[idx])
        u_warm = u_warm.copy()
        u_warm[idx] = u
        lam[idx] = curve["lam"]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = curve["dlam_dmu"] / curve["dkl_dmu"]  # (dlam/dmu) / (dKL/dmu)
        # t beyond the KL reachable at u = _U_LO (only for absurdly small C): lam is
        # pinned there, so it does not move with t
        pinned = (u <= _U_LO + 1e-9) & (curve["kl"] < t)
        dlam[idx] = np.where(pinned, 0.0, slope)
        curve["idx"] = idx
    curve["reg2"] = reg2
    return lam, dlam, u_warm, curve


def maximize_kl_penalized(w: np.ndarray, q: np.ndarray, C: float) -> KLPenaltySolution:  # noqa: C901 - safeguarded Newton
    """Solve (P): ``argmax_p sum_s <p_s, w_s> - C max_s KL(q_s || p_s)`` exactly.

    ``w`` and ``q`` have shape (S, A); rows of ``q`` lie on the simplex.  ``C = 0`` gives the
    greedy (policy-iteration) step; if no state can gain (``w`` constant on each row's
    support, no better action outside it) the answer is ``q`` itself.
    """
    w = np.asarray(w, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if w.shape != q.shape or w.ndim != 2:
        raise ValueError(f"w and q must both have shape (S, A), got {w.shape} and {q.shape}")
    if not (np.isfinite(C) and C >= 0):
        raise ValueError(f"C must be finite and >= 0, got {C!r}")
    states = _States(w, q)
    S = q.shape[0]
    if not np.any(states.active):
        return KLPenaltySolution(q.copy(), 0.0, np.zeros(S), penalized_objective(w, q, q, C), 0)
    if C == 0:  # no penalty: the linear objective is maximised by a greedy policy
        p = np.zeros_like(q)
        p[np.arange(S), np.argmax(w, axis=1)] = 1.0
        return KLPenaltySolution(p, np.inf, np.zeros(S), float(np.sum(p * w)), 0)

    scale = np.where(states.active, states.scale, 0.0)
    if not np.any(states.active & (states.spread > 0)):
        # Only "regime 2" states (q deterministic there, a better action outside its
        # support): lam_s(t) stays finite as t -> 0, lam_s(0) = scale * o.  If even that
        # sum is <= C, moving at all costs more than it gains: the optimum is t = 0, p = q.
        lam0 = scale * np.where(states.two, states.o, 0.0)
        if lam0.sum() <= C:
            return KLPenaltySolution(q.copy(), 0.0, lam0, penalized_objective(w, q, q, C), 0)

    def F(log_t: float, u_warm: np.ndarray):
        """``log sum_s lam_s(t) - log C`` (decreasing) and its derivative in ``log t``."""
        t = float(np.exp(log_t))
        lam, dlam, u_warm, curve = _lambdas(states, t, u_warm)
        total = float(np.sum(scale * lam))
        slope = float(np.sum(scale * dlam)) * t / total
        return np.log(total) - np.log(C), slope, u_warm, lam, curve

    # initial guess from the small-step expansion KL ~ Var_q(w) / (2 lam^2)
    var = np.sum(q * (w - np.sum(q * w, axis=1, keepdims=True)) ** 2, axis=1)
    guess = (np.sum(np.sqrt(var / 2.0)) / C) ** 2
    x = float(np.clip(np.log(guess), -50.0, 2.0)) if guess > 0 else 0.0  # KL > e^2 is a huge move
    u_warm = np.zeros(S)
    # Safeguarded Newton on F(log t) = 0.  F is decreasing; (lo, hi) brackets the root once
    # both signs were seen; until then Newton steps are capped at +-_MAX_LOG_STEP.
    lo, hi = -np.inf, np.inf
    iterations = 0
    for iterations in range(1, 300):  # noqa: B007 - the count is returned after the loop
        f, df, u_warm, lam, curve = F(x, u_warm)
        if f > 0:
            lo = x
        else:
            hi = x
        if abs(f) < 1e-12:
            break
        newton = x - f / df if df < 0 else np.nan
        if not np.isfinite(newton):
            newton = x + (_MAX_LOG_STEP if f > 0 else -_MAX_LOG_STEP)
        newton = float(np.clip(newton, x - _MAX_LOG_STEP, x + _MAX_LOG_STEP))
        if not lo < newton < hi:
            newton = 0.5 * (lo + hi) if np.isfinite(lo) and np.isfinite(hi) else newton
        # stop when the step (or the bracket) is at the noise level of the inner solves
        if abs(newton - x) <= 1e-13 * (1.0 + abs(x)) or hi - lo <= 1e-13 * (1.0 + abs(x)):
            break
        x = newton
    else:  # pragma: no cover - F is monotone and smooth; this is a safety net
        raise RuntimeError("Algorithm 1's inner problem did not converge")
    t = float(np.exp(x))

    # assemble the policy state by state
    p = q.copy()
    reg2 = curve["reg2"]
    if np.any(reg2):
        z_o = np.where(states.supp & reg2[:, None], states.mu_lo[:, None] + states.d, 1.0)
        p_on = np.where(states.supp, lam[:, None] * q / z_o, 0.0)
        left = np.clip(1.0 - p_on.sum(axis=1), 0.0, 1.0)
        n_best = np.maximum(states.off_best.sum(axis=1), 1)
        p_two = p_on + states.off_best * (left / n_best)[:, None]
        p[reg2] = p_two[reg2]
    if "idx" in curve:
        p[curve["idx"]] = curve["p"]
    p /= p.sum(axis=1, keepdims=True)
    return KLPenaltySolution(p, t, scale * lam, penalized_objective(w, q, p, C), iterations)
