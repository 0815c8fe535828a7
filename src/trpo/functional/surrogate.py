"""Policy-gradient surrogate objectives (all to be MAXIMISED)."""
from __future__ import annotations

import torch
from torch import Tensor


def importance_sampled_surrogate(logp_new: Tensor, logp_old: Tensor, adv: Tensor) -> Tensor:
    """L(theta) = E[ pi_theta(a|s) / pi_old(a|s) * A(s, a) ]   (TRPO paper eq. 14, q = pi_old).

    Seed 001 writes "min_theta E[ratio * Q]" on its "Final optimization problem" slide; the paper
    maximises. At theta = theta_old its gradient is the policy gradient E[grad log pi * A].
    """
    return (torch.exp(logp_new - logp_old) * adv).mean()
