"""The bounds of seeds 000/001 (TRPO Theorem 1, eq. 9, eq. 6) on 1,000 random cases."""

import numpy as np
import pytest

from trpo.theory import (
    TabularMDP,
    advantages,
    cpi_bound,
    cpi_mixture,
    cpi_penalty,
    eta,
    expected_advantage,
    migt_bound,
    migt_bound_kl,
    migt_bound_tight,
    migt_penalty,
    migt_penalty_tight,
    penalty_coefficient,
    random_policy,
    surrogate,
    tv_max,
)
from trpo.theory.check import PAIR_KINDS, policy_pair


def _cases(n, seed):
    """n random (mdp, pi_old, pi_new, kind) with S in 2..6, A in 2..3, varied gamma and distances."""
    rng = np.random.default_rng(seed)
    gammas = (0.0, 0.3, 0.6, 0.9, 0.95, 0.99)
    for i in range(n):
        mdp = TabularMDP.random(
            int(rng.integers(2, 7)), int(rng.integers(2, 4)), gammas[i % len(gammas)], rng,
            concentration=(1.0, 0.2, 0.05)[i % 3],
        )
        kind = PAIR_KINDS[i % len(PAIR_KINDS)]
        pi, pi_new = policy_pair(mdp, kind, rng)
        yield mdp, pi, pi_new, kind, rng


def _tol(*xs):
    return 1e-9 * max(1.0, *(abs(x) for x in xs))


def test_bounds_never_violated_on_1000_random_cases():
    n_cases = 1000
    kinds_seen = set()
    worst = {"migt": np.inf, "tight": np.inf, "kl": np.inf, "cpi": np.inf}
    for mdp, pi, pi_new, kind, rng in _cases(n_cases, seed=1):
        kinds_seen.add(kind)
        e_new = eta(mdp, pi_new)
        L = surrogate(mdp, pi, pi_new)
        b, b_tight, b_kl = migt_bound(mdp, pi, pi_new), migt_bound_tight(mdp, pi, pi_new), migt_bound_kl(mdp, pi, pi_new)
        tol = _tol(e_new, L)
        # Theorem 1 (eq. 8), its intermediate form, and the KL form (eq. 9)
        assert e_new >= b - tol
        assert e_new >= b_tight - tol
        assert e_new >= b_kl - tol
        # the proof is two-sided: |eta - L| <= tight penalty <= penalty
        assert abs(e_new - L) <= migt_penalty_tight(mdp, pi, pi_new) + tol
        # ordering of the relaxations: KL form <= TV form <= intermediate form <= L
        assert b_kl <= b + tol and b <= b_tight + tol and b_tight <= L + tol
        # CPI (eq. 6) on a mixture with a random or greedy pi'
        pi_prime = random_policy(mdp.n_states, mdp.n_actions, rng, 0.3) if rng.random() < 0.5 else \
            np.eye(mdp.n_actions)[np.argmax(advantages(mdp, pi), axis=1)]
        alpha = float(rng.uniform(0.0, 0.1 if kind == "near" else 1.0))
        mix = cpi_mixture(pi, pi_prime, alpha)
        e_mix = eta(mdp, mix)
        c, c_tight = cpi_bound(mdp, pi, pi_prime, alpha), cpi_bound(mdp, pi, pi_prime, alpha, tight=True)
        assert e_mix >= c_tight - _tol(e_mix) and c <= c_tight + _tol(c)
        for key, slack in (("migt", e_new - b), ("tight", e_new - b_tight), ("kl", e_new - b_kl), ("cpi", e_mix - c)):
            worst[key] = min(worst[key], slack)
    assert kinds_seen == set(PAIR_KINDS)
    assert all(v >= -1e-9 for v in worst.values()), worst


def test_coupling_lemma_on_random_cases():
    """|Abar(s)| = |E_{a~pi~} A_pi(s, a)| <= 2 alpha max_{s,a} |A_pi(s, a)|  (TRPO App. A, Lemma 2)."""
    for mdp, pi, pi_new, _, _ in _cases(300, seed=2):
        A = advantages(mdp, pi)
        abar = np.abs(expected_advantage(mdp, pi, pi_new))
        assert np.all(abar <= 2 * tv_max(pi, pi_new) * np.max(np.abs(A)) + 1e-12)


def test_hand_computed_single_state_example():
    """S = 1, R = [1, 0], gamma = 1/2, pi_old uniform, pi_new = [1, 0]:
    eta_old = 1, A = [1/2, -1/2], eps = 1/2, rho = 2, L = eta_new = 2, alpha = 1/2."""
    mdp = TabularMDP(np.ones((1, 2, 1)), np.array([[1.0, 0.0]]), np.ones(1), 0.5)
    pi_old, pi_new = np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]])
    assert penalty_coefficient(mdp, pi_old) == pytest.approx(4 * 0.5 * 0.5 / 0.25)  # C = 4
    assert migt_penalty(mdp, pi_old, pi_new) == pytest.approx(1.0)  # C alpha^2
    assert migt_bound(mdp, pi_old, pi_new) == pytest.approx(1.0)
    assert migt_penalty_tight(mdp, pi_old, pi_new) == pytest.approx(0.25 / 0.375)  # 4 eps a^2 g / ((1-g)(1-g(1-a)))
    assert migt_bound_tight(mdp, pi_old, pi_new) == pytest.approx(2.0 - 2.0 / 3.0)
    assert migt_bound_kl(mdp, pi_old, pi_new) == -np.inf  # KL(uniform || deterministic) = inf
    # CPI with pi' = pi_new, alpha = 1: eps = |E_{pi'} A| = 1/2, penalty 2 eps gamma / (1-gamma)^2 = 2
    assert cpi_penalty(mdp, pi_old, pi_new, 1.0) == pytest.approx(2.0)
    assert cpi_bound(mdp, pi_old, pi_new, 1.0) == pytest.approx(0.0)
    # K&L before relaxation: 2 eps gamma alpha^2 / ((1 - gamma)(1 - gamma(1 - alpha))) = 0.5 / 0.5 = 1
    assert cpi_bound(mdp, pi_old, pi_new, 1.0, tight=True) == pytest.approx(1.0)


def test_bounds_are_exact_at_the_old_policy_and_zero_for_gamma_zero():
    rng = np.random.default_rng(4)
    mdp = TabularMDP.random(4, 3, 0.9, rng)
    pi = random_policy(4, 3, rng)
    for bound in (migt_bound, migt_bound_tight, migt_bound_kl):
        assert bound(mdp, pi, pi) == pytest.approx(eta(mdp, pi), rel=1e-12)
    # gamma = 0: eta = E_rho0[r_pi] = L exactly, and every penalty vanishes
    mdp0 = TabularMDP.random(4, 3, 0.0, rng)
    pi_new = random_policy(4, 3, rng)
    assert migt_bound(mdp0, pi, pi_new) == pytest.approx(eta(mdp0, pi_new), rel=1e-12)


def test_the_posts_sign_typo_is_false():
    """Seed 000 states eta(pi~) <= L(pi~) - C alpha^2.  That is false for most pairs (the
    paper's inequality is >=), so a check with the seed's sign must fail."""
    violated = 0
    cases = [c for c in _cases(240, seed=3) if c[0].gamma > 0]  # gamma = 0: eta = L = bound
    for mdp, pi, pi_new, _, _ in cases:
        if not eta(mdp, pi_new) <= migt_bound(mdp, pi, pi_new) + 1e-9:
            violated += 1
    assert violated >= 0.95 * len(cases)


def test_cpi_mixture_validates_alpha():
    pi = np.ones((2, 2)) / 2
    with pytest.raises(ValueError, match="alpha"):
        cpi_mixture(pi, pi, 1.5)
