"""An MLP's derivatives by the chain rule written out: backpropagation (J^T u) for the
critic's squared error and for the Fisher-vector product, forward mode (J v) for the latter.

The critic fit is dozens of small Adam steps per iteration and CG a dozen Fisher-vector products,
on 64x64 networks and a few hundred to a few thousand states. At that size autograd's per-node
bookkeeping costs more than the arithmetic: the same products written out run 2-2.4x faster
(docs/benchmarks.md). The tests check every function against ``torch.autograd``.

For h_0 = x, h_l = tanh(h_{l-1} W_l^T + b_l) (0 < l < L), out = h_{L-1} W_L^T + b_L:

  J^T u (reverse):  d_L = u;   dW_l = d_l^T h_{l-1},  db_l = sum_i d_l;
                    d_{l-1} = (d_l W_l) * (1 - h_{l-1}^2)              tanh'(z) = 1 - tanh(z)^2
  J v   (forward):  dh_0 = 0;  dz_l = dh_{l-1} W_l^T + h_{l-1} dW_l^T + db_l;
                    dh_l = (1 - h_l^2) * dz_l;  J v = dz_L

Other activations f (``ACTIVATIONS``: relu, elu, gelu, silu) replace tanh and its slope
tanh'(z_l) = 1 - h_l^2 by f and f'(z_l) (``mlp_forward`` keeps every hidden layer's slope); an
activation not in the table has no written-out form and its networks take the autograd path
(``trpo.nets.policies.plain_mlp``, the one rule that decides).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Activation:
    """f and its slope f'(z) from the pre-activation z and the output h = f(z)."""

    forward: Callable[[Tensor], Tensor]
    slope: Callable[[Tensor, Tensor], Tensor]


def _gelu_slope(z: Tensor, h: Tensor) -> Tensor:
    # d/dz z Phi(z) = Phi(z) + z phi(z)   (exact GELU, PyTorch's approximate='none')
    return torch.special.ndtr(z).add_(z * torch.exp(-0.5 * z * z).mul_(1.0 / math.sqrt(2.0 * math.pi)))


def _silu_slope(z: Tensor, h: Tensor) -> Tensor:
    s = torch.sigmoid(z)  # d/dz z s(z) = s (1 + z (1 - s))
    return s * (1.0 + z * (1.0 - s))


#: the activations the written-out derivatives know (ELU with alpha 1, GELU exact)
ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation(torch.tanh, lambda z, h: 1.0 - h * h),
    "relu": Activation(torch.relu, lambda z, h: (h > 0).to(h.dtype)),
    "elu": Activation(F.elu, lambda z, h: torch.where(z > 0, torch.ones_like(h), h + 1.0)),
    "gelu": Activation(F.gelu, _gelu_slope),
    "silu": Activation(F.silu, _silu_slope),
}


@torch.no_grad()
def tanh_mlp_forward(weights: list[Tensor], biases: list[Tensor], x: Tensor) -> list[Tensor]:
    """[h_0 = x, h_1, ..., h_{L-1}, out]: every layer's activations, kept for J v and J^T u."""
    hs = [x]
    for w, b in zip(weights[:-1], biases[:-1]):
        hs.append(torch.tanh(torch.addmm(b, hs[-1], w.t())))
    hs.append(torch.addmm(biases[-1], hs[-1], weights[-1].t()))
    return hs


def tanh_slopes(hs: list[Tensor]) -> list[Tensor]:
    """tanh'(z_l) = 1 - h_l^2 for every hidden layer l = 1..L-1."""
    return [1.0 - h * h for h in hs[1:-1]]


@torch.no_grad()
def mlp_forward(weights: list[Tensor], biases: list[Tensor], x: Tensor, activation: str = "tanh"
                ) -> tuple[list[Tensor], list[Tensor]]:
    """(hs, slopes): every layer's activations [h_0 = x, ..., h_{L-1}, out] and every hidden
    layer's slope f'(z_l), for an MLP with ``activation`` (a key of ``ACTIVATIONS``); tanh is
    ``tanh_mlp_forward`` and ``tanh_slopes``, operation for operation."""
    if activation == "tanh":
        hs = tanh_mlp_forward(weights, biases, x)
        return hs, tanh_slopes(hs)
    act = ACTIVATIONS[activation]
    hs, slopes = [x], []
    for w, b in zip(weights[:-1], biases[:-1]):
        z = torch.addmm(b, hs[-1], w.t())
        h = act.forward(z)
        slopes.append(act.slope(z, h))
        hs.append(h)
    hs.append(torch.addmm(biases[-1], hs[-1], weights[-1].t()))
    return hs, slopes


@torch.no_grad()
def tanh_mlp_vjp(weights: list[Tensor], hs: list[Tensor], u: Tensor, slopes: list[Tensor] | None = None
                 ) -> tuple[list[Tensor], list[Tensor]]:
    """J^T u: the gradients of sum(u * out) with respect to every W_l and b_l (backpropagation).
    ``slopes``: f'(z_l) of every hidden layer (any activation); None: tanh's, from ``hs``."""
    L = len(weights)
    gw: list[Tensor] = [None] * L  # type: ignore[list-item]
    gb: list[Tensor] = [None] * L  # type: ignore[list-item]
    d = u
    for l in range(L - 1, -1, -1):  # noqa: E741 - l is the layer index of W_l, h_l in the docstrings
        gw[l] = d.t() @ hs[l]
        gb[l] = d.sum(0)
        if l > 0:
            d = (d @ weights[l]).mul_(slopes[l - 1] if slopes is not None else 1.0 - hs[l] * hs[l])  # d_{l-1}
    return gw, gb


@torch.no_grad()
def tanh_mlp_jvp(weights: list[Tensor], hs: list[Tensor], dweights: list[Tensor], dbiases: list[Tensor],
                 slopes: list[Tensor]) -> Tensor:
    """J v: the change of ``out`` along the parameter direction (dW_l, db_l) (forward mode); any
    activation, through its ``slopes``."""
    dh = None
    for l, (w, dw, db) in enumerate(zip(weights, dweights, dbiases)):  # noqa: E741 - the layer index of W_l, h_l
        dz = torch.addmm(db, hs[l], dw.t())          # h_{l-1} dW_l^T + db_l
        if dh is not None:
            dz.addmm_(dh, w.t())                     # + dh_{l-1} W_l^T
        if l == len(weights) - 1:
            return dz
        dh = dz.mul_(slopes[l])                      # dh_l = f'(z_l) dz_l
    raise ValueError("an MLP needs at least one layer")


@torch.no_grad()
def tanh_mlp_mse_grads(weights: list[Tensor], biases: list[Tensor], x: Tensor, y: Tensor, loss: bool = True
                       ) -> tuple[Tensor | None, list[Tensor], list[Tensor]]:
    """loss = mean (MLP(x) - y)^2 for a tanh MLP with a scalar output, and its gradients with
    respect to every weight and bias (same shapes as ``weights`` / ``biases``):
    J^T u with u = dloss/dout = 2 (out - y) / B. ``y``: (B,) or (B, 1); ``loss=False``: the
    gradients alone (the loss is None; the critic fit's hundreds of steps per iteration skip it)."""
    hs = tanh_mlp_forward(weights, biases, x)
    return _mse_grads(weights, hs, y, None, loss)


@torch.no_grad()
def mlp_mse_grads(weights: list[Tensor], biases: list[Tensor], x: Tensor, y: Tensor, activation: str = "tanh",
                  loss: bool = True) -> tuple[Tensor | None, list[Tensor], list[Tensor]]:
    """``tanh_mlp_mse_grads`` for an MLP with any activation of ``ACTIVATIONS`` (tanh: that
    function itself, so a tanh critic's fit is unchanged to the bit)."""
    if activation == "tanh":
        return tanh_mlp_mse_grads(weights, biases, x, y, loss)
    hs, slopes = mlp_forward(weights, biases, x, activation)
    return _mse_grads(weights, hs, y, slopes, loss)


def _mse_grads(weights: list[Tensor], hs: list[Tensor], y: Tensor, slopes: list[Tensor] | None, loss: bool
               ) -> tuple[Tensor | None, list[Tensor], list[Tensor]]:
    y = y if y.dim() == 2 else y.unsqueeze(-1)
    if y.shape != hs[-1].shape:  # a (1, B) or (B, k) target would broadcast
        raise ValueError(f"targets of shape {tuple(y.shape)} for outputs {tuple(hs[-1].shape)}")
    err = hs[-1] - y  # (B, 1)
    mse = err.square().mean() if loss else None
    gw, gb = tanh_mlp_vjp(weights, hs, err.mul_(2.0 / err.shape[0]), slopes)  # u = 2 (out - y) / B
    return mse, gw, gb
