"""REINFORCE: Monte Carlo policy gradient with reward-to-go (Williams 1992; policy-gradients lecture notes §3.2-3.3).

    grad J(theta) ~= 1/|B| sum_t grad log pi_theta(a_t|s_t) (R_t - b_t)    R_t = sum_l gamma^l r_{t+l}

One update, top to bottom:
  1. reward-to-go R_t (the tails that the batch or a time limit cut are bootstrapped with V_psi);
  2. the baseline b_t: ``none`` (0), ``mean`` (the batch mean of R_t), ``value`` (V_psi(s_t),
     §3.3), or ``optimal`` (the gradient-norm-weighted mean of R_t, §3.3 "weighted average");
  3. one Adam ascent step on E[log pi * (R - b)] + c_H * H (the policy gradient; gradient norm
     clipped to ``max_grad_norm``);
  4. refit V_psi on R_t (it is the ``value`` baseline and bootstraps cut tails).

With ``normalize_advantages`` the weights R_t - b_t are divided by their std but NOT centred:
centring would silently turn every baseline into ``mean``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from trpo.algos.common import (
    PolicyAndCriticAdam,
    check_finite,
    fit_critic,
    gradient_step,
    normalize,
    optimal_baseline,
    per_sample_sq_grad_norms,
    policy_objective,
    rescale,
    reward_to_go,
    set_annealed_lr,
    update_stats,
)
from trpo.rollout import Batch


class Reinforce(PolicyAndCriticAdam):
    center = False  # normalisation divides by the std only (a2c also centres its advantages)

    def weights(self, b: Batch, obs, critic_obs, actions: torch.Tensor):
        """R_t - b_t, the critic's targets R_t, and what to log (rows: ``Batch.rows``)."""
        returns = b.rows(reward_to_go(b, self.critic, self.cfg.gamma))
        base = self.baseline(obs, critic_obs, actions, returns)
        return returns - base, returns, {"baseline_mean": float(base.mean())}

    def baseline(self, obs, critic_obs, actions: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
        kind = self.cfg.baseline
        if kind == "none":
            return torch.zeros_like(returns)
        if kind == "mean":
            return returns.mean().expand_as(returns)
        if kind == "value":
            with torch.no_grad():
                return self.critic(critic_obs)
        return optimal_baseline(per_sample_sq_grad_norms(self.actor, obs, actions), returns).expand_as(returns)

    def update(self, batch: Batch) -> dict[str, float]:
        cfg, actor = self.cfg, self.actor
        b = batch.to(self.device)
        # Tensor for MLP policies; Sequences for recurrent ones, which the recurrent networks read
        obs: Tensor = b.inputs()  # type: ignore[assignment]  # see above
        actions = b.rows(b.actions)  # rows: steps, or chunks of a recurrent policy's
        critic_obs: Tensor = b.inputs(critic=True)  # type: ignore[assignment]  # see above

        # 1-2. the weights of grad log pi: reward-to-go minus the baseline (a2c: the advantages)
        weights, targets, extra = self.weights(b, obs, critic_obs, actions)
        if cfg.normalize_advantages:
            weights = normalize(weights) if self.center else rescale(weights)
        check_finite("the policy-gradient weights", weights)

        # 3. one policy-gradient step: grad E[ratio * w] at theta_old = E[grad log pi * w]
        with torch.no_grad():
            old = actor.dist_params(obs)
            logp_old = actor.log_prob(old, actions)
        set_annealed_lr(self.opt, self.base_lr, self.updates, cfg)
        L, _ = policy_objective(actor, obs, actions, logp_old, weights, cfg.entropy_coef)
        grad_norm = gradient_step(self.opt, -L, cfg.max_grad_norm)
        self.updates += 1

        # 4. V_psi on its targets (the returns; a2c: the advantage targets A_t + V(s_t))
        value_loss = fit_critic(self.critic, self.critic_opt, critic_obs, targets, cfg.critic_epochs,
                                cfg.critic_minibatch)
        return {**update_stats(actor, old, obs, value_loss, targets), "grad_norm": grad_norm,
                "lr": self.opt.param_groups[0]["lr"], **extra}
