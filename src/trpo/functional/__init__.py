"""Pure math: no environments, no state. Each function cites the equation it implements."""
from trpo.functional.cg import CGResult, conjugate_gradient
from trpo.functional.fisher import fisher_vector_product, flat_grad
from trpo.functional.kl import (
    categorical_entropy,
    categorical_kl,
    categorical_log_prob,
    diag_gaussian_entropy,
    diag_gaussian_kl,
    diag_gaussian_log_prob,
)
from trpo.functional.linesearch import LineSearchResult, backtracking_line_search
from trpo.functional.natural import NaturalStep, natural_step
from trpo.functional.returns import discounted_returns, gae, n_step_advantages
from trpo.functional.surrogate import importance_sampled_surrogate, vine_surrogate

__all__ = [
    "CGResult", "conjugate_gradient", "fisher_vector_product", "flat_grad", "categorical_entropy",
    "categorical_kl", "categorical_log_prob", "diag_gaussian_entropy", "diag_gaussian_kl",
    "diag_gaussian_log_prob", "LineSearchResult", "backtracking_line_search", "NaturalStep",
    "natural_step", "discounted_returns", "gae", "n_step_advantages", "importance_sampled_surrogate", "vine_surrogate",
]
