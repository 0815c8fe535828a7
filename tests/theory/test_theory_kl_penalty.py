"""The exact inner solver of Algorithm 1 against independent references.

* brute-force grids (2 states x 2 actions, including deterministic q);
* a duality certificate: for any lam >= 0 with sum(lam) = C and any mu_s,
  OPT <= sum_s g_s(mu_s; lam_s) with g(mu; lam) = mu - lam + lam sum_a q_a log(lam / (mu - w_a))
  (weak duality of the per-state problems), minimised over mu by golden section here;
* scipy's SLSQP on the epigraph form when scipy is installed.
"""

import numpy as np
import pytest

from trpo.theory import kl, kl_max, maximize_kl_penalized
from trpo.theory.kl_penalty import _log1p_minus_x, penalized_objective


def _grid_optimum(w, q, C, n=1001):
    """max over a grid of p(a0|s) in (0, 1) for S = 2, A = 2."""
    g = np.linspace(1e-9, 1 - 1e-9, n)
    P0 = np.stack([g, 1 - g], -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kls = [np.sum(np.where(q[s] > 0, q[s] * np.log(q[s] / P0), 0.0), axis=1) for s in range(2)]
    obj = (P0 @ w[0])[:, None] + (P0 @ w[1])[None, :] - C * np.maximum(kls[0][:, None], kls[1][None, :])
    return obj.max()


def _golden_min(f, lo, hi, iters=120):
    r = (np.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - r * (b - a), a + r * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - r * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + r * (b - a)
            fd = f(d)
    return min(fc, fd, f(lo), f(hi))


def _dual_upper_bound(w, q, lam):
    """sum_s min_mu g_s(mu; lam_s): an upper bound on the optimum of (P) when sum(lam) = C."""
    total = 0.0
    for s in range(w.shape[0]):
        supp = q[s] > 0
        m = np.max(w[s])  # mu must exceed w on the support and be >= w off it
        if lam[s] == 0:
            total += m
            continue
        scale = max(np.ptp(w[s]), lam[s], 1e-12)

        def g(v, s=s, supp=supp, m=m):
            mu = m + np.exp(v)
            gap = mu - w[s][supp]
            if np.any(gap <= 0):
                return np.inf  # mu rounded onto max w: outside the domain
            return mu - lam[s] + lam[s] * np.sum(q[s][supp] * np.log(lam[s] / gap))

        total += _golden_min(g, np.log(scale) - 60, np.log(scale) + 10)
    return total


def _random_problem(rng, S, A, deterministic_rows=0.0):
    q = rng.dirichlet(np.ones(A), size=S)
    for s in range(S):
        if rng.random() < deterministic_rows:
            q[s] = np.eye(A)[rng.integers(A)]
    w = rng.standard_normal((S, A)) * 10 ** rng.uniform(-2, 2)
    C = float(np.sum(np.abs(w))) * 10 ** rng.uniform(-1.5, 1.5)
    return w, q, C


def test_against_brute_force_grid_two_states_two_actions():
    rng = np.random.default_rng(0)
    for trial in range(40):
        w, q, C = _random_problem(rng, 2, 2, deterministic_rows=0.3 if trial % 2 else 0.0)
        sol = maximize_kl_penalized(w, q, C)
        best_grid = _grid_optimum(w, q, C)
        assert sol.objective >= best_grid - 1e-9 * max(1.0, abs(best_grid)), (trial, sol, best_grid)
        # the grid is fine enough that the optimum is not far above it either
        assert sol.objective <= best_grid + 2e-3 * max(1.0, np.abs(w).sum())


@pytest.mark.parametrize("deterministic_rows", [0.0, 0.4])
def test_duality_certificate_on_random_problems(deterministic_rows):
    rng = np.random.default_rng(1 if deterministic_rows else 2)
    for _ in range(30):
        S, A = int(rng.integers(1, 7)), int(rng.integers(2, 5))
        w, q, C = _random_problem(rng, S, A, deterministic_rows)
        sol = maximize_kl_penalized(w, q, C)
        p = sol.pi
        assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0, atol=1e-12)
        value = penalized_objective(w, q, p, C)
        assert value == pytest.approx(sol.objective, rel=1e-12, abs=1e-12)
        assert value >= penalized_objective(w, q, q, C) - 1e-12  # never worse than staying put
        if sol.lam.sum() == 0:
            continue  # q itself is optimal (no state can gain)
        # KKT: sum(lam) = C unless the optimum is t = 0 (p = q); KL_s = t where lam_s > 0
        lam = sol.lam * (C / sol.lam.sum()) if sol.t > 0 else sol.lam
        if sol.t > 0:
            assert sol.lam.sum() == pytest.approx(C, rel=1e-9)
            active = sol.lam > 1e-9 * C
            np.testing.assert_allclose(kl(q, p)[active], sol.t, rtol=1e-8)
            assert kl_max(q, p) == pytest.approx(sol.t, rel=1e-8)
            ub = _dual_upper_bound(w, q, lam)
            scale = max(1.0, np.abs(w).sum())
            assert value <= ub + 1e-9 * scale  # weak duality sanity: ub is a true upper bound
            assert value >= ub - 1e-8 * scale  # ... and the solver attains it: optimal


def test_edge_cases():
    q = np.array([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])
    # C = 0: the penalty vanishes and the greedy policy is optimal
    w = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0]])
    np.testing.assert_array_equal(maximize_kl_penalized(w, q, 0.0).pi, [[0, 1, 0], [0, 0, 1]])
    # w constant on every row: nothing to gain, q itself
    sol = maximize_kl_penalized(np.ones((2, 3)), q, 5.0)
    np.testing.assert_array_equal(sol.pi, q)
    # deterministic q, better action outside the support, huge C: stay at q (t = 0)
    qd = np.array([[1.0, 0.0]])
    sol = maximize_kl_penalized(np.array([[0.0, 1.0]]), qd, 10.0)
    np.testing.assert_array_equal(sol.pi, qd)
    # ... small C: move mass to it.  Closed form: maximise m - C(-log(1 - m)) -> 1 - m = C
    sol = maximize_kl_penalized(np.array([[0.0, 1.0]]), qd, 0.25)
    np.testing.assert_allclose(sol.pi, [[0.25, 0.75]], rtol=1e-10)
    with pytest.raises(ValueError):
        maximize_kl_penalized(np.ones((2, 2)), np.ones((2, 3)) / 3, 1.0)
    with pytest.raises(ValueError):
        maximize_kl_penalized(np.ones((2, 2)), np.ones((2, 2)) / 2, -1.0)


def test_scale_invariance():
    """(c w, c C) has the same maximiser; shifting a row of w by a constant changes nothing."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        w, q, C = _random_problem(rng, 4, 3)
        base = maximize_kl_penalized(w, q, C).pi
        np.testing.assert_allclose(maximize_kl_penalized(1e3 * w, q, 1e3 * C).pi, base, atol=1e-9)
        np.testing.assert_allclose(maximize_kl_penalized(w + rng.standard_normal((4, 1)), q, C).pi, base, atol=1e-9)


def test_log1p_minus_x_is_accurate():
    from decimal import Decimal, getcontext

    getcontext().prec = 60
    y = np.concatenate([-np.logspace(-12, -0.05, 60), np.logspace(-12, 2, 60)])
    ref = np.array([float((1 + Decimal(v)).ln() - Decimal(v)) for v in y])  # exact decimal expansion of y
    np.testing.assert_allclose(_log1p_minus_x(y), ref, rtol=1e-12)


def test_matches_scipy_slsqp_when_available():
    optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(4)
    for _ in range(10):
        w, q, C = _random_problem(rng, 3, 3)
        S, A = w.shape

        def neg(x):
            return -(np.sum(x[:-1].reshape(S, A) * w) - C * x[-1])

        def kl_gap(x):
            p = np.clip(x[:-1].reshape(S, A), 1e-300, None)
            return x[-1] - np.sum(q * np.log(q / p), axis=1)

        cons = [{"type": "eq", "fun": lambda x: x[:-1].reshape(S, A).sum(axis=1) - 1}, {"type": "ineq", "fun": kl_gap}]
        x0 = np.concatenate([q.ravel(), [0.0]])
        res = optimize.minimize(neg, x0, constraints=cons, bounds=[(1e-12, 1)] * (S * A) + [(0, None)], method="SLSQP",
                                options={"ftol": 1e-14, "maxiter": 1000})
        # SLSQP may stop at a slightly infeasible point: score its policy honestly
        p = np.clip(res.x[:-1].reshape(S, A), 0, None)
        p /= p.sum(axis=1, keepdims=True)
        reference = penalized_objective(w, q, p, C)
        sol = maximize_kl_penalized(w, q, C)
        assert sol.objective >= reference - 1e-10 * max(1.0, abs(reference))
