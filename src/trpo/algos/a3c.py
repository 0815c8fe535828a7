"""Asynchronous advantage actor-critic, A3C (Mnih et al. 2016, Algorithm S3; policy-gradients lecture notes §3.5).

One master and K workers (``trpo.rollout.async_workers``, Ray actors, one env each):

  worker k:  theta', psi' <- the master's parameters at the time it was handed them
             run T = batch_steps / num_envs steps of pi_theta' in its own env
             A_t by the critic V_psi' (``advantage_estimator``: td, nstep or gae), R_t = A_t + V(s_t)
             d_theta = -grad_theta' [ 1/T sum_t log pi_theta'(a_t|s_t) A_t + c_H H(pi_theta'(.|s_t)) ]
             d_psi   =  grad_psi'   1/T sum_t (V_psi'(s_t) - R_t)^2
             send (d_theta, d_psi) to the master                                (``worker_gradients``)
  master:    apply each (d_theta, d_psi) as it arrives, with its own Adam optimisers
             (gradient norm clipped to ``max_grad_norm``), then hand worker k the new parameters
                                                                               (``A3C.update``)

A gradient may have been computed ``staleness`` master updates ago (logged per update): the
workers never wait for each other. The lecture asks whether applying such stale gradients is
correct; it is not the gradient at the current parameters, which is why the paper keeps the
rollouts short (t_max = 5 on Atari) and reports that it "still leads to satisfactory performance".
A3C is not repeatable run to run: the order in which workers report depends on timing.
"""
from __future__ import annotations

import torch

from trpo.algos.common import (
    PolicyAndCriticAdam,
    advantages,
    check_finite,
    explained_variance,
    normalize,
    set_annealed_lr,
)
from trpo.config import Config
from trpo.functional import flat_grad
from trpo.nets.policies import Actor, Critic
from trpo.rollout import Batch


def worker_gradients(actor: Actor, critic: Critic, b: Batch, cfg: Config) -> dict:
    """``{"d_theta", "d_psi", "stats"}`` for one worker's rollout ``b``: the gradients of the A2C
    losses above, flattened in ``parameters()`` order. Runs in the worker (the A3C learner's
    ``rollout_fn``); the master applies them; nothing is stepped here."""
    adv, targets = advantages(b, critic, cfg.advantage_estimator, cfg.gamma, cfg.gae_lambda, cfg.n_step)
    adv, targets = b.flat(adv), b.flat(targets)
    if cfg.normalize_advantages and adv.numel() > 1:
        adv = normalize(adv)
    check_finite("the A3C advantages", adv)
    obs, actions = b.flat(b.obs), b.flat(b.actions)

    params = actor.dist_params(obs)
    entropy = actor.entropy(params).mean()
    policy_loss = -(actor.log_prob(params, actions) * adv).mean() - cfg.entropy_coef * entropy
    value_loss = (critic(obs) - targets).pow(2).mean()
    d_theta = flat_grad(policy_loss, list(actor.parameters()))
    d_psi = flat_grad(value_loss, list(critic.parameters()))
    return {"d_theta": d_theta, "d_psi": d_psi, "stats": {
        "entropy": entropy.item(), "value_loss": value_loss.item(), "policy_loss": policy_loss.item(),
        "explained_variance": explained_variance(value_loss.item(), targets.detach())}}


class A3C(PolicyAndCriticAdam):
    """The master: its optimisers and checkpoint state are reinforce's and a2c's; the workers run
    ``worker_gradients`` on their own rollouts (the async sampler calls ``rollout_fn``)."""

    rollout_fn = staticmethod(worker_gradients)

    def update(self, batch: Batch) -> dict[str, float]:
        """Apply one worker's gradients (``batch.extras``, from ``worker_gradients``); the
        batch's own states measure how far the master's policy moved (``kl``)."""
        x, obs = batch.extras, batch.flat(batch.obs).to(self.device)
        with torch.no_grad():
            old = self.actor.dist_params(obs)
        stats = {}
        for name, opt, module, g, lr in (("grad_norm", self.opt, self.actor, x["d_theta"], self.base_lr),
                                         ("critic_grad_norm", self.critic_opt, self.critic, x["d_psi"], None)):
            g = g.to(self.device)
            check_finite("a worker's gradient", g)
            params = list(module.parameters())
            for p, gp in zip(params, torch.split(g, [p.numel() for p in params])):
                p.grad = gp.view_as(p).clone()
            stats[name] = float(torch.nn.utils.clip_grad_norm_(params, self.cfg.max_grad_norm or float("inf")))
            if lr is not None:  # the policy's learning rate decays like a2c's; the critic's is fixed
                set_annealed_lr(opt, lr, self.updates, self.cfg)
            opt.step()
            opt.zero_grad(set_to_none=True)
        self.updates += 1
        with torch.no_grad():
            stats["kl"] = self.actor.kl(old, self.actor.dist_params(obs)).mean().item()
        return {**stats, **x["stats"], "staleness": x["staleness"], "worker": x["worker"],
                "lr": self.opt.param_groups[0]["lr"]}
