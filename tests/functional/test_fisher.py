import numpy as np
import pytest
import torch
from torch.autograd.functional import hessian
from torch.func import functional_call

from trpo.functional import fisher_vector_product
from trpo.nets.policies import CategoricalActor, GaussianActor, MultiCategoricalActor, flat_params


class _MeanKL(torch.nn.Module):
    """mean_s KL(pi_old || pi_theta) as a module, so functional_call can swap theta in."""

    def __init__(self, actor):
        super().__init__()
        self.a = actor

    def forward(self, obs, old):
        return self.a.kl(old, self.a.dist_params(obs)).mean()


def _explicit_fisher(actor, obs):
    """Hessian of the mean KL(pi_old || pi_theta) at theta_old, by torch.autograd.functional."""
    names = [n for n, _ in actor.named_parameters()]
    shapes = [p.shape for p in actor.parameters()]
    theta0 = flat_params(actor).detach()
    with torch.no_grad():
        old = actor.dist_params(obs)
    module = _MeanKL(actor)

    def mean_kl(theta):
        chunks, i = {}, 0
        for n, s in zip(names, shapes):
            k = int(np.prod(s))
            chunks[f"a.{n}"] = theta[i:i + k].view(s)
            i += k
        return functional_call(module, chunks, (obs, old))

    return hessian(mean_kl, theta0)


@pytest.mark.parametrize("make", [
    lambda: CategoricalActor(3, 4, hidden=(5,)),
    lambda: GaussianActor(3, 2, hidden=(5,), log_std_init=-0.3),
    lambda: MultiCategoricalActor(3, [2, 3], hidden=(4,)),
])
def test_fvp_equals_explicit_hessian_of_mean_kl(make):
    torch.manual_seed(0)
    actor = make().double()
    for p in actor.parameters():  # move off the tiny output init so the Fisher is well conditioned
        p.data.add_(0.3 * torch.randn_like(p))
    obs = torch.randn(16, 3, dtype=torch.float64)
    with torch.no_grad():
        old = actor.dist_params(obs)
    params = list(actor.parameters())
    mean_kl = actor.kl(old, actor.dist_params(obs)).mean()
    damping = 0.05
    fvp = fisher_vector_product(mean_kl, params, damping)
    F = _explicit_fisher(actor, obs)
    n = F.shape[0]
    assert torch.allclose(F, F.T, atol=1e-10)
    for seed in range(3):
        v = torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        np.testing.assert_allclose(fvp(v).detach().numpy(), (F @ v + damping * v).numpy(), rtol=1e-7, atol=1e-9)


def test_fisher_is_covariance_of_score_for_categorical():
    """F = E_a[grad log pi grad log pi^T] (seed 003 eq. Fisher) for one state: the Hessian of KL
    and the score outer product agree."""
    torch.manual_seed(1)
    actor = CategoricalActor(2, 3, hidden=(3,)).double()
    for p in actor.parameters():
        p.data.add_(0.5 * torch.randn_like(p))
    obs = torch.randn(1, 2, dtype=torch.float64)
    params = list(actor.parameters())
    with torch.no_grad():
        old = actor.dist_params(obs)
    probs = torch.softmax(old[0], -1)[0]
    scores = []
    for a in range(3):
        lp = actor.log_prob(actor.dist_params(obs), torch.tensor([a]))
        g = torch.autograd.grad(lp.sum(), params)
        scores.append(torch.cat([x.reshape(-1) for x in g]))
    F_score = sum(probs[a] * torch.outer(scores[a], scores[a]) for a in range(3))
    fvp = fisher_vector_product(actor.kl(old, actor.dist_params(obs)).mean(), params, 0.0)
    v = torch.randn(F_score.shape[0], dtype=torch.float64)
    np.testing.assert_allclose(fvp(v).detach().numpy(), (F_score @ v).numpy(), rtol=1e-7, atol=1e-10)
