"""Fisher-vector products without forming the Fisher matrix (Schulman et al. 2015, App. C.1).

The Fisher information of the policy averaged over visited states equals the Hessian of the mean
KL divergence at theta_old (the TRPO reading-group slides (Nguyen 2021), "F = H_{D_KL}"):

    F = E_s[ grad^2_theta KL(pi_old(.|s) || pi_theta(.|s)) ] |_{theta = theta_old}

so F v = grad_theta ( (grad_theta mean_KL) . v ), two backward passes, never an n x n matrix.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from trpo.functional.mlp import mlp_forward, tanh_mlp_jvp, tanh_mlp_vjp


def flat_grad(y: Tensor | Sequence[Tensor], params: Sequence[Tensor], **kw) -> Tensor:
    """Gradient of the scalar ``y`` w.r.t. ``params``, concatenated into one vector (zeros if unused)."""
    grads = torch.autograd.grad(y, list(params), allow_unused=True, **kw)
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, params)])


def fisher_vector_product(mean_kl: Tensor, params: Sequence[Tensor],
                          damping: float = 0.0) -> Callable[[Tensor], Tensor]:
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


def gauss_newton_fvp(head: Callable[[], Sequence[Tensor]], kl: Callable[[Sequence[Tensor], Sequence[Tensor]], Tensor],
                     old: Sequence[Tensor], params: Sequence[Tensor],
                     damping: float = 0.0) -> Callable[[Tensor], Tensor]:
    """Return v -> (J^T M J + damping I) v, the same Fisher in Gauss-Newton form (Martens 2014, §9;
    Schulman et al. 2015, App. C.1 "analytic" Fisher).

    With q = head(theta) the distribution parameters on the states (logits; or mean and log-std),
    J = dq/dtheta and M = grad^2_q E_s[KL(pi_old || pi_q)] at q = q_old (the Fisher of the head in
    closed form: diag(p) - p p^T per state for a categorical, diag(1/sigma^2) for the mean and 2
    for each log-std of a diagonal Gaussian, each divided by the number of states):

        F v = J^T M J v                                                        (Martens 2014, eq. 9)

    At theta_old this equals the Hessian of the mean KL (the term sum_k dKL/dq_k grad^2 q_k vanishes
    because dKL/dq = 0 at q_old), but needs no second derivative of the network: J v by the
    double-backward trick (J v = d/du [J^T u] . v, J^T u linear in u), M J v on the small head
    outputs, and J^T (M J v) by one ordinary backward pass.
    ``kl(old, new)`` is the per-state KL of the actor's head; ``old`` its detached parameters.
    """
    params = list(params)
    out = tuple(head())
    # M as a product: the gradient of the mean KL w.r.t. the head outputs, kept for a 2nd derivative
    q = tuple(o.detach().requires_grad_(True) for o in out)
    g_q = torch.autograd.grad(kl(tuple(old), q).mean(), q, create_graph=True)
    # J^T u with a dummy u: linear in u, so its derivative in u along v is J v
    u = tuple(torch.zeros_like(o, requires_grad=True) for o in out)
    jt_u = torch.autograd.grad(out, params, grad_outputs=u, create_graph=True, allow_unused=True)
    used = [i for i, t in enumerate(jt_u) if t is not None]
    sizes = [p.numel() for p in params]

    def fvp(v: Tensor) -> Tensor:
        vs = torch.split(v, sizes)
        jv = torch.autograd.grad([jt_u[i] for i in used], u, grad_outputs=[vs[i].view_as(params[i]) for i in used],
                                 retain_graph=True, allow_unused=True)
        jv = tuple(torch.zeros_like(o) if t is None else t for o, t in zip(out, jv))
        mjv = torch.autograd.grad(g_q, q, grad_outputs=jv, retain_graph=True, allow_unused=True)
        mjv = tuple(torch.zeros_like(o) if t is None else t for o, t in zip(out, mjv))
        return flat_grad(out, params, grad_outputs=mjv, retain_graph=True) + damping * v

    return fvp


def mlp_gauss_newton_fvp(weights: Sequence[Tensor], biases: Sequence[Tensor], x: Tensor,
                         head_fisher: Callable[[Tensor], Tensor],
                         extra_fisher: Callable[[Tensor], Tensor] | None = None, n_extra: int = 0,
                         damping: float = 0.0, activation: str = "tanh") -> Callable[[Tensor], Tensor]:
    """``gauss_newton_fvp`` for a policy whose head outputs q are an MLP of the state (tanh, or
    another activation of ``trpo.functional.mlp.ACTIVATIONS``), with J v and J^T u written out
    (``trpo.functional.mlp``) and M in closed form: ~2x faster than the autograd form at 1-2k
    states (docs/benchmarks.md, "bench_fvp.py").

    v is laid out as [v_extra, vec(W_1), b_1, ..., vec(W_L), b_L] (``Module.parameters()`` order
    for a policy that holds the extra parameters itself and the network as a child).
    ``head_fisher(u)`` is M_s u_s for every state s (rows of u: the head's outputs per state); the
    product averages it over the N states: F v = (1/N) sum_s J_s^T M_s J_s v. ``extra_fisher`` is
    the Fisher block of the first ``n_extra`` parameters, which live outside the network (a
    Gaussian's state-independent log-std),
    which has no cross term with the network's at theta_old (see ``GaussianActor.fisher_parts``).
    """
    weights, biases = [w.detach() for w in weights], [b.detach() for b in biases]
    hs, slopes = mlp_forward(weights, biases, x, activation)
    n = x.shape[0]
    sizes = [t.numel() for pair in zip(weights, biases) for t in pair]
    L = len(weights)

    def fvp(v: Tensor) -> Tensor:
        vs = torch.split(v, ([n_extra] if n_extra else []) + sizes)
        parts = [extra_fisher(vs[0])] if n_extra else []  # type: ignore[misc]  # n_extra > 0: extra_fisher given
        vs = vs[1:] if n_extra else vs
        jv = tanh_mlp_jvp(weights, hs, [vs[2 * i].view_as(weights[i]) for i in range(L)],
                          [vs[2 * i + 1] for i in range(L)], slopes)                   # J v, (N, q)
        gw, gb = tanh_mlp_vjp(weights, hs, head_fisher(jv).div_(n), slopes)            # J^T (M J v) / N
        parts += [t.reshape(-1) for pair in zip(gw, gb) for t in pair]
        return torch.cat(parts).add_(v, alpha=damping)

    return fvp


tanh_mlp_gauss_newton_fvp = mlp_gauss_newton_fvp  # the tanh MLP's (activation's default), by its old name
