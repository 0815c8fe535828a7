"""The written-out derivatives of a tanh MLP (the critic's squared-error gradient, J v, J^T u)
against torch.autograd."""
import pytest
import torch
from torch import nn

from trpo.algos.common import adam, fit_critic
from trpo.nets.policies import plain_critic_layers as tanh_mlp_layers
from trpo.functional.mlp import tanh_mlp_forward, tanh_mlp_jvp, tanh_mlp_mse_grads, tanh_mlp_vjp, tanh_slopes
from trpo.nets.policies import Critic


@pytest.mark.parametrize("hidden", [(), (7,), (64, 64), (5, 9, 3)])
def test_grads_match_autograd(hidden):
    torch.manual_seed(0)
    critic = Critic(6, hidden).double()
    x, y = torch.randn(33, 6, dtype=torch.float64), torch.randn(33, dtype=torch.float64)
    layers = tanh_mlp_layers(critic)
    assert layers is not None and len(layers) == len(hidden) + 1
    loss, gw, gb = tanh_mlp_mse_grads([m.weight for m in layers], [m.bias for m in layers], x, y)

    ref = (critic(x) - y).pow(2).mean()
    ref.backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=0)
    for m, w, b in zip(layers, gw, gb):
        torch.testing.assert_close(w, m.weight.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(b, m.bias.grad, rtol=1e-10, atol=1e-12)


class _AutogradCritic(Critic):
    def forward(self, obs):  # any override of forward sends fit_critic down the autograd path
        return super().forward(obs)


def test_fast_fit_equals_autograd_fit():
    torch.manual_seed(1)
    fast = Critic(4, (16, 16)).double()
    slow = _AutogradCritic(4, (16, 16)).double()
    slow.load_state_dict(fast.state_dict())
    assert tanh_mlp_layers(fast) is not None and tanh_mlp_layers(slow) is None
    obs = torch.randn(200, 4, dtype=torch.float64)
    y = obs.sum(1).sin()
    losses = []
    for c in (fast, slow):
        torch.manual_seed(2)  # same minibatch permutations
        losses.append(fit_critic(c, adam(c.parameters(), 1e-2), obs, y, epochs=5, minibatch=32))
    assert losses[0] < 0.9 * float(y.var())  # it fitted something
    assert losses[0] == pytest.approx(losses[1], rel=1e-9)
    for p, q in zip(fast.parameters(), slow.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-10)


def test_other_architectures_use_autograd():
    class Relu(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))

    assert tanh_mlp_layers(Relu()) is None
    assert tanh_mlp_layers(nn.Linear(3, 1)) is None


@pytest.mark.parametrize("hidden", [(), (7,), (5, 9, 3)])
def test_jvp_and_vjp_match_torch_autograd_functional(hidden):
    torch.manual_seed(3)
    sizes = [4, *hidden, 3]
    W = [torch.randn(o, i, dtype=torch.float64) for i, o in zip(sizes[:-1], sizes[1:])]
    b = [torch.randn(o, dtype=torch.float64) for o in sizes[1:]]
    x = torch.randn(10, 4, dtype=torch.float64)

    def net(*wb):
        h = x
        for l in range(len(W)):
            h = h @ wb[2 * l].t() + wb[2 * l + 1]
            if l < len(W) - 1:
                h = torch.tanh(h)
        return h

    theta = tuple(t for pair in zip(W, b) for t in pair)
    hs = tanh_mlp_forward(W, b, x)
    torch.testing.assert_close(hs[-1], net(*theta), rtol=1e-12, atol=1e-12)
    v = tuple(torch.randn_like(t) for t in theta)
    _, jv_ref = torch.autograd.functional.jvp(net, theta, v)
    jv = tanh_mlp_jvp(W, hs, list(v[0::2]), list(v[1::2]), tanh_slopes(hs))
    torch.testing.assert_close(jv, jv_ref, rtol=1e-10, atol=1e-12)
    u = torch.randn(10, 3, dtype=torch.float64)
    _, vjp_ref = torch.autograd.functional.vjp(net, theta, u)
    for slopes in (None, tanh_slopes(hs)):
        gw, gb = tanh_mlp_vjp(W, hs, u, slopes)
        for got, ref in zip([t for pair in zip(gw, gb) for t in pair], vjp_ref):
            torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)


# --- every activation a config may name: the written-out derivatives against autograd ---------------
ACTS = ["tanh", "relu", "elu", "gelu", "silu"]


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("hidden", [(7,), (5, 9, 3)])
def test_critic_grads_match_autograd_for_every_activation(activation, hidden):
    from trpo.functional.mlp import mlp_mse_grads
    from trpo.nets.policies import plain_critic_mlp

    torch.manual_seed(0)
    critic = Critic(6, hidden, activation).double()
    x, y = torch.randn(33, 6, dtype=torch.float64), torch.randn(33, dtype=torch.float64)
    layers, act = plain_critic_mlp(critic)
    assert act == activation and len(layers) == len(hidden) + 1
    assert (tanh_mlp_layers(critic) is not None) == (activation == "tanh")  # the tanh-only name stays tanh-only
    loss, gw, gb = mlp_mse_grads([m.weight for m in layers], [m.bias for m in layers], x, y, activation)
    ref = (critic(x) - y).pow(2).mean()
    ref.backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=0)
    for m, w, b in zip(layers, gw, gb):
        torch.testing.assert_close(w, m.weight.grad, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(b, m.bias.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ACTS)
def test_fast_fit_equals_autograd_fit_for_every_activation(activation):
    torch.manual_seed(1)
    fast = Critic(4, (16, 16), activation).double()
    slow = _AutogradCritic(4, (16, 16), activation).double()
    slow.load_state_dict(fast.state_dict())
    obs = torch.randn(200, 4, dtype=torch.float64)
    y = obs.sum(1).sin()
    losses = []
    for c in (fast, slow):
        torch.manual_seed(2)
        losses.append(fit_critic(c, adam(c.parameters(), 1e-2), obs, y, epochs=3, minibatch=32))
    assert losses[0] == pytest.approx(losses[1], rel=1e-9)
    for p, q in zip(fast.parameters(), slow.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("activation", ACTS)
def test_jvp_and_vjp_match_autograd_for_every_activation(activation):
    from trpo.functional.mlp import ACTIVATIONS, mlp_forward

    torch.manual_seed(3)
    sizes = [4, 5, 6, 3]
    W = [torch.randn(o, i, dtype=torch.float64) for i, o in zip(sizes[:-1], sizes[1:])]
    b = [torch.randn(o, dtype=torch.float64) for o in sizes[1:]]
    x = torch.randn(10, 4, dtype=torch.float64)
    module = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}[activation]()

    def net(*wb):
        h = x
        for l in range(len(W)):
            h = h @ wb[2 * l].t() + wb[2 * l + 1]
            if l < len(W) - 1:
                h = module(h)
        return h

    theta = tuple(t for pair in zip(W, b) for t in pair)
    hs, slopes = mlp_forward(W, b, x, activation)
    assert len(slopes) == len(W) - 1 and activation in ACTIVATIONS
    torch.testing.assert_close(hs[-1], net(*theta), rtol=1e-12, atol=1e-12)
    v = tuple(torch.randn_like(t) for t in theta)
    _, jv_ref = torch.autograd.functional.jvp(net, theta, v)
    torch.testing.assert_close(tanh_mlp_jvp(W, hs, list(v[0::2]), list(v[1::2]), slopes), jv_ref,
                               rtol=1e-10, atol=1e-12)
    u = torch.randn(10, 3, dtype=torch.float64)
    _, vjp_ref = torch.autograd.functional.vjp(net, theta, u)
    gw, gb = tanh_mlp_vjp(W, hs, u, slopes)
    for got, ref in zip([t for pair in zip(gw, gb) for t in pair], vjp_ref):
        torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)


def test_the_tanh_forms_are_the_old_ones_to_the_bit():
    """activation = tanh (the default) computes exactly what the tanh-only functions compute."""
    from trpo.functional.mlp import mlp_forward, mlp_mse_grads

    torch.manual_seed(4)
    W = [torch.randn(8, 4), torch.randn(1, 8)]
    b = [torch.randn(8), torch.randn(1)]
    x, y = torch.randn(16, 4), torch.randn(16)
    hs, slopes = mlp_forward(W, b, x)
    assert all(torch.equal(p, q) for p, q in zip(hs, tanh_mlp_forward(W, b, x)))
    assert all(torch.equal(p, q) for p, q in zip(slopes, tanh_slopes(hs)))
    for p, q in zip(mlp_mse_grads(W, b, x, y)[1], tanh_mlp_mse_grads(W, b, x, y)[1]):
        assert torch.equal(p, q)


@pytest.mark.parametrize("activation", ["tanh", "elu"])
def test_the_fits_direct_adam_step_is_torch_adam_through_grad_bitwise(activation, monkeypatch):
    """fit_critic hands a plain critic's gradients straight to FusedAdam.step_with (counted: the
    fast path is taken); with torch.optim.Adam(fused=True) the same gradients go through .grad and
    torch's own step. The two fits end bitwise equal (parameters, moments, the returned error)."""
    import gymnasium as gym
    import numpy as np

    from trpo.nets.policies import make_critic
    from trpo.optim import FusedAdam

    calls = []
    step_with = FusedAdam.step_with
    monkeypatch.setattr(FusedAdam, "step_with", lambda self, grads: calls.append(1) or step_with(self, grads))

    space = gym.spaces.Box(-1, 1, (5,), np.float32)
    torch.manual_seed(5)
    fast = make_critic(space, (16, 16), activation=activation)
    ref = make_critic(space, (16, 16), activation=activation)
    ref.load_state_dict(fast.state_dict())
    fast_opt, ref_opt = adam(fast.parameters(), 1e-2), torch.optim.Adam(ref.parameters(), 1e-2, fused=True)
    obs = torch.randn(96, 5)
    y = obs.sum(1).cos()
    perms = torch.stack([torch.randperm(96) for _ in range(4)])
    for _ in range(2):  # twice: the second fit starts from moments
        m1 = fit_critic(fast, fast_opt, obs, y, epochs=4, minibatch=32, perms=perms)
        m2 = fit_critic(ref, ref_opt, obs, y, epochs=4, minibatch=32, perms=perms)
        assert m1 == m2
    assert len(calls) == 2 * 4 * 3  # two fits x 4 epochs x 96 / 32 minibatches: all on the fast path
    assert all(torch.equal(p, q) for p, q in zip(fast.parameters(), ref.parameters()))
    for p, q in zip(fast.parameters(), ref.parameters()):
        for k in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(fast_opt.state[p][k], ref_opt.state[q][k])


def test_column_targets_without_the_loss_give_the_same_gradients_bitwise():
    """fit_critic passes (B, 1) targets and loss=False: the gradients of (B,) targets, bit for
    bit; a target that would broadcast is an error."""
    from trpo.functional.mlp import mlp_mse_grads

    torch.manual_seed(6)
    W, b = [torch.randn(8, 4), torch.randn(1, 8)], [torch.randn(8), torch.randn(1)]
    x, y = torch.randn(16, 4), torch.randn(16)
    for activation in ("tanh", "relu"):
        loss, gw, gb = mlp_mse_grads(W, b, x, y, activation)
        none, gw2, gb2 = mlp_mse_grads(W, b, x, y[:, None], activation, loss=False)
        assert loss is not None and none is None
        assert all(torch.equal(p, q) for p, q in zip(gw + gb, gw2 + gb2))
    with pytest.raises(ValueError, match="targets of shape"):
        mlp_mse_grads(W, b, x, y[None, :])
