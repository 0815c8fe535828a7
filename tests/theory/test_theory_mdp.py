"""TabularMDP: validation, exact quantities against independent references.

References used here never go through the library's linear solves: truncated series
(``sum_t gamma^t P_pi^t r_pi``), forward propagation of state distributions, and brute-force
Monte Carlo rollouts.
"""

import numpy as np
import pytest

from trpo.theory import (
    TabularMDP,
    advantages,
    eta,
    expected_advantage,
    optimal_value,
    q_values,
    random_policy,
    surrogate,
    value,
    visitation,
)

RNG_SEED = 20240501


def _series_value(mdp, pi, horizon):
    """V = sum_t gamma^t P_pi^t r_pi by direct summation."""
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    r_pi = np.sum(pi * mdp.R, axis=1)
    V, term = np.zeros(mdp.n_states), r_pi.copy()
    for t in range(horizon):
        V += mdp.gamma**t * term
        term = P_pi @ term
    return V


def _state_distributions(mdp, pi, horizon):
    """d_t(s) = P(s_t = s) by forward propagation from rho0."""
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    d = mdp.rho0.copy()
    for _ in range(horizon):
        yield d
        d = d @ P_pi


def _horizon(gamma, tol=1e-16):
    return 1 if gamma == 0 else int(np.ceil(np.log(tol) / np.log(gamma))) + 1


# -- validation -----------------------------------------------------------------------------


def _valid_arrays():
    P = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.5], [0.0, 1.0]]])
    R = np.array([[1.0, 0.0], [0.0, 2.0]])
    rho0 = np.array([0.3, 0.7])
    return P, R, rho0


def test_valid_mdp_is_float64_and_read_only():
    P, R, rho0 = _valid_arrays()
    mdp = TabularMDP(P.astype(np.float32), R, rho0, 0.9)
    assert mdp.P.dtype == np.float64 and mdp.n_states == 2 and mdp.n_actions == 2
    with pytest.raises(ValueError):
        mdp.P[0, 0, 0] = 0.5  # read-only: the MDP owns its arrays
    P[0, 0] = [0.0, 1.0]  # the caller's array is copied
    assert mdp.P[0, 0, 0] == pytest.approx(0.9, abs=1e-7)
    np.testing.assert_allclose(mdp.P.sum(axis=2), 1.0, rtol=0, atol=1e-15)  # renormalised


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda P, R, r, g: (P[:, :, :1], R, r, g), "shape"),
        (lambda P, R, r, g: (P[0], R, r, g), "3 dimensions"),
        (lambda P, R, r, g: (P * 1.1, R, r, g), "sum to 1"),
        (lambda P, R, r, g: (P - np.array([0.2, -0.2]), R, r, g), "negative"),
        (lambda P, R, r, g: (P, R[:, :1], r, g), "R must have shape"),
        (lambda P, R, r, g: (P, R * np.nan, r, g), "NaN"),
        (lambda P, R, r, g: (P, R, r[:1], g), "rho0 must have shape"),
        (lambda P, R, r, g: (P, R, r * 2, g), "rho0 rows must sum to 1"),
        (lambda P, R, r, g: (P, R, r, 1.0), "gamma"),
        (lambda P, R, r, g: (P, R, r, -0.1), "gamma"),
    ],
)
def test_invalid_inputs_raise_clear_errors(mutate, message):
    P, R, rho0 = _valid_arrays()
    with pytest.raises(ValueError, match=message):
        TabularMDP(*mutate(P, R, rho0, 0.9))


def test_policy_validation():
    mdp = TabularMDP(*_valid_arrays(), gamma=0.9)
    with pytest.raises(ValueError, match="shape"):
        mdp.value(np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="sum to 1"):
        mdp.value(np.array([[0.5, 0.6], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="negative"):
        mdp.eta(np.array([[1.5, -0.5], [0.5, 0.5]]))


def test_random_is_reproducible_and_valid():
    a = TabularMDP.random(4, 3, 0.95, seed=7)
    b = TabularMDP.random(4, 3, 0.95, seed=7)
    c = TabularMDP.random(4, 3, 0.95, seed=8)
    assert np.array_equal(a.P, b.P) and np.array_equal(a.R, b.R) and np.array_equal(a.rho0, b.rho0)
    assert not np.array_equal(a.P, c.P)
    assert a.P.shape == (4, 3, 4) and a.gamma == 0.95
    with pytest.raises(ValueError):
        TabularMDP.random(0, 2, 0.9, seed=0)


# -- exact quantities against series and propagation ---------------------------------------------


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.97])
def test_value_and_visitation_match_truncated_series(gamma):
    rng = np.random.default_rng(RNG_SEED)
    H = _horizon(gamma)
    for _ in range(10):
        mdp = TabularMDP.random(int(rng.integers(2, 7)), int(rng.integers(2, 4)), gamma, rng)
        pi = random_policy(mdp.n_states, mdp.n_actions, rng)
        V_ref = _series_value(mdp, pi, H)
        np.testing.assert_allclose(value(mdp, pi), V_ref, rtol=1e-10, atol=1e-10)
        rho_ref = sum(gamma**t * d for t, d in enumerate(_state_distributions(mdp, pi, H)))
        rho = visitation(mdp, pi)
        np.testing.assert_allclose(rho, rho_ref, rtol=1e-10, atol=1e-12)
        assert rho.sum() == pytest.approx(1.0 / (1.0 - gamma), rel=1e-12)
        assert eta(mdp, pi) == pytest.approx(mdp.rho0 @ V_ref, rel=1e-10, abs=1e-10)


def test_q_values_and_advantages_satisfy_bellman_and_zero_mean():
    rng = np.random.default_rng(RNG_SEED + 1)
    for _ in range(20):
        mdp = TabularMDP.random(5, 3, 0.9, rng)
        pi = random_policy(5, 3, rng)
        V, Q, A = value(mdp, pi), q_values(mdp, pi), advantages(mdp, pi)
        np.testing.assert_allclose(np.sum(pi * Q, axis=1), V, rtol=1e-12, atol=1e-12)  # V = E_pi Q
        np.testing.assert_allclose(Q, mdp.R + mdp.gamma * np.einsum("sat,t->sa", mdp.P, V), atol=1e-12)
        np.testing.assert_allclose(np.sum(pi * A, axis=1), 0.0, atol=1e-12)  # E_{a~pi} A_pi = 0


def test_methods_are_thin_wrappers():
    rng = np.random.default_rng(3)
    mdp = TabularMDP.random(3, 2, 0.8, rng)
    pi, pi2 = random_policy(3, 2, rng), random_policy(3, 2, rng)
    assert mdp.eta(pi) == eta(mdp, pi)
    assert np.array_equal(mdp.value(pi), value(mdp, pi))
    assert np.array_equal(mdp.q_values(pi), q_values(mdp, pi))
    assert np.array_equal(mdp.advantages(pi), advantages(mdp, pi))
    assert np.array_equal(mdp.visitation(pi), visitation(mdp, pi))
    assert mdp.surrogate(pi, pi2) == surrogate(mdp, pi, pi2)


# -- the identities of the seeds to 1e-10 ------------------------------------------------------------


def test_performance_difference_lemma_two_ways():
    """eta(pi~) - eta(pi) = E_{tau~pi~}[sum_t gamma^t A_pi(s_t, a_t)]   (TRPO eq. 1)
                          = sum_s rho_pi~(s) sum_a pi~(a|s) A_pi(s, a)   (TRPO eq. 2)."""
    rng = np.random.default_rng(RNG_SEED + 2)
    for trial in range(60):
        gamma = [0.0, 0.5, 0.9, 0.99][trial % 4]
        mdp = TabularMDP.random(int(rng.integers(2, 7)), int(rng.integers(2, 4)), gamma, rng,
                                concentration=[1.0, 0.1][trial % 2])
        pi = random_policy(mdp.n_states, mdp.n_actions, rng, temperature=[1.0, 0.2][trial % 2])
        pi_t = random_policy(mdp.n_states, mdp.n_actions, rng)
        lhs = eta(mdp, pi_t) - eta(mdp, pi)
        abar = expected_advantage(mdp, pi, pi_t)
        eq2 = float(visitation(mdp, pi_t) @ abar)
        H = min(_horizon(gamma), 5000)
        eq1 = sum(gamma**t * float(d @ abar) for t, d in enumerate(_state_distributions(mdp, pi_t, H)))
        scale = max(1.0, abs(eta(mdp, pi_t)))
        assert abs(lhs - eq2) <= 1e-10 * scale
        assert abs(lhs - eq1) <= 1e-10 * scale


def test_surrogate_matches_eta_at_the_old_policy_and_uses_old_visitation():
    rng = np.random.default_rng(RNG_SEED + 3)
    for _ in range(50):
        mdp = TabularMDP.random(4, 3, 0.95, rng)
        pi, pi_new = random_policy(4, 3, rng), random_policy(4, 3, rng)
        assert surrogate(mdp, pi, pi) == pytest.approx(eta(mdp, pi), rel=1e-10, abs=1e-10)
        expected = eta(mdp, pi) + visitation(mdp, pi) @ np.sum(pi_new * advantages(mdp, pi), axis=1)
        assert surrogate(mdp, pi, pi_new) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_single_state_mdp_by_hand():
    """S = 1: V = r_pi / (1 - gamma) and L = eta exactly (the visitation cannot change)."""
    mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), np.ones(1), 0.5)
    pi = np.array([[0.5, 0.5]])
    assert mdp.eta(pi) == pytest.approx(1.0)
    np.testing.assert_allclose(mdp.q_values(pi), [[1.5, 0.5]])
    np.testing.assert_allclose(mdp.advantages(pi), [[0.5, -0.5]])
    np.testing.assert_allclose(mdp.visitation(pi), [2.0])
    assert mdp.surrogate(pi, np.array([[1.0, 0.0]])) == pytest.approx(2.0) == mdp.eta(np.array([[1.0, 0.0]]))


# -- brute-force Monte Carlo on a 2-state MDP --------------------------------------------------------


def _monte_carlo_returns(mdp, pi, s, horizon, rng):
    """Discounted returns of simulated trajectories from the start states ``s`` (2 states, 2 actions)."""
    s = s.copy()
    G = np.zeros(s.size)
    for t in range(horizon):
        a = (rng.random(s.size) >= pi[s, 0]).astype(int)  # action 1 with probability pi(1|s)
        G += mdp.gamma**t * mdp.R[s, a]
        s = (rng.random(s.size) >= mdp.P[s, a, 0]).astype(int)  # next state 1 w.p. P(1|s, a)
    return G


def test_value_against_brute_force_monte_carlo_on_two_states():
    P = np.array([[[0.7, 0.3], [0.1, 0.9]], [[0.4, 0.6], [0.95, 0.05]]])
    R = np.array([[1.0, -0.5], [2.0, 0.3]])
    mdp = TabularMDP(P, R, np.array([0.6, 0.4]), gamma=0.8)
    pi = np.array([[0.3, 0.7], [0.6, 0.4]])
    rng = np.random.default_rng(12345)
    n, horizon = 50_000, 100  # 0.8^100 ~ 2e-10: truncation is negligible
    V = value(mdp, pi)
    for start in range(2):
        G = _monte_carlo_returns(mdp, pi, np.full(n, start), horizon, rng)
        stderr = G.std() / np.sqrt(n)
        assert stderr < 0.01  # the comparison is informative
        assert abs(G.mean() - V[start]) < 4.5 * stderr, (start, G.mean(), V[start], stderr)
    # eta: start states drawn from rho0
    G = _monte_carlo_returns(mdp, pi, (rng.random(n) >= mdp.rho0[0]).astype(int), horizon, rng)
    assert abs(G.mean() - eta(mdp, pi)) < 4.5 * G.std() / np.sqrt(n)
    # and the MC estimate does separate V from a slightly wrong value
    assert abs(G.mean() - 1.02 * eta(mdp, pi)) > 4.5 * G.std() / np.sqrt(n)


def test_optimal_value_is_a_fixed_point_of_the_bellman_optimality_operator():
    rng = np.random.default_rng(5)
    for gamma in (0.5, 0.9, 0.99):
        mdp = TabularMDP.random(6, 3, gamma, rng)
        V = optimal_value(mdp)
        np.testing.assert_allclose((mdp.R + gamma * mdp.P @ V).max(axis=1), V, rtol=1e-11, atol=1e-11)
