"""Gauss-Newton Fisher-vector product J^T M J v against the Hessian-of-KL FVP and against the full
Hessian of the mean KL from torch.autograd.functional.hessian (float64, tiny nets)."""
import pytest
import torch

from trpo.functional.fisher import fisher_vector_product, gauss_newton_fvp
from trpo.nets.policies import CategoricalActor, GaussianActor, MultiCategoricalActor, flat_params



@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _actors():
    torch.manual_seed(0)
    g = GaussianActor(3, 2, (5,), log_std_init=-0.3)
    with torch.no_grad():  # make the mean head non-trivial (the 0.01 output gain makes it ~0)
        g.net[-1].weight.mul_(100.0)
    c = CategoricalActor(3, 4, (5,))
    with torch.no_grad():
        c.net[-1].weight.mul_(100.0)
    m = MultiCategoricalActor(3, [2, 3], (4,))
    return {"gaussian": g, "categorical": c, "multicategorical": m}


@pytest.fixture(params=["gaussian", "categorical", "multicategorical"])
def actor(request):
    return _actors()[request.param].double()


def _full_hessian(actor, obs, old):
    """The n x n Hessian of E_s KL(pi_old || pi_theta) w.r.t. the flat parameters."""
    names = [n for n, _ in actor.named_parameters()]
    shapes = [p.shape for p in actor.parameters()]
    theta0 = flat_params(actor).clone()

    def mean_kl(theta):
        chunks = torch.split(theta, [s.numel() for s in shapes])
        ps = {n: c.view(s) for n, c, s in zip(names, chunks, shapes)}
        new = _dist(actor, ps, obs)
        return actor.kl(old, new).mean()

    return torch.autograd.functional.hessian(mean_kl, theta0)


def _dist(actor, ps, obs):
    class _Call(torch.nn.Module):
        def __init__(self, a):
            super().__init__()
            self.a = a

        def forward(self, x):
            return self.a.dist_params(x)

    return torch.func.functional_call(_Call(actor), {f"a.{k}": v for k, v in ps.items()}, (obs,))


def test_gauss_newton_equals_hessian_fvp_and_full_hessian(actor):
    torch.manual_seed(1)
    obs = torch.randn(7, 3)
    params = list(actor.parameters())
    with torch.no_grad():
        old = actor.dist_params(obs)
    damping = 0.05
    gn = gauss_newton_fvp(lambda: actor.dist_params(obs), actor.kl, old, params, damping)
    hv = fisher_vector_product(actor.kl(old, actor.dist_params(obs)).mean(), params, damping)
    H = _full_hessian(actor, obs, old)
    n = H.shape[0]
    for _ in range(3):
        v = torch.randn(n)
        ref = H @ v + damping * v
        torch.testing.assert_close(gn(v), ref, rtol=1e-8, atol=1e-10)
        torch.testing.assert_close(hv(v), ref, rtol=1e-8, atol=1e-10)


def test_gauss_newton_head_metric_is_closed_form_fisher():
    """J^T M J with J = identity on the head: feed the head outputs themselves as the parameters,
    so the product is M v; compare with diag(p) - p p^T and (1/sigma^2, 2) divided by B."""
    torch.manual_seed(2)
    B = 5
    logits = torch.randn(B, 4, requires_grad=True)
    old = (logits.detach(),)
    from trpo.functional.kl import categorical_kl, diag_gaussian_kl

    fvp = gauss_newton_fvp(lambda: (logits,), lambda o, n: categorical_kl(o[0], n[0]), old, [logits])
    v = torch.randn(B * 4)
    p = torch.softmax(logits.detach(), -1)
    M = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    ref = torch.einsum("bij,bj->bi", M, v.view(B, 4)).reshape(-1) / B
    torch.testing.assert_close(fvp(v), ref)

    mu = torch.randn(B, 2, requires_grad=True)
    log_std = torch.randn(B, 2, requires_grad=True)
    old = (mu.detach(), log_std.detach())
    fvp = gauss_newton_fvp(lambda: (mu, log_std), lambda o, n: diag_gaussian_kl(o[0], o[1], n[0], n[1]),
                           old, [mu, log_std])
    v = torch.randn(2 * B * 2)
    vm, vs = v[: B * 2].view(B, 2), v[B * 2:].view(B, 2)
    ref = torch.cat([(vm / torch.exp(2 * log_std.detach())).reshape(-1), (2 * vs).reshape(-1)]) / B
    torch.testing.assert_close(fvp(v), ref)


# --- the written-out product (J v and J^T u by hand, closed-form M): the default for built-in actors

def test_written_out_product_equals_the_full_hessian(actor):
    from trpo.algos.trust_region import written_out_fvp

    torch.manual_seed(1)
    obs = torch.randn(7, 3)
    with torch.no_grad():
        old = actor.dist_params(obs)
    fvp = written_out_fvp(actor, obs, old, 0.05)
    assert fvp is not None
    H = _full_hessian(actor, obs, old)
    for _ in range(3):
        v = torch.randn(H.shape[0])
        torch.testing.assert_close(fvp(v), H @ v + 0.05 * v, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("hidden", [(), (6,), (5, 4, 3)])
def test_written_out_product_equals_autograd_gauss_newton_at_other_depths(hidden):
    from trpo.algos.trust_region import written_out_fvp

    torch.manual_seed(2)
    for actor in (GaussianActor(4, 2, hidden, log_std_init=0.4), CategoricalActor(4, 3, hidden),
                  MultiCategoricalActor(4, [2, 2], hidden)):
        actor = actor.double()
        obs = torch.randn(11, 4)
        with torch.no_grad():
            old = actor.dist_params(obs)
        ref = gauss_newton_fvp(lambda: actor.dist_params(obs), actor.kl, old, list(actor.parameters()), 0.1)
        mine = written_out_fvp(actor, obs, old, 0.1)
        v = torch.randn(sum(p.numel() for p in actor.parameters()))
        torch.testing.assert_close(mine(v), ref(v), rtol=1e-9, atol=1e-12)


def test_written_out_product_knows_the_log_std_clamp():
    """A log-std held at its bound has no gradient, so no Fisher row: as in autograd's product."""
    from trpo.algos.trust_region import written_out_fvp
    from trpo.nets.policies import LOG_STD_MIN

    torch.manual_seed(3)
    actor = GaussianActor(3, 2, (5,)).double()
    with torch.no_grad():
        actor.log_std[0] = LOG_STD_MIN - 1.0
    obs = torch.randn(9, 3)
    with torch.no_grad():
        old = actor.dist_params(obs)
    v = torch.randn(sum(p.numel() for p in actor.parameters()))
    ref = gauss_newton_fvp(lambda: actor.dist_params(obs), actor.kl, old, list(actor.parameters()), 0.0)(v)
    mine = written_out_fvp(actor, obs, old, 0.0)(v)
    assert mine[0] == 0 and mine[1] != 0
    torch.testing.assert_close(mine, ref, rtol=1e-9, atol=1e-12)


def test_other_actors_fall_back_to_autograd():
    from trpo.algos.trust_region import written_out_fvp

    class Shifted(CategoricalActor):
        def dist_params(self, obs):  # any change of the head's computation
            return (self.net(obs) + 1.0,)

    softplus = CategoricalActor(3, 2, (4,))  # an activation the written-out derivatives do not know
    softplus.net[1] = torch.nn.Softplus()
    leaky = CategoricalActor(3, 2, (4,))
    leaky.net[1] = torch.nn.LeakyReLU()
    mixed = CategoricalActor(3, 2, (4, 4), activation="relu")  # one activation per net, not two
    mixed.net[3] = torch.nn.Tanh()
    elu = CategoricalActor(3, 2, (4,))
    elu.net[1] = torch.nn.ELU(alpha=0.5)  # a known activation configured otherwise
    obs = torch.randn(5, 3)
    for a in (Shifted(3, 2, (4,)), softplus, leaky, mixed, elu):
        with torch.no_grad():
            old = a.dist_params(obs)
        assert written_out_fvp(a, obs, old, 0.1) is None


@pytest.mark.parametrize("activation", ["tanh", "relu", "elu", "gelu", "silu"])
def test_written_out_product_equals_autograd_for_every_activation(activation):
    """Every activation a config may name keeps the written-out product, equal to autograd's
    Gauss-Newton product and to the full Hessian of the mean KL."""
    from trpo.algos.trust_region import written_out_fvp

    torch.manual_seed(5)
    for actor in (GaussianActor(4, 2, (6, 5), log_std_init=0.3, activation=activation),
                  CategoricalActor(4, 3, (6, 5), activation=activation),
                  MultiCategoricalActor(4, [2, 3], (6,), activation=activation)):
        actor = actor.double()
        obs = torch.randn(13, 4, dtype=torch.float64)
        with torch.no_grad():
            old = actor.dist_params(obs)
        mine = written_out_fvp(actor, obs, old, 0.1)
        assert mine is not None
        ref = gauss_newton_fvp(lambda a=actor: a.dist_params(obs), actor.kl, old, list(actor.parameters()), 0.1)
        H = _full_hessian(actor, obs, old)
        for _ in range(2):
            v = torch.randn(sum(p.numel() for p in actor.parameters()), dtype=torch.float64)
            torch.testing.assert_close(mine(v), ref(v), rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(mine(v), H @ v + 0.1 * v, rtol=1e-8, atol=1e-10)
