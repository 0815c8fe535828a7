"""Proximal policy optimisation (Schulman et al. 2017; policy-gradients lecture notes §3.6.3 "Adaptive Lagrangian
Method" and "Clipping"; the TRPO reading-group slides (Nguyen 2021) "Proximal policy optimization").

Two surrogates, one loop. With r_t(theta) = pi_theta(a_t|s_t) / pi_old(a_t|s_t):

  ppo     L^CLIP  = E[ min(r_t A_t, clip(r_t, 1 - eps, 1 + eps) A_t) ]           (PPO eq. 7)
  ppo-kl  L^KLPEN = E[ r_t A_t - beta KL(pi_old(.|s_t) || pi_theta(.|s_t)) ]       (PPO eq. 8)
          after each update, with d = the measured mean KL (policy-gradients lecture notes §3.6.3, PPO §4):
              d < d_targ / 1.5  ->  beta <- beta / 2;     d > 1.5 d_targ  ->  beta <- 2 beta

One update, top to bottom:
  1. GAE advantages and the critic's targets (the lambda-returns) with V_old;
  2. pi_old frozen on the batch;
  3. ``epochs`` passes of Adam over shuffled minibatches of the joint loss
        -L (surrogate) - c_H H + vf_coef * value loss  (optionally clipped around V_old),
     the global gradient norm clipped to ``max_grad_norm``, lr annealed linearly to 0;
  4. ppo-kl only: adapt beta.
With a shared CNN trunk (``shared_trunk``) every pass that reads actor and critic on the same
frames runs the trunk once for both heads (``nets.policies.actor_critic_forward``; ``PPO.frozen``).
ppo-kl's safeguard: the epochs stop as soon as a minibatch's mean KL exceeds ``KL_STOP`` x d_targ
(the early stopping of Spinning Up's PPO). Without it the penalty alone, with beta still at its
initial value, let the first update of a CartPole run reach a KL of 4.9 and a run that had
reached 500 fall back to 227 (docs/algorithms.md).
The practical details (advantage normalisation, minibatch epochs, value clipping, gradient
clipping, lr annealing, orthogonal init in ``nets.policies.mlp``) follow CleanRL / SB3
(Engstrom et al. 2020, "Implementation matters", the paper policy-gradients lecture notes §3.7 points to).
"""
from __future__ import annotations

import torch
from torch import Tensor

from trpo.algos.base import LearnerBase
from trpo.algos.common import (
    adam,
    gae_batch,
    gradient_step,
    resolved_lr,
    set_annealed_lr,
    update_stats,
    value_inputs,
)
from trpo.config import Config
from trpo.functional.sequences import row_length
from trpo.nets.policies import Actor, Critic, actor_critic_forward, shared_trunk_of
from trpo.rollout import Batch
from trpo.timing import part

KL_STOP = 2.0  # ppo-kl: stop the update's epochs once a minibatch's KL exceeds this times kl_target


def clipped_surrogate(logp_new: Tensor, logp_old: Tensor, adv: Tensor, clip: float) -> Tensor:
    """L^CLIP = E[min(r A, clip(r, 1 - eps, 1 + eps) A)] (PPO eq. 7; policy-gradients lecture notes §3.6.3).
    Maximise."""
    ratio = torch.exp(logp_new - logp_old)
    return torch.min(ratio * adv, ratio.clamp(1.0 - clip, 1.0 + clip) * adv).mean()


def kl_penalty_surrogate(logp_new: Tensor, logp_old: Tensor, adv: Tensor, kl: Tensor, beta: float) -> Tensor:
    """L^KLPEN = E[r A - beta KL(pi_old || pi_theta)] (PPO eq. 8; the lecture notes' Lagrangian with
    lambda = beta). Maximise."""
    return (torch.exp(logp_new - logp_old) * adv).mean() - beta * kl.mean()


def adapt_kl_coef(beta: float, kl: float, target: float) -> float:
    """the policy-gradients lecture notes §3.6.3 / PPO §4: halve beta when KL < target / 1.5, double it when
    KL > 1.5 target.

    (the policy-gradients lecture notes writes the doubling branch with ">=", PPO's paper with ">"; the difference only
    matters on a measure-zero tie. The paper's rule is implemented.)"""
    if kl < target / 1.5:
        return beta / 2.0
    if kl > target * 1.5:
        return beta * 2.0
    return beta


def value_loss(v: Tensor, v_old: Tensor, target: Tensor, clip: float | None) -> Tensor:
    """1/2 E[(V - R)^2]; with ``clip``: 1/2 E[max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)]
    (the value clipping of OpenAI baselines' PPO2 / CleanRL ``clip_vloss``)."""
    loss = (v - target).pow(2)
    if clip is not None:
        v_clipped = v_old + (v - v_old).clamp(-clip, clip)
        loss = torch.max(loss, (v_clipped - target).pow(2))
    return 0.5 * loss.mean()


class PPO(LearnerBase):
    penalty = False  # ppo-kl: the KL-penalty surrogate instead of the clipped one

    def __init__(self, actor: Actor, critic: Critic, cfg: Config, device: torch.device):
        self.actor, self.critic, self.cfg, self.device = actor, critic, cfg, device
        self.base_lr = resolved_lr(cfg)
        # each parameter once: with ``shared_trunk`` the critic's CNN is the actor's
        self.opt = adam(dict.fromkeys([*actor.parameters(), *critic.parameters()]), self.base_lr, eps=1e-5)
        self.trunk = shared_trunk_of(actor, critic)  # then one CNN pass serves both heads wherever both read
        self.kl_coef = cfg.kl_coef_init if self.penalty else 0.0  # beta: ppo-kl's alone
        self.updates = 0

    def surrogate(self, logp_new: Tensor, logp_old: Tensor, adv: Tensor, kl: Tensor | None) -> Tensor:
        if self.penalty:
            return kl_penalty_surrogate(logp_new, logp_old, adv, kl, self.kl_coef)  # type: ignore[arg-type]  # given
        return clipped_surrogate(logp_new, logp_old, adv, self.cfg.clip_range)

    def frozen(self, b: Batch) -> tuple:
        """(obs, critic_obs, actions, A, targets) as ``gae_batch`` gives them, then pi_old's
        parameters and V_old on the rows. With a shared trunk, one pass over every frame GAE
        values serves the critic's head (GAE's values, V_old their rows) and the actor's (pi_old),
        as CleanRL keeps the values and log-probabilities of its rollout; else GAE's critic pass,
        then pi_old and V_old on the rows (each network its own)."""
        actor, critic = self.actor, self.critic
        if self.trunk is None:
            obs, critic_obs, actions, adv, targets = gae_batch(b, critic, self.cfg)
            with part("update: pi_old + V_old forward"), torch.no_grad():
                old, v_old = actor_critic_forward(actor, critic, obs, critic_obs)
            return obs, critic_obs, actions, adv, targets, old, v_old
        with part("update: pi_old + V_old forward"), torch.no_grad():
            frames = value_inputs(b)
            old, v_all = actor_critic_forward(actor, critic, frames, frames, self.trunk)
        n = b.T * b.N  # the batch's steps come first in value_inputs
        return (*gae_batch(b, critic, self.cfg, v_all=v_all), tuple(p[:n] for p in old), v_all[:n])

    def update(self, batch: Batch) -> dict[str, float]:
        cfg, actor, critic = self.cfg, self.actor, self.critic
        b = batch.to(self.device)

        # 1-2. advantages (GAE) and value targets; pi_old, frozen, and V_old
        obs, critic_obs, actions, adv, targets, old, v_old = self.frozen(b)
        with torch.no_grad():
            logp_old = actor.log_prob(old, actions)

        # 3. epochs of minibatch Adam on the joint loss
        lr = set_annealed_lr(self.opt, self.base_lr, self.updates, cfg)
        B = obs.shape[0]  # rows: steps, or a recurrent policy's chunks of steps
        mb = max(1, cfg.minibatch_size // row_length(obs))  # the same number of steps either way
        clipped, n_mb = 0.0, 0
        stopped_early = 0
        for _ in range(cfg.epochs):
            perm = torch.randperm(B, device=adv.device)
            for i in range(0, B, mb):
                idx = perm[i:i + mb]
                new, v = actor_critic_forward(actor, critic, obs[idx], critic_obs[idx], self.trunk)
                logp = actor.log_prob(new, actions[idx])
                kl_mb = actor.kl(tuple(p[idx] for p in old), new) if self.penalty else None  # ppo-kl only
                L = self.surrogate(logp, logp_old[idx], adv[idx], kl_mb)
                ent = actor.entropy(new).mean()
                vl = value_loss(v, v_old[idx], targets[idx],
                                cfg.clip_range if cfg.clip_value else None)
                gradient_step(self.opt, -L - cfg.entropy_coef * ent + cfg.vf_coef * vl, cfg.max_grad_norm)
                with torch.no_grad():
                    clipped += float(((logp - logp_old[idx]).exp() - 1.0).abs().gt(cfg.clip_range).float().mean())
                n_mb += 1
                if self.penalty and float(kl_mb.detach().mean()) > KL_STOP * cfg.kl_target:  # type: ignore[union-attr]  # penalty: kl
                    stopped_early = 1  # ppo-kl's safeguard: the penalty alone let pi run away
                    break
            if stopped_early:
                break
        self.updates += 1

        # 4. measure the step; ppo-kl adapts beta
        with torch.no_grad():
            new, v = actor_critic_forward(actor, critic, obs, critic_obs, self.trunk)
            value_mse = float((v - targets).pow(2).mean())
            stats = {**update_stats(actor, old, obs, value_mse, targets, new=new),
                     "clip_fraction": clipped / max(n_mb, 1), "lr": lr}
        kl = stats["kl"]
        if self.penalty:
            stats["kl_coef"] = self.kl_coef
            stats["stopped_early"] = stopped_early
            self.kl_coef = adapt_kl_coef(self.kl_coef, kl, cfg.kl_target)
        return stats

    def state_dict(self) -> dict:
        return {"opt": self.opt.state_dict(), "kl_coef": self.kl_coef, "updates": self.updates}

    def load_state_dict(self, d: dict) -> None:
        self.opt.load_state_dict(d["opt"])
        self.kl_coef = float(d["kl_coef"])
        self.updates = int(d["updates"])


class PPOKL(PPO):
    """The adaptive KL-penalty variant: the same loop, the penalty surrogate, beta adapted."""

    penalty = True
