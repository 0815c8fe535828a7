"""Advantage actor-critic, A2C (Mnih et al. 2016, synchronous; policy-gradients lecture notes §3.4).

    grad J(theta) ~= 1/|B| sum_t grad log pi_theta(a_t|s_t) A_t

with A_t from the critic (``advantage_estimator``):
    td     A_t = r_t + gamma V_psi(s_{t+1}) - V_psi(s_t)                               (§3.4.1)
    nstep  A_t = sum_{i<n} gamma^i r_{t+i} + gamma^n V_psi(s_{t+n}) - V_psi(s_t)        (§3.4.2)
    gae    A_t = sum_l (gamma lambda)^l delta_{t+l}                                     (§3.4.2, GAE eq. 16)

The update is REINFORCE's (one Adam step on the policy, then the critic fit) with these
advantages in place of reward-to-go minus a baseline; only the weights differ, so A2C reuses
``Reinforce.update`` and overrides ``weights``. A2C's synchronous batches are the N parallel
envs of the vector env (A3C's asynchronous workers: trpo.algos.a3c).
"""
from __future__ import annotations

import torch

from trpo.algos.common import advantages
from trpo.algos.reinforce import Reinforce
from trpo.rollout import Batch


class A2C(Reinforce):
    center = True  # standardise the advantages (mean 0, std 1) as the peers do

    def weights(self, b: Batch, obs, critic_obs, actions: torch.Tensor):
        cfg = self.cfg
        adv, targets = advantages(b, self.critic, cfg.advantage_estimator, cfg.gamma, cfg.gae_lambda, cfg.n_step)
        return b.rows(adv), b.rows(targets), {}
