"""Trust Region Policy Optimization (Schulman et al. 2015; the TRPO reading-group slides (Nguyen 2021) and the
policy-gradients lecture notes §3.6.3).

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
     touches it). Step 4 needs nothing from step 3, and only the next update's step 1 needs
     step 4: with ``critic_fit = "process"`` (the default on a multi-core CPU) it runs in a helper
     process on another core while step 3 runs here and the next batch is sampled, bitwise the
     same as one after the other (``trpo.algos.critic_process``); ``sync()`` waits for it.

``value_loss`` is the critic's mean squared error on the batch's targets *before* its fit (as
Spinning Up's LossV): how well V predicted returns it had not been fitted to.

With vine sampling (paper Sec. 5.2; the batch carries ``batch.vine``) ``_vine_update`` replaces
steps 1-2 and 4: Q-hat comes from branch rollouts (no critic, no GAE), the objective is the vine
estimator (``vine_surrogate``, eq. 15 or 16) and the KL is averaged over the rollout-set states;
step 3 is the same ``trust_region_step``.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from trpo.algos.base import LearnerBase
from trpo.algos.common import (
    adam,
    check_finite,
    critic_permutations,
    fit_critic,
    gae_batch,
    policy_objective,
    rescale,
    update_stats,
)
from trpo.algos.critic_process import CriticFitProcess
from trpo.algos.trust_region import trust_region_step
from trpo.config import Config
from trpo.functional import vine_surrogate
from trpo.functional.sequences import Sequences
from trpo.nets.policies import Actor, Critic
from trpo.rollout.batch import Batch, VineData
from trpo.timing import part


class TRPO(LearnerBase):
    line_search = True  # NPG is this update without the line search

    def __init__(self, actor: Actor, critic: Critic, cfg: Config, device: torch.device):
        self.actor, self.critic, self.cfg, self.device = actor, critic, cfg, device
        self.critic_opt = adam(critic.parameters(), cfg.critic_lr)
        self.critic_fit = cfg.critic_fit  # resolved (trpo.resolve): "process" or "inline"
        self._helper: CriticFitProcess | None = None  # forked at the first process-mode fit
        self._inline_fit: Callable[[], float] | None = None

    def update(self, batch: Batch) -> dict[str, float]:
        cfg, actor = self.cfg, self.actor
        self.sync()  # the previous update's critic fit, before this one reads V
        b = batch.to(self.device)
        if b.vine is not None:  # vine sampling: its own estimator, the same trust-region step
            return self._vine_update(b.vine)

        # 1. advantages (GAE) and critic targets, with the critic of pi_old
        obs, critic_obs, actions, adv, targets = gae_batch(b, self.critic, cfg)
        value_loss = self._value_loss(critic_obs, targets)

        # 2. pi_old, frozen: the detached output of the forward pass that the policy gradient at
        #    theta_old differentiates (one forward over the batch for both)
        with part("update: policy gradient (forward + backward)"):
            first: tuple[torch.Tensor, ...] | None = actor.dist_params(obs)
        old = tuple(t.detach() for t in first or ())
        logp_old = actor.log_prob(old, actions)

        # 3. maximise L(theta) = E[ratio * A] (+ entropy bonus) inside the trust region; the
        #    objective hands back pi_theta's parameters on obs, the states of the KL
        def objective():
            nonlocal first
            new, first = first, None  # the first call (theta_old) reuses step 2's forward
            return policy_objective(actor, obs, actions, logp_old, adv, cfg.entropy_coef, new)

        fvp_idx = self._fvp_indices(obs.shape[0])
        # 4. the critic, fitted to the lambda-returns with its own optimiser: started now on the
        #    helper's core (critic_fit = "process"), else run right after step 3
        self._start_critic_fit(critic_obs, targets)
        stats, new = trust_region_step(actor, objective, obs, old, cfg, self.line_search, fvp_idx)
        self._finish_inline_fit()
        return {**stats, **update_stats(actor, old, obs, value_loss, targets, kl=stats["kl"], new=new)}

    def _vine_update(self, vine: VineData) -> dict[str, float]:
        cfg, actor = self.cfg, self.actor
        obs, q = vine.obs, vine.q                                                 # (N, d), (N, K)
        N, K = q.shape
        actions = vine.actions.reshape(N * K, *vine.actions.shape[2:])
        recurrent = vine.windows is not None
        if recurrent:  # s_n as the actor reads it: the trunk steps before it, read at s_n
            obs = vine.windows  # type: ignore[assignment]  # Sequences: the recurrent actor reads them
            obs_k = obs[torch.arange(N, device=q.device).repeat_interleave(K)]
        else:
            obs_k = obs.repeat_interleave(K, 0)                                   # s_n for each a_{n,k}

        # 1. pi_old, frozen, at the rollout states and at their K actions
        with torch.no_grad():
            old = actor.dist_params(obs)
            logp_old = actor.log_prob(actor.dist_params(obs_k), actions).reshape(N, K)
        # 2. Q-hat minus a per-state baseline: V-hat(s_n) = sum_a pi_old(a|s_n) Q-hat (all actions)
        #    or the mean over the K draws; neither changes eq. 15/16's gradient (see vine_surrogate)
        #    Written as A_k = sum_j w_j (Q_k - Q_j): exactly 0 where all K branches agree (with
        #    common random numbers they often do), where Q_k - V-hat would leave rounding noise.
        w = logp_old.exp() if vine.enumerated else torch.full_like(q, 1.0 / K)
        v_hat = (w * q).sum(-1, keepdim=True)
        adv = (w[:, None, :] * (q[:, :, None] - q[:, None, :])).sum(-1)
        if cfg.normalize_advantages:  # a positive scale only: the baseline stays per state
            adv = rescale(adv)
        check_finite("vine Q-values", adv)

        # 3. maximise the vine estimator (+ entropy bonus) inside the trust region over the N states
        def objective():
            L = vine_surrogate(actor.log_prob(actor.dist_params(obs_k), actions).reshape(N, K), logp_old, adv,
                               vine.enumerated)
            return L + cfg.entropy_coef * actor.entropy(actor.dist_params(obs)).mean() if cfg.entropy_coef else L

        # 4. (started now) the critic is not used by vine; it is fitted to V-hat(s_n), a value
        #    estimate for users (a recurrent critic from its state at s_n: one-step sequences)
        critic_obs, v_target = obs, v_hat.squeeze(-1)
        if recurrent:
            critic_obs = Sequences(vine.obs[:, None],  # type: ignore[assignment]  # read by a recurrent critic
                                   torch.zeros(N, 1, dtype=torch.bool, device=q.device),
                                   vine.critic_states)  # type: ignore[arg-type]  # set for recurrent actors
            v_target = v_hat
        value_loss = self._value_loss(critic_obs, v_target)
        self._start_critic_fit(critic_obs, v_target)
        if (q.amax(-1) - q.amin(-1)).max() > 0:
            # the Fisher over every rollout state: a vine batch has only a few hundred (no sub-sample)
            stats, _ = trust_region_step(actor, objective, obs, old, cfg, self.line_search)
        else:  # every branch of every state returned the same: the estimator has no gradient
            stats = {"kl": 0.0, "surrogate_gain": 0.0, "step_accepted": 0}

        self._finish_inline_fit()
        return {**stats, **update_stats(actor, old, obs, value_loss, v_target, kl=stats["kl"]), "vine_states": N}

    @torch.no_grad()
    def _value_loss(self, obs: torch.Tensor, targets: torch.Tensor) -> float:
        """E[(V(s_t) - R_t)^2] on this batch, before the critic is fitted to it."""
        return float((self.critic(obs) - targets).pow(2).mean())

    def _start_critic_fit(self, obs: torch.Tensor, targets: torch.Tensor) -> None:
        """Step 4: handed to the helper process now, or kept to run after step 3 (inline). Either
        way the minibatch orders are the same torch RNG draws, taken before step 3 (which draws none)."""
        cfg = self.cfg
        if self.critic_fit != "process":
            self._inline_fit = lambda: fit_critic(self.critic, self.critic_opt, obs, targets, cfg.critic_epochs,
                                                  cfg.critic_minibatch)
            return
        if self._helper is None:
            self._helper = CriticFitProcess(self.critic, self.critic_opt)
        self._helper.submit(obs, targets, critic_permutations(obs.shape[0], cfg.critic_epochs), cfg.critic_epochs,
                            cfg.critic_minibatch)

    def _finish_inline_fit(self) -> None:
        if self._inline_fit is not None:
            fit, self._inline_fit = self._inline_fit, None
            fit()

    def sync(self) -> None:
        """Bring the critic up to date: wait for a fit still running in the helper process (a
        no-op inline). The trainer calls it before a checkpoint and after the last update."""
        self._finish_inline_fit()
        if self._helper is not None and self._helper.pending:
            self._helper.result()

    def _fvp_indices(self, n: int) -> torch.Tensor | None:
        """A random fraction ``fvp_subsample`` of a single-path batch's rows for Fisher-vector
        products (the paper uses 10% of the states, App. C.1; a recurrent policy's rows are
        chunks of steps); all of it at 1.0."""
        if self.cfg.fvp_subsample >= 1.0:
            return None
        k = max(1, int(n * self.cfg.fvp_subsample))
        return torch.randperm(n, device=self.device)[:k]

    def state_dict(self) -> dict:
        self.sync()
        if self._helper is not None:  # the helper holds the current Adam state
            self.critic_opt.load_state_dict(self._helper.optimizer_state())
        return {"critic_opt": self.critic_opt.state_dict()}

    def load_state_dict(self, d: dict) -> None:
        self.sync()
        self.critic_opt.load_state_dict(d["critic_opt"])
        if self._helper is not None:
            self._helper.load_optimizer_state(d["critic_opt"])

    def close(self) -> None:
        """Stop the critic-fit helper process, if one was started (a later update starts a new one)."""
        if self._helper is not None:
            self._helper.close()
            self._helper = None
