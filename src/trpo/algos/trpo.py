"""Trust Region Policy Optimization (Schulman et al. 2015; seeds 001 and 003 §3.6.3).

    maximise_theta  L(theta) = E_{s,a ~ pi_old}[ pi_theta(a|s) / pi_old(a|s) * A(s, a) ]     (eq. 14)
    subject to      E_s[ KL(pi_old(.|s) || pi_theta(.|s)) ] <= delta

One update, top to bottom:
  1. advantages A_t by GAE(gamma, lambda) with the current critic;
  2. g = grad L at theta_old;
  3. x = F^{-1} g by conjugate gradient on Fisher-vector products, beta = sqrt(2 delta / x^T F x);
  4. backtracking line search on beta x: accept only a step with measured mean KL <= delta AND
     a positive surrogate gain; otherwise restore theta_old exactly;
  5. refit the critic V_psi on the lambda-returns (its own optimiser; the policy step never
     touches it).
"""
from __future__ import annotations

import torch

from trpo.algos.common import (check_finite, estimate_advantages, fit_critic, normalize,
                               policy_objective)
from trpo.config import Config
from trpo.functional import backtracking_line_search, fisher_vector_product, flat_grad, natural_step
from trpo.policies import Actor, Critic, flat_params, set_flat_params
from trpo.rollout import Batch


class TRPO:
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

        # pi_old, frozen: its distribution parameters and log-probabilities
        with torch.no_grad():
            old = actor.dist_params(obs)
            logp_old = actor.log_prob(old, actions)

        # 2. the policy gradient g = grad_theta L(theta) at theta_old
        params = list(actor.parameters())
        L_old, new = policy_objective(actor, obs, actions, logp_old, adv, cfg.entropy_coef)
        g = flat_grad(L_old, params)
        check_finite("the policy gradient", g)
        L_old = L_old.item()

        # 3. the natural direction, scaled to the trust region (on a sub-sample of states)
        idx = self._fvp_indices(obs.shape[0])
        mean_kl = actor.kl(tuple(p[idx] for p in old), actor.dist_params(obs[idx])).mean()
        fvp = fisher_vector_product(mean_kl, params, cfg.cg_damping)
        nat = natural_step(g, fvp, cfg.max_kl, cfg.cg_iters)

        # 4. backtracking line search: measured KL <= delta and a positive surrogate gain
        theta_old = flat_params(actor)

        @torch.no_grad()
        def evaluate(step):
            set_flat_params(actor, theta_old + step)
            L, new = policy_objective(actor, obs, actions, logp_old, adv, cfg.entropy_coef)
            return L.item() - L_old, actor.kl(old, new).mean().item()

        ls = backtracking_line_search(evaluate, nat.step, cfg.max_kl, cfg.ls_max_backtracks, cfg.ls_shrink)
        theta_new = theta_old + ls.step_fraction * nat.step if ls.accepted else theta_old
        check_finite("the new policy parameters", theta_new)
        set_flat_params(actor, theta_new)

        # 5. the critic, fitted to the lambda-returns with its own optimiser
        value_loss = fit_critic(self.critic, self.critic_opt, obs, targets, cfg.critic_epochs, cfg.critic_minibatch)

        with torch.no_grad():
            entropy = actor.entropy(actor.dist_params(obs)).mean().item()
        return {
            "kl": ls.kl, "entropy": entropy, "value_loss": value_loss,
            "surrogate_gain": ls.surrogate_gain, "linesearch_steps": ls.backtracks,
            "cg_residual": nat.cg_residual, "step_accepted": int(ls.accepted),
            "cg_iterations": nat.cg_iterations, "step_size": nat.step_size * ls.step_fraction,
            "expected_gain": nat.expected_gain,
        }

    def _fvp_indices(self, n: int) -> torch.Tensor:
        """A random fraction ``fvp_subsample`` of the batch for Fisher-vector products (the
        paper uses 10% of the states, App. C.1); the whole batch at 1.0."""
        if self.cfg.fvp_subsample >= 1.0:
            return torch.arange(n, device=self.device)
        k = max(1, int(n * self.cfg.fvp_subsample))
        return torch.randperm(n, device=self.device)[:k]

    def state_dict(self) -> dict:
        return {"critic_opt": self.critic_opt.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        self.critic_opt.load_state_dict(d["critic_opt"])
