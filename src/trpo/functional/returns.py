"""Returns and advantage estimators (policy-gradients lecture notes §3.2-3.4; Schulman et al. 2016, GAE).

Shapes: every array is time-major ``(T, N)`` for T steps of N parallel envs.
Two flags are kept apart all the way (Gymnasium's API):

* ``terminated[t]``: s_{t+1} is terminal, its value is 0, so do not bootstrap;
* ``done[t] = terminated[t] | truncated[t]``: the episode ended at t, so the recursion
  stops there; on truncation the target still bootstraps from V(s_{t+1}) of the final obs.

``next_values[t]`` is V(s_{t+1}): the value of the next observation of the same episode
(for a truncated step: the value of the final observation before the reset).
"""
from __future__ import annotations

import torch
from torch import Tensor


def discounted_returns(rewards: Tensor, done: Tensor, gamma: float,
                       bootstrap: Tensor | None = None) -> Tensor:
    """Reward-to-go R_t = sum_{l>=0} gamma^l r_{t+l}, cut at episode ends (policy-gradients lecture notes §3.2-3.3).

    ``bootstrap[t]`` (optional) is added as gamma * bootstrap[t] at a step whose recursion is
    cut (truncation, or the batch end); pass V(s_{t+1}) there and 0 at terminations.
    Recursion: R_t = r_t + gamma * ((1 - done_t) R_{t+1} + boot_t).
    """
    T = rewards.shape[0]
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    not_done = 1.0 - done.to(rewards.dtype)
    for t in reversed(range(T)):
        boot = bootstrap[t] if bootstrap is not None else 0.0
        running = rewards[t] + gamma * (not_done[t] * running + boot)
        out[t] = running
    return out


@torch.no_grad()  # advantages are constants in every objective that uses them
def gae(rewards: Tensor, values: Tensor, next_values: Tensor, terminated: Tensor,
        done: Tensor, gamma: float, lam: float) -> Tensor:
    """Generalised advantage estimation, GAE(gamma, lambda) (Schulman et al. 2016, eq. 16).

        delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)          (TD residual)
        A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}

    lambda = 0 gives the one-step actor-critic advantage (policy-gradients lecture notes §3.4.1), lambda = 1 the Monte
    Carlo return minus the baseline. the policy-gradients lecture notes writes GAE as sum_i (gamma lambda)^i A^i;
    the paper's form is (1 - lambda) sum_{n>=1} lambda^{n-1} A^(n), which telescopes to the recursion above.
    """
    not_term = 1.0 - terminated.to(rewards.dtype)
    adv = rewards + gamma * not_term * next_values - values                   # delta_t
    coef = (gamma * lam * (1.0 - done.to(rewards.dtype))).unbind(0)
    rows = adv.unbind(0)  # views of adv's rows: the recursion runs in place, one op per step
    for t in reversed(range(rewards.shape[0] - 1)):
        rows[t].addcmul_(coef[t], rows[t + 1])                                # A_t = delta_t + c_t A_{t+1}
    return adv


def n_step_advantages(rewards: Tensor, values: Tensor, next_values: Tensor, terminated: Tensor,
                      done: Tensor, gamma: float, n: int) -> Tensor:
    """n-step advantage A^(n)_t = sum_{i<n} gamma^i r_{t+i} + gamma^n V(s_{t+n}) - V(s_t).

    (the policy-gradients lecture notes §3.4.2 writes the sum up to i = n with gamma^{i-1}: an index typo; the GAE
    paper's A^(n) has n rewards, discounts gamma^i for i = 0..n-1, and bootstraps with gamma^n.) The sum
    stops at an episode end (bootstrapping there only on truncation) or at the batch end, where it
    bootstraps from next_values. n = 1 is the TD residual.
    """
    T = rewards.shape[0]
    not_term = 1.0 - terminated.to(rewards.dtype)
    not_done = 1.0 - done.to(rewards.dtype)
    out = torch.empty_like(rewards)
    for t in range(T):
        ret = torch.zeros_like(rewards[0])
        disc = torch.ones_like(rewards[0])  # gamma^i while the episode is alive, else 0
        boot = torch.zeros_like(rewards[0])
        for i in range(n):
            k = t + i
            if k >= T:
                break
            ret = ret + disc * rewards[k]
            last = (i == n - 1) or (k == T - 1)
            # bootstrap where the window closes: at the n-th step, the batch end, or a truncation
            stop = not_done[k] == 0
            closes = stop if not last else torch.ones_like(stop)
            boot = boot + disc * closes * gamma * not_term[k] * next_values[k]
            disc = disc * gamma * not_done[k]
            if last:
                break
        out[t] = ret + boot - values[t]
    return out
