"""Algorithm 1, policy iteration, exact TRPO, NPG and CPI on exact MDPs."""

import numpy as np
import pytest

from trpo.theory import (
    TabularMDP,
    Trace,
    advantages,
    algorithm1,
    algorithm1_objective,
    algorithm1_step,
    cpi,
    eta,
    exact_npg,
    exact_trpo,
    greedy,
    kl_max,
    kl_mean,
    natural_direction,
    optimal_value,
    penalty_coefficient,
    policy_iteration,
    random_policy,
    softmax,
    softmax_fisher,
    softmax_gradient,
    softmax_kl_mean,
    surrogate,
    visitation,
)


def _eta_star(mdp):
    return float(mdp.rho0 @ optimal_value(mdp))


def test_algorithm1_is_monotone_on_100_random_mdps():
    """eta(pi_{i+1}) >= M_i(pi_{i+1}) >= M_i(pi_i) = eta(pi_i)   (TRPO Sec. 3)."""
    rng = np.random.default_rng(100)
    gammas = (0.5, 0.9, 0.99)
    strict = 0
    for m in range(100):
        S, A = int(rng.integers(3, 7)), int(rng.integers(2, 4))
        mdp = TabularMDP.random(S, A, gammas[m % 3], rng, concentration=(1.0, 0.1)[m % 2])
        # a quarter of the runs start from a deterministic policy (KL's support edge case)
        pi0 = greedy(rng.standard_normal((S, A))) if m % 4 == 0 else random_policy(S, A, rng)
        trace = algorithm1(mdp, pi0, iters=4)
        e = np.asarray(trace)
        tol = 1e-10 * max(1.0, np.max(np.abs(e)))
        assert np.all(np.diff(e) >= -tol), (m, e)
        for i in range(4):
            M_new = trace.info["M_new"][i]
            assert e[i + 1] >= M_new - tol  # minorisation: eta >= M_i  (eq. 9)
            assert M_new >= e[i] - tol  # maximisation: M_i(pi_{i+1}) >= M_i(pi_i) = eta(pi_i)
            assert trace.info["C"][i] == pytest.approx(penalty_coefficient(mdp, trace.policies[i]))
        strict += (e[-1] > e[0] + tol) and m % 4 != 0
    assert strict >= 70  # of the 75 stochastic starts: it makes progress, not just stays put


def test_algorithm1_never_leaves_a_deterministic_policy_when_gamma_exceeds_one_fifth():
    """From a deterministic pi_i, moving mass m to other actions costs KL = -log(1 - m) >= m in
    that state, so at most t * sum_s rho(s) max_a A(s, a) <= t eps / (1 - gamma) is gained for
    C t = 4 eps gamma t / (1 - gamma)^2 paid: for gamma > 1/5 the exact maximiser is pi_i.
    (A finding of the lab, not a statement of the paper.)"""
    rng = np.random.default_rng(19)
    moved = {0.1: 0, 0.5: 0, 0.9: 0}
    for gamma in moved:
        for _ in range(20):
            mdp = TabularMDP.random(4, 3, gamma, rng)
            pi0 = greedy(rng.standard_normal((4, 3)))
            new = algorithm1_step(mdp, pi0)
            moved[gamma] += not np.array_equal(new, pi0)
    assert moved[0.5] == 0 and moved[0.9] == 0
    assert moved[0.1] > 0  # below the threshold it can move


def test_algorithm1_step_maximises_M_better_than_perturbations():
    rng = np.random.default_rng(7)
    for _ in range(20):
        mdp = TabularMDP.random(4, 3, 0.9, rng)
        pi = random_policy(4, 3, rng)
        new = algorithm1_step(mdp, pi)
        best = algorithm1_objective(mdp, pi, new)
        for _ in range(30):  # random feasible perturbations never improve M
            other = np.clip(new + 1e-3 * rng.standard_normal(new.shape), 1e-12, None)
            other /= other.sum(axis=1, keepdims=True)
            assert algorithm1_objective(mdp, pi, other) <= best + 1e-12


def test_algorithm1_with_small_C_approaches_policy_iteration_and_eta_star():
    mdp = TabularMDP.random(5, 3, 0.9, seed=11)
    pi0 = mdp.uniform_policy()
    slow = algorithm1(mdp, pi0, 20)
    fast = algorithm1(mdp, pi0, 20, C=1e-3)  # a tiny penalty: nearly greedy steps (no guarantee)
    assert fast[-1] > slow[-1]
    assert fast[-1] == pytest.approx(_eta_star(mdp), rel=1e-6)
    assert algorithm1(mdp, pi0, 1, C=0.0).policy.tolist() == greedy(advantages(mdp, pi0)).tolist()


def test_policy_iteration_reaches_the_optimum():
    rng = np.random.default_rng(12)
    for gamma in (0.5, 0.9, 0.99):
        mdp = TabularMDP.random(6, 3, gamma, rng)
        trace = policy_iteration(mdp, random_policy(6, 3, rng), 30)
        assert np.all(np.diff(trace) >= -1e-10)
        assert trace[-1] == pytest.approx(_eta_star(mdp), rel=1e-10, abs=1e-10)


def test_trace_behaves_as_the_sequence_of_eta():
    mdp = TabularMDP.random(3, 2, 0.9, seed=0)
    trace = cpi(mdp, mdp.uniform_policy(), 5)
    assert isinstance(trace, Trace) and len(trace) == 6 and len(trace.policies) == 6
    assert list(trace) == [eta(mdp, p) for p in trace.policies]
    assert isinstance(trace[0], float) and np.array_equal(np.asarray(trace), trace.etas)
    assert np.array_equal(trace[1:3], trace.etas[1:3])
    assert trace.policy is trace.policies[-1]


# -- softmax-tabular gradient, Fisher, natural direction ------------------------------------------


def test_softmax_gradient_against_finite_differences():
    rng = np.random.default_rng(13)
    for _ in range(10):
        mdp = TabularMDP.random(4, 3, 0.9, rng)
        theta = rng.standard_normal((4, 3))
        g = softmax_gradient(mdp, theta)
        h = 1e-6
        fd = np.zeros_like(theta)
        for idx in np.ndindex(*theta.shape):
            e = np.zeros_like(theta)
            e[idx] = h
            fd[idx] = (eta(mdp, softmax(theta + e)) - eta(mdp, softmax(theta - e))) / (2 * h)
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_fisher_is_the_hessian_of_the_mean_kl_and_natural_direction_solves_it():
    rng = np.random.default_rng(14)
    mdp = TabularMDP.random(3, 3, 0.9, rng)
    theta = rng.standard_normal((3, 3))
    pi = softmax(theta)
    rho = visitation(mdp, pi)
    F = softmax_fisher(pi, rho)
    # finite-difference Hessian of theta' -> Dbar_KL(pi_theta || pi_theta') at theta' = theta
    h = 1e-4
    n = theta.size
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.zeros(n), np.zeros(n)
            ei[i], ej[j] = h, h

            def f(d):
                return softmax_kl_mean(theta, theta + d.reshape(theta.shape), rho)

            H[i, j] = (f(ei + ej) - f(ei - ej) - f(-ei + ej) + f(-ei - ej)) / (4 * h * h)
    np.testing.assert_allclose(H, F, atol=1e-6)
    x, g = natural_direction(mdp, theta)
    np.testing.assert_allclose(F @ x.ravel(), g.ravel(), atol=1e-12)  # F x = g exactly
    np.testing.assert_allclose(x.sum(axis=1), 0.0, atol=1e-12)  # minimum-norm: no per-state shift
    np.testing.assert_allclose(g, softmax_gradient(mdp, theta), atol=1e-14)
    # a generic least-squares solve agrees on this well-conditioned policy
    x_ls = np.linalg.lstsq(F, g.ravel(), rcond=None)[0]
    np.testing.assert_allclose(x.ravel(), x_ls, atol=1e-8)


# -- exact TRPO, NPG, CPI ------------------------------------------------------------------------------


def test_exact_trpo_respects_the_trust_region_and_improves_the_surrogate():
    rng = np.random.default_rng(15)
    for gamma in (0.5, 0.9, 0.95):
        mdp = TabularMDP.random(5, 3, gamma, rng)
        delta = 0.02
        trace = exact_trpo(mdp, random_policy(5, 3, rng), 40, delta=delta)
        for i in range(40):
            old, new = trace.policies[i], trace.policies[i + 1]
            if trace.info["step_fraction"][i] == 0:
                continue
            w = visitation(mdp, old)
            kl_exact = kl_mean(old, new, w)
            assert kl_exact <= delta * (1 + 1e-9) or not np.isfinite(kl_exact) and trace.info["kl_mean"][i] <= delta
            assert surrogate(mdp, old, new) >= eta(mdp, old) - 1e-12
        assert trace[-1] == pytest.approx(_eta_star(mdp), rel=1e-6)


def test_exact_npg_is_monotone_and_converges():
    rng = np.random.default_rng(16)
    for step in (0.01, 0.1, 1.0):
        mdp = TabularMDP.random(5, 3, 0.9, rng)
        trace = exact_npg(mdp, random_policy(5, 3, rng), 200, step_size=step)
        e = np.asarray(trace)
        assert np.all(np.diff(e) >= -1e-10 * np.abs(e).max())  # soft policy iteration is monotone
        if step >= 0.1:
            assert e[-1] == pytest.approx(_eta_star(mdp), rel=1e-6)


def test_cpi_alpha_maximises_the_bound_and_improvement_is_guaranteed():
    rng = np.random.default_rng(17)
    for gamma in (0.5, 0.9):
        mdp = TabularMDP.random(5, 3, gamma, rng)
        trace = cpi(mdp, random_policy(5, 3, rng), 10)
        for i, alpha in enumerate(trace.info["alpha"]):
            pi = trace.policies[i]
            A = advantages(mdp, pi)
            pi_prime = greedy(A)
            gain = visitation(mdp, pi) @ np.sum(pi_prime * A, axis=1)
            eps = np.max(np.abs(np.sum(pi_prime * A, axis=1)))
            c = 2 * eps * gamma / (1 - gamma) ** 2
            assert alpha == pytest.approx(min(1.0, gain / (2 * c)))
            # eta gain >= alpha * gain - c alpha^2 > 0 (the bound at the chosen alpha)
            assert trace[i + 1] - trace[i] >= alpha * gain - c * alpha**2 - 1e-10
            assert alpha * gain - c * alpha**2 > 0


def test_softmax_algorithms_reject_policies_with_zeros():
    mdp = TabularMDP.random(2, 2, 0.9, seed=0)
    with pytest.raises(ValueError, match="pi0 > 0"):
        exact_trpo(mdp, np.array([[1.0, 0.0], [0.5, 0.5]]), 1)


def test_kl_max_step_of_algorithm1_is_small_for_the_theorem_C():
    """With the theorem's C the steps are tiny -- the paper's reason to move to a trust region."""
    mdp = TabularMDP.random(6, 3, 0.9, seed=18)
    trace = algorithm1(mdp, mdp.uniform_policy(), 3)
    assert np.all(trace.info["kl_max"] < 1e-2)
    assert kl_max(trace.policies[0], trace.policies[1]) == pytest.approx(trace.info["kl_max"][0])
