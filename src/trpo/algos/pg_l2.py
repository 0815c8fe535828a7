"""Policy gradient with a parameter-space step constraint (policy-gradients lecture notes §3.6.1; the TRPO
reading-group slides (Nguyen 2021) "Standard policy gradient", max g^T d s.t. ||d||^2 <= eps).

    max_d  J(theta) + d^T grad J(theta)   s.t.  ||d||_2^2 <= eps
    => d* = grad J / (2 lambda),   beta = sqrt(eps / ||d*||^2),   theta <- theta + beta d*

so every step has Euclidean length exactly sqrt(eps) along the (vanilla) policy gradient
(the 1/(2 lambda) cancels). One update: GAE advantages with the critic, g = grad L at theta_old,
the step, then the critic fit. The contrast with ``npg`` is the metric: ||d||^2 here,
d^T F d there.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from trpo.algos.base import LearnerBase
from trpo.algos.common import adam, check_finite, fit_critic, frozen_policy, gae_batch, policy_objective, update_stats
from trpo.config import Config
from trpo.functional import flat_grad
from trpo.nets.policies import Actor, Critic, flat_params, set_flat_params
from trpo.rollout import Batch


def l2_step(d: Tensor, eps: float) -> Tensor:
    """beta d with beta = sqrt(eps / ||d||^2) (policy-gradients lecture notes §3.6.1): ||beta d||^2 = eps. A zero
    gradient gives a zero step."""
    dd = float(torch.dot(d, d))
    return d * math.sqrt(eps / dd) if dd > 0.0 else torch.zeros_like(d)


class PGL2(LearnerBase):
    def __init__(self, actor: Actor, critic: Critic, cfg: Config, device: torch.device):
        self.actor, self.critic, self.cfg, self.device = actor, critic, cfg, device
        self.critic_opt = adam(critic.parameters(), cfg.critic_lr)

    def update(self, batch: Batch) -> dict[str, float]:
        cfg, actor = self.cfg, self.actor
        b = batch.to(self.device)

        # 1. advantages (GAE) and the critic's targets
        obs, critic_obs, actions, adv, targets = gae_batch(b, self.critic, cfg)

        # 2. d = grad L(theta_old) (the policy gradient, + entropy bonus), step sqrt(eps) along it
        old, logp_old = frozen_policy(actor, obs, actions)
        L, _ = policy_objective(actor, obs, actions, logp_old, adv, cfg.entropy_coef)
        g = flat_grad(L, list(actor.parameters()))
        check_finite("the policy gradient", g)
        theta = flat_params(actor) + l2_step(g, cfg.pg_l2_eps)
        check_finite("the new policy parameters", theta)
        set_flat_params(actor, theta)

        # 3. the critic
        value_loss = fit_critic(self.critic, self.critic_opt, critic_obs, targets, cfg.critic_epochs,
                                cfg.critic_minibatch)
        return {**update_stats(actor, old, obs, value_loss, targets), "grad_norm": float(g.norm())}

    def state_dict(self) -> dict:
        return {"critic_opt": self.critic_opt.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        self.critic_opt.load_state_dict(d["critic_opt"])
