"""The natural-gradient step with an optional backtracking line search: TRPO and NPG both call
``trust_region_step``; TRPO with the line search, NPG without (Spinning Up: "NPG is TRPO minus
the line search")."""
from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from trpo.algos.common import check_finite
from trpo.config import Config
from trpo.errors import NonFiniteError
from trpo.functional import backtracking_line_search, fisher_vector_product, flat_grad, natural_step
from trpo.functional.fisher import gauss_newton_fvp, mlp_gauss_newton_fvp
from trpo.nets.policies import Actor, flat_params, plain_mlp, set_flat_params
from trpo.timing import part, timed


def trust_region_scale(cfg: Config, act_space) -> int:
    """d, the number of action dimensions, when ``cfg.kl_per_action_dim`` and the actions are
    continuous (Box); else 1. The run bounds the joint KL by max_kl * d and damps by cg_damping * d.

    sb3-contrib's TRPO constrains ``kl_divergence(pi, pi_old).mean()`` with a diagonal Gaussian
    whose KL comes per dimension, so its mean runs over states *and* the d dimensions: it bounds
    (1/d) E_s[KL] by delta and damps the Fisher of that KL, F/d. On the joint KL that is delta * d
    with damping * d: x = (F/d + lambda I)^-1 g = d (F + d lambda I)^-1 g, and beta x does not
    depend on the scale of x."""
    if cfg.kl_per_action_dim and isinstance(act_space, gym.spaces.Box):
        return int(np.prod(act_space.shape))
    return 1


def effective_trust_region(cfg: Config, act_space) -> Config:
    """``cfg`` with max_kl and cg_damping as the trust-region step uses them (``trust_region_scale``)."""
    d = trust_region_scale(cfg, act_space)

    def times_d(v: float) -> float:  # 0.1 * 3 = 0.3, not 0.30000000000000004
        return float(f"{v * d:.12g}")

    return cfg if d == 1 else cfg.replace(max_kl=times_d(cfg.max_kl), cg_damping=times_d(cfg.cg_damping))


def written_out_fvp(actor: Actor, obs: Tensor, old: tuple[Tensor, ...],
                    damping: float) -> Callable[[Tensor], Tensor] | None:
    """The Gauss-Newton product with J v and J^T u written out, for the built-in MLP actors
    (``Actor.fisher_parts``, ``plain_mlp``: tanh or another activation the written-out derivatives
    know); None for any other actor (the autograd form is used)."""
    parts = actor.fisher_parts(old)
    if parts is None:
        return None
    head_fisher, extra_fisher, n_extra = parts
    plain = plain_mlp(actor.net)
    if plain is None:
        return None
    layers, activation = plain
    net_params = [t for m in layers for t in (m.weight, m.bias)]
    params = list(actor.parameters())[1 if n_extra else 0:]  # [extra (a Gaussian's log-std), net...]
    if len(params) != len(net_params) or any(a is not b for a, b in zip(params, net_params)):
        return None  # parameters laid out otherwise
    return mlp_gauss_newton_fvp([m.weight for m in layers], [m.bias for m in layers], obs, head_fisher,
                                extra_fisher, n_extra, damping, activation)


Objective = Callable[[], "Tensor | tuple[Tensor, tuple[Tensor, ...] | None]"]


def _surrogate(out) -> tuple[Tensor, tuple[Tensor, ...] | None]:
    return out if isinstance(out, tuple) else (out, None)


def trust_region_step(actor: Actor, objective: Objective, kl_obs: Tensor,
                      kl_old: tuple[Tensor, ...], cfg: Config, line_search: bool,
                      fvp_idx: Tensor | None = None) -> tuple[dict[str, float], tuple[Tensor, ...] | None]:
    """One update of ``actor`` that maximises ``objective()`` (the surrogate L(theta), built from
    the actor's current parameters) within mean KL(pi_old || pi_theta) <= cfg.max_kl.

    ``kl_obs`` are the states the KL is averaged over and ``kl_old`` pi_old's (detached)
    distribution parameters there; ``fvp_idx`` optionally sub-samples them for the Fisher.
      g    = grad L(theta_old)
      x    = F^{-1} g (CG),  beta = sqrt(2 delta / x^T F x)
      TRPO: backtrack on beta x until measured KL <= delta and L improved, else keep theta_old;
      NPG:  take beta x as it is (policy-gradients lecture notes §3.6.2).
    ``objective()`` returns L, or (L, pi_theta's distribution parameters on ``kl_obs``): then each
    line-search trial measures the KL on them (one forward pass per trial, not two). Returns
    (stats, the new policy's parameters on ``kl_obs`` where known: the accepted trial's, ``kl_old``
    when theta_old is kept, else None).
    """
    params = list(actor.parameters())
    with part("update: policy gradient (forward + backward)"):
        L_old_t, _ = _surrogate(objective())
        g = flat_grad(L_old_t, params)
    check_finite("the policy gradient", g)
    L_old = L_old_t.item()

    idx = slice(None) if fvp_idx is None else fvp_idx
    with part("update: Fisher setup"):
        if cfg.fvp == "gauss-newton":  # J^T M J v: no second derivative through the network
            old_idx = tuple(p[idx] for p in kl_old)
            fvp = (written_out_fvp(actor, kl_obs[idx], old_idx, cfg.cg_damping)
                   or gauss_newton_fvp(lambda: actor.dist_params(kl_obs[idx]), actor.kl,  # type: ignore[arg-type]  # tuples
                                       old_idx, params, cfg.cg_damping))
        else:
            mean_kl = actor.kl(tuple(p[idx] for p in kl_old), actor.dist_params(kl_obs[idx])).mean()
            fvp = fisher_vector_product(mean_kl, params, cfg.cg_damping)
    fvp = timed("update: Fisher-vector products (CG)")(fvp)
    try:
        nat = natural_step(g, fvp, cfg.max_kl, cfg.cg_iters)
    except FloatingPointError as e:  # a non-finite CG solution or s^T F s: stop, nothing applied
        raise NonFiniteError(f"{e}; the update was not applied") from None

    theta_old = flat_params(actor)

    trial: tuple[Tensor, ...] | None = None  # pi_theta's parameters at the last step tried

    @torch.no_grad()
    def evaluate(step: Tensor) -> tuple[float, float]:
        nonlocal trial
        set_flat_params(actor, theta_old + step)
        L, new = _surrogate(objective())
        trial = new
        gain = L.item() - L_old
        kl = actor.kl(kl_old, actor.dist_params(kl_obs) if new is None else new).mean().item()
        return gain, kl

    if line_search:
        with part("update: line search"):
            ls = backtracking_line_search(evaluate, nat.step, cfg.max_kl, cfg.ls_max_backtracks, cfg.ls_shrink)
        accepted, frac, backtracks, gain, kl = ls.accepted, ls.step_fraction, ls.backtracks, ls.surrogate_gain, ls.kl
    else:
        gain, kl = evaluate(nat.step)
        accepted, frac, backtracks = True, 1.0, 0
    theta_new = theta_old + frac * nat.step if accepted else theta_old
    check_finite("the new policy parameters", theta_new)
    set_flat_params(actor, theta_new)  # exactly theta_old when the line search failed
    stats = {"kl": kl, "surrogate_gain": gain, "linesearch_steps": backtracks,
             "cg_residual": nat.cg_residual, "step_accepted": int(accepted),
             "cg_iterations": nat.cg_iterations, "step_size": nat.step_size * frac,
             "expected_gain": nat.expected_gain}
    # the accepted trial was evaluated at theta_old + frac * step: theta_new, the same arithmetic
    return stats, (trial if accepted else kl_old)
