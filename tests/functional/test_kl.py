import numpy as np
import torch
from torch.distributions import Categorical, Independent, Normal, kl_divergence

from trpo.functional import (categorical_entropy, categorical_kl, categorical_log_prob, diag_gaussian_entropy,
                             diag_gaussian_kl, diag_gaussian_log_prob)


def test_categorical_against_torch_distributions():
    g = torch.Generator().manual_seed(0)
    lp, lq = torch.randn(64, 5, generator=g), torch.randn(64, 5, generator=g)
    P, Q = Categorical(logits=lp), Categorical(logits=lq)
    np.testing.assert_allclose(categorical_kl(lp, lq), kl_divergence(P, Q), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(categorical_entropy(lp), P.entropy(), rtol=1e-5, atol=1e-6)
    a = P.sample(generator=g) if False else torch.randint(0, 5, (64,), generator=g)
    np.testing.assert_allclose(categorical_log_prob(lp, a), P.log_prob(a), rtol=1e-5, atol=1e-6)
    assert torch.all(categorical_kl(lp, lp).abs() < 1e-6)


def test_diag_gaussian_against_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mp, mq = torch.randn(32, 3, generator=g), torch.randn(32, 3, generator=g)
    sp, sq = 0.5 * torch.randn(32, 3, generator=g), 0.5 * torch.randn(32, 3, generator=g)
    P = Independent(Normal(mp, sp.exp()), 1)
    Q = Independent(Normal(mq, sq.exp()), 1)
    np.testing.assert_allclose(diag_gaussian_kl(mp, sp, mq, sq), kl_divergence(P, Q), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(diag_gaussian_entropy(sp), P.entropy(), rtol=1e-5, atol=1e-5)
    x = torch.randn(32, 3, generator=g)
    np.testing.assert_allclose(diag_gaussian_log_prob(mp, sp, x), P.log_prob(x), rtol=1e-5, atol=1e-5)


def test_clipped_gaussian_log_prob():
    """CAPG's log-probability of the clipped action: the density strictly inside the bounds, the
    Gaussian's tail mass at or beyond a bound (checked against sampling), finite gradients with
    infinite bounds, and no pull on a mean far outside the box."""
    from trpo.functional.kl import clipped_gaussian_log_prob

    g = torch.Generator().manual_seed(2)
    mu, ls = torch.randn(16, 3, generator=g), 0.3 * torch.randn(16, 3, generator=g) - 0.5
    low, high = -torch.ones(3), torch.ones(3)
    x = 0.5 * torch.rand(16, 3, generator=g) - 0.25  # strictly inside the bounds
    np.testing.assert_allclose(clipped_gaussian_log_prob(mu, ls, x, low, high), diag_gaussian_log_prob(mu, ls, x),
                               rtol=1e-6, atol=1e-6)
    m, s = torch.tensor([0.8, -1.2]), torch.tensor([0.3, 0.5])
    samples = m + s * torch.randn(400_000, 2, generator=g)
    p_hi, p_lo = float((samples[:, 0] >= 1).float().mean()), float((samples[:, 1] <= -1).float().mean())
    lp = clipped_gaussian_log_prob(m, s.log(), torch.tensor([1.7, -3.0]), -torch.ones(2), torch.ones(2))
    np.testing.assert_allclose(float(lp), np.log(p_hi) + np.log(p_lo), atol=0.01)
    # an infinite bound: that dimension keeps the density, and gradients stay finite
    mu_g, ls_g = mu.clone().requires_grad_(), ls.clone().requires_grad_()
    inf = torch.tensor([float("inf"), 1.0, float("inf")])
    y = 3.0 * torch.randn(16, 3, generator=g)
    clipped_gaussian_log_prob(mu_g, ls_g, y, -inf, inf).sum().backward()
    assert torch.isfinite(mu_g.grad).all() and torch.isfinite(ls_g.grad).all()
    # a mean far beyond the bound: log P(a >= high) = 0, no gradient
    far = torch.tensor([6.0], requires_grad=True)
    out = clipped_gaussian_log_prob(far, torch.tensor([-2.0]), torch.tensor([6.1]), -torch.ones(1), torch.ones(1))
    out.backward()
    assert abs(float(out)) < 1e-6 and abs(float(far.grad)) < 1e-6


def test_gaussian_actor_bounds_leave_the_state_dict_alone():
    import gymnasium as gym
    from trpo.nets.policies import make_actor

    obs, act = gym.spaces.Box(-np.inf, np.inf, (4,)), gym.spaces.Box(-1.0, 1.0, (2,))
    a0, a1 = make_actor(obs, act, (8,)), make_actor(obs, act, (8,), clipped_logprob=True)
    assert not a0.clipped_logprob and a1.clipped_logprob
    assert a0.state_dict().keys() == a1.state_dict().keys()
    a1.load_state_dict(a0.state_dict())
    o = torch.randn(5, 4)
    p = a1.dist_params(o)
    inside = torch.zeros(5, 2)
    torch.testing.assert_close(a1.log_prob(p, inside), a0.log_prob(p, inside))
    beyond = torch.full((5, 2), 1.5)
    assert torch.all(a1.log_prob(p, beyond) > a0.log_prob(p, beyond))  # tail mass > density out there
