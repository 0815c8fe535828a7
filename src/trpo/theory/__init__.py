"""``trpo.theory``: an exact-arithmetic lab for the theory behind TRPO.

Exact tabular MDPs (numpy, float64) on which every claim of the seeds can be checked
numerically: the performance difference lemma, the local approximation ``L_pi``, the
alpha-coupling bounds (MIGT, its KL form, the CPI mixture bound) and Algorithm 1.
See ``docs/theory.md``; run ``python -m trpo.theory check`` for the numerical battery.
"""

from .algorithms import (
    Trace,
    algorithm1,
    algorithm1_objective,
    algorithm1_step,
    cpi,
    exact_npg,
    exact_trpo,
    log_softmax,
    natural_direction,
    policy_iteration,
    softmax,
    softmax_fisher,
    softmax_gradient,
    softmax_kl_mean,
)
from .bounds import (
    cpi_bound,
    cpi_mixture,
    cpi_penalty,
    migt_bound,
    migt_bound_kl,
    migt_bound_tight,
    migt_penalty,
    migt_penalty_tight,
    penalty_coefficient,
)
from .divergences import kl, kl_max, kl_mean, tv, tv_max
from .kl_penalty import KLPenaltySolution, maximize_kl_penalized
from .mdp import (
    TabularMDP,
    advantages,
    eta,
    expected_advantage,
    greedy,
    optimal_value,
    q_values,
    random_policy,
    surrogate,
    value,
    visitation,
)

__all__ = [
    "TabularMDP",
    "value",
    "q_values",
    "advantages",
    "eta",
    "visitation",
    "expected_advantage",
    "surrogate",
    "greedy",
    "optimal_value",
    "random_policy",
    "tv",
    "kl",
    "tv_max",
    "kl_max",
    "kl_mean",
    "penalty_coefficient",
    "migt_penalty",
    "migt_penalty_tight",
    "cpi_penalty",
    "migt_bound",
    "migt_bound_tight",
    "migt_bound_kl",
    "cpi_bound",
    "cpi_mixture",
    "KLPenaltySolution",
    "maximize_kl_penalized",
    "Trace",
    "softmax",
    "log_softmax",
    "softmax_kl_mean",
    "softmax_gradient",
    "softmax_fisher",
    "natural_direction",
    "algorithm1_objective",
    "algorithm1_step",
    "algorithm1",
    "policy_iteration",
    "exact_trpo",
    "exact_npg",
    "cpi",
]
