"""Policy-gradient surrogate objectives (all to be MAXIMISED)."""
from __future__ import annotations

import torch
from torch import Tensor


def importance_sampled_surrogate(logp_new: Tensor, logp_old: Tensor, adv: Tensor) -> Tensor:
    """L(theta) = E[ pi_theta(a|s) / pi_old(a|s) * A(s, a) ]   (TRPO paper eq. 14, q = pi_old).

    the TRPO reading-group slides (Nguyen 2021) writes "min_theta E[ratio * Q]" on its "Final optimization
    problem" slide; the paper maximises. At theta = theta_old its gradient is the policy gradient
    E[grad log pi * A].
    """
    return (torch.exp(logp_new - logp_old) * adv).mean()


def vine_surrogate(logp_new: Tensor, logp_old: Tensor, q: Tensor, enumerated: bool) -> Tensor:
    """The vine estimator of L(theta) (TRPO paper §5.2), averaged over the N rollout states.

    Inputs are (N, K): log pi(a_{n,k} | s_n) under theta and theta_old, and Q-hat(s_n, a_{n,k})
    from the branch rollouts.

      enumerated (all K actions of a finite space were tried, eq. 15):
          L_n(theta) = sum_k pi_theta(a_k | s_n) Q-hat(s_n, a_k)
      sampled (a_{n,k} ~ q = pi_old, the self-normalised importance-sampling estimator, eq. 16):
          L_n(theta) = sum_k w_k Q-hat(s_n, a_k) / sum_k w_k,   w_k = pi_theta(a_k|s_n) / pi_old(a_k|s_n)

    Both are unchanged, up to a constant, when a per-state constant is added to Q-hat (eq. 16 is
    invariant; eq. 15 shifts by that constant since sum_a pi_theta = 1), so a per-state baseline
    needs no correction.
    """
    if enumerated:
        return (torch.exp(logp_new) * q).sum(-1).mean()
    w = torch.exp(logp_new - logp_old)
    return ((w * q).sum(-1) / w.sum(-1)).mean()
