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
