"""Fisher-vector products without forming the Fisher matrix (Schulman et al. 2015, App. C.1).

The Fisher information of the policy averaged over visited states equals the Hessian of the mean
KL divergence at theta_old (seed 001, "F = H_{D_KL}"):

    F = E_s[ grad^2_theta KL(pi_old(.|s) || pi_theta(.|s)) ] |_{theta = theta_old}

so F v = grad_theta ( (grad_theta mean_KL) . v ), two backward passes, never an n x n matrix.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor


def flat_grad(y: Tensor, params: Sequence[Tensor], **kw) -> Tensor:
    """Gradient of the scalar ``y`` w.r.t. ``params``, concatenated into one vector (zeros if unused)."""
    grads = torch.autograd.grad(y, list(params), allow_unused=True, **kw)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, params)])


def fisher_vector_product(mean_kl: Tensor, params: Sequence[Tensor], damping: float = 0.0) -> Callable[[Tensor], Tensor]:
    """Return v -> (F + damping I) v, with F the Hessian of ``mean_kl`` w.r.t. ``params``.

    ``mean_kl`` must be E_s[KL(pi_old || pi_theta)] built with pi_old's parameters detached, so
    its value and gradient vanish at theta_old and its Hessian there is the Fisher matrix.
    The first backward pass (with create_graph) is shared by every product CG asks for.
    Damping (Tikhonov) keeps CG well posed when F is singular (App. C, "Damping").
    """
    params = list(params)
    g = flat_grad(mean_kl, params, create_graph=True)

    def fvp(v: Tensor) -> Tensor:
        return flat_grad((g * v).sum(), params, retain_graph=True) + damping * v

    return fvp
