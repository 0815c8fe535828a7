"""Trust Region Policy Optimization (Schulman et al. 2015; seeds 001 and 003 §3.6.3).

    maximise_theta  L(theta) = E_{s,a ~ pi_old}[ pi_theta(a|s) / pi_old(a|s) * A(s, a) ]     (eq. 14)
    subject to      E_s[ KL(pi_old(.|s) || pi_theta(.|s)) ] <= delta

One update, top to bottom:
  1. advantages A_t by GAE(gamma, lambda) with the current critic;
  2. pi_old frozen: its distribution parameters and log-probabilities on the batch;
  3. the trust-region step (``trust_region_step``): g = grad L, x = F^{-1} g by conjugate
     gradient on Fisher-vector products, beta = sqrt(2 delta / x^T F x), then a backtracking line
     search that accepts only a step with measured mean KL <= delta AND a positive surrogate
     gain, and otherwise restores theta_old exactly;
  4. refit the critic V_psi on the lambda-returns (its own optimiser; the policy step never
     touches it).
"""
from __future__ import annotations

import torch

from trpo.algos.common import (check_finite, estimate_advantages, fit_critic, normalize,
                               policy_objective)
from trpo.algos.trust_region import trust_region_step
from trpo.config import Config
from trpo.policies import Actor, Critic
from trpo.rollout import Batch


class TRPO:
    line_search = True  # NPG is this update without the line search

    def __init__(self, actor: Actor, critic: Critic, cfg: Config, device: torch.device):
        self.actor, self.critic, self.cfg, self.device = actor, critic, cfg, device
        self.critic_opt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)

    def update(self, batch: Batch) -> dict[str, float]:
        cfg, actor = self.cfg, self.actor
        b = batch.to(self.device)
        obs, actions = b.flat(b.obs), b.flat(b.actions)

        # 1. advantages (GAE) and critic targets, with the critic of pi_old
        adv, targets = estimate_advantages(b, self.critic, cfg.gamma, cfg.gae_lambda)
        adv, targets = b.flat(adv), b.flat(targets)
        if cfg.normalize_advantages:
            adv = normalize(adv)
        check_finite("advantages", adv)

        # 2. pi_old, frozen
        with torch.no_grad():
            old = actor.dist_params(obs)
            logp_old = actor.log_prob(old, actions)

        # 3. maximise L(theta) = E[ratio * A] (+ entropy bonus) inside the trust region
        def objective():
            return policy_objective(actor, obs, actions, logp_old, adv, cfg.entropy_coef)[0]

        stats = trust_region_step(actor, objective, obs, old, cfg, self.line_search, self._fvp_indices(obs.shape[0]))

        # 4. the critic, fitted to the lambda-returns with its own optimiser
        stats["value_loss"] = fit_critic(self.critic, self.critic_opt, obs, targets, cfg.critic_epochs,
                                         cfg.critic_minibatch)
        with torch.no_grad():
            stats["entropy"] = actor.entropy(actor.dist_params(obs)).mean().item()
        return stats

    def _fvp_indices(self, n: int) -> torch.Tensor | None:
        """A random fraction ``fvp_subsample`` of the batch for Fisher-vector products (the
        paper uses 10% of the states, App. C.1); all of it at 1.0."""
        if self.cfg.fvp_subsample >= 1.0:
            return None
        k = max(1, int(n * self.cfg.fvp_subsample))
        return torch.randperm(n, device=self.device)[:k]

    def state_dict(self) -> dict:
        return {"critic_opt": self.critic_opt.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        self.critic_opt.load_state_dict(d["critic_opt"])
