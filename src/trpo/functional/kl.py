"""Closed-form KL divergences and entropies of the policy heads (per state).

KL(p || q) with p the OLD policy and q the NEW one, as in the TRPO constraint
E_s[KL(pi_old(.|s) || pi_theta(.|s))] <= delta (Schulman et al. 2015, eq. 12).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def categorical_kl(logits_p: Tensor, logits_q: Tensor) -> Tensor:
    """KL(p || q) = sum_a p(a) (log p(a) - log q(a)) over the last axis."""
    logp = torch.log_softmax(logits_p, dim=-1)
    logq = torch.log_softmax(logits_q, dim=-1)
    return (logp.exp() * (logp - logq)).sum(-1)


def categorical_entropy(logits: Tensor) -> Tensor:
    """H(p) = -sum_a p(a) log p(a)."""
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def diag_gaussian_kl(mu_p: Tensor, log_std_p: Tensor, mu_q: Tensor, log_std_q: Tensor) -> Tensor:
    """KL(N(mu_p, s_p^2) || N(mu_q, s_q^2)) summed over action dimensions:

        sum_i [ log(s_q/s_p) + (s_p^2 + (mu_p - mu_q)^2) / (2 s_q^2) - 1/2 ]
    """
    var_p = torch.exp(2 * log_std_p)
    var_q = torch.exp(2 * log_std_q)
    kl = log_std_q - log_std_p + (var_p + (mu_p - mu_q) ** 2) / (2 * var_q) - 0.5
    return kl.sum(-1)


def diag_gaussian_entropy(log_std: Tensor) -> Tensor:
    """H = sum_i [ log s_i + (1 + log 2 pi) / 2 ]."""
    return (log_std + 0.5 * (1.0 + math.log(2 * math.pi))).sum(-1)


def diag_gaussian_log_prob(mu: Tensor, log_std: Tensor, x: Tensor) -> Tensor:
    """log N(x; mu, diag(s^2)) = -sum_i [ (x_i - mu_i)^2 / (2 s_i^2) + log s_i + log(2 pi)/2 ]."""
    z = (x - mu) * torch.exp(-log_std)
    return -(0.5 * z * z + log_std + 0.5 * math.log(2 * math.pi)).sum(-1)


def clipped_gaussian_log_prob(mu: Tensor, log_std: Tensor, x: Tensor, low: Tensor, high: Tensor) -> Tensor:
    """log of the probability of the action the env receives, clip(x, low, high), under
    x ~ N(mu, diag(s^2)), summed over action dimensions (the clipped-action policy gradient,
    Fujita & Maeda 2018, "Clipped Action Policy Gradient", ICML, eq. 9):

        x_i <= low_i:   log P(x_i <= low_i)  = log Phi((low_i - mu_i) / s_i)
        x_i >= high_i:  log P(x_i >= high_i) = log Phi((mu_i - high_i) / s_i)
        otherwise:      log N(x_i; mu_i, s_i^2)

    ``x`` is the unclipped sample. Its score function is an unbiased estimate of the same policy
    gradient as the density's (the env sees only the clipped action) with no more variance: the
    density's term (x - mu) / s^2 of a sample beyond a bound is replaced by its expectation given
    that the sample is beyond it. Where mu is far outside, log P ~ 0 and its gradient ~ 0 (the
    density's gives noise of mean ~0 and size 1/s there). Infinite bounds never match (their
    dimensions keep the density)."""
    z = (x - mu) * torch.exp(-log_std)
    density = -(0.5 * z * z + log_std + 0.5 * math.log(2 * math.pi))
    at_low, at_high = x <= low, x >= high
    # tail arguments only where they are used (0 elsewhere), so no inf/nan reaches the gradient
    # (and infinite bounds replaced by 0 in the arithmetic: 0 * inf in the backward is nan)
    inv_s = torch.exp(-log_std)
    low_f, high_f = torch.nan_to_num(low, neginf=0.0, posinf=0.0), torch.nan_to_num(high, neginf=0.0, posinf=0.0)
    low_arg = torch.where(at_low, (low_f - mu) * inv_s, torch.zeros_like(mu))
    high_arg = torch.where(at_high, (mu - high_f) * inv_s, torch.zeros_like(mu))
    out = torch.where(at_low, torch.special.log_ndtr(low_arg),
                      torch.where(at_high, torch.special.log_ndtr(high_arg), density))
    return out.sum(-1)


def categorical_log_prob(logits: Tensor, a: Tensor) -> Tensor:
    """log p(a) from unnormalised logits; ``a`` holds integer actions."""
    logp = torch.log_softmax(logits, dim=-1)
    return logp.gather(-1, a.long().unsqueeze(-1)).squeeze(-1)
