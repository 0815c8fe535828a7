"""Pieces every learner shares: advantage estimation, the critic fit, the policy objective."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from trpo.functional import gae
from trpo.policies import Actor
from trpo.rollout import Batch


@torch.no_grad()
def values_and_next_values(batch: Batch, critic: nn.Module) -> tuple[Tensor, Tensor]:
    """V(s_t) and V(s_{t+1}) for every step, (T, N) each.

    V(s_{t+1}) is the value of the next observation of the same episode: the following row of the
    batch, ``last_obs`` after the last row, and the final observation at a truncated step (the
    row after it already belongs to the next episode). At terminated steps it is unused.
    """
    T, N = batch.T, batch.N
    v_all = critic(torch.cat([batch.flat(batch.obs), batch.last_obs, batch.final_obs]))
    values = v_all[: T * N].reshape(T, N)
    v_last = v_all[T * N: T * N + N]
    next_values = torch.cat([values[1:], v_last[None]]).reshape(-1).clone()
    next_values[batch.final_idx] = v_all[T * N + N:]
    return values, next_values.reshape(T, N)


def estimate_advantages(batch: Batch, critic: nn.Module, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    """GAE(gamma, lambda) advantages and the critic's regression targets A_t + V(s_t) (the
    lambda-return), both (T, N). Truncation bootstraps, termination does not."""
    values, next_values = values_and_next_values(batch, critic)
    adv = gae(batch.rewards, values, next_values, batch.terminated, batch.done, gamma, lam)
    return adv, adv + values


def normalize(x: Tensor) -> Tensor:
    return (x - x.mean()) / (x.std() + 1e-8) if x.numel() > 1 else x - x.mean()


def fit_critic(critic: nn.Module, opt: torch.optim.Optimizer, obs: Tensor, targets: Tensor,
               epochs: int, minibatch: int) -> float:
    """min_psi E[(V_psi(s_t) - R_t)^2] by minibatch Adam (seed 003 §3.3, the value baseline).
    Returns the mean squared error over the batch after the fit."""
    B = obs.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(B, device=obs.device)
        for i in range(0, B, minibatch):
            idx = perm[i:i + minibatch]
            loss = (critic(obs[idx]) - targets[idx]).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        return float((critic(obs) - targets).pow(2).mean())


def policy_objective(actor: Actor, obs: Tensor, actions: Tensor, logp_old: Tensor, adv: Tensor,
                     entropy_coef: float) -> tuple[Tensor, tuple[Tensor, ...]]:
    """L(theta) = E[ratio * A] + c_H * E[H(pi_theta(.|s))], and the new distribution parameters."""
    from trpo.functional import importance_sampled_surrogate

    new = actor.dist_params(obs)
    L = importance_sampled_surrogate(actor.log_prob(new, actions), logp_old, adv)
    if entropy_coef:
        L = L + entropy_coef * actor.entropy(new).mean()
    return L, new


def check_finite(name: str, x: Tensor) -> None:
    from trpo.errors import NonFiniteError

    if not torch.isfinite(x).all():
        raise NonFiniteError(f"non-finite values in {name}; the update was not applied")
