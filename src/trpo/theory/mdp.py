"""Exact tabular MDPs: every quantity of the seeds by a linear solve, in float64.

Notation (Schulman et al. 2015, "Trust Region Policy Optimization", Sec. 2, and
Kakade & Langford 2002, Sec. 2):

* ``P[s, a, s']`` transition probabilities, ``R[s, a]`` expected reward,
  ``rho0[s]`` initial-state distribution, ``gamma`` in [0, 1).
* A policy is an array ``pi[s, a]`` whose rows lie on the probability simplex.

The seeds (and the TRPO paper) write the reward as ``r(s)``; this lab uses the more
general ``R(s, a)``.  Every derivation goes through unchanged, because the only
place the reward enters is the one-step identity
``A_pi(s, a) = R(s, a) + gamma E_{s'~P(.|s,a)}[V_pi(s')] - V_pi(s)`` (the "TRPO Details" notes uses
``r(s_t, a_t)`` as well).

All functions are pure; :class:`TabularMDP` only stores validated arrays and offers the
same functions as thin methods (``mdp.eta(pi)`` is ``eta(mdp, pi)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "TabularMDP",
    "as_policy",
    "random_policy",
    "policy_transitions",
    "policy_rewards",
    "value",
    "q_values",
    "advantages",
    "eta",
    "visitation",
    "expected_advantage",
    "surrogate",
    "greedy",
    "optimal_value",
]

#: Tolerance on the row sums of policies.
STOCHASTIC_ATOL = 1e-9
#: Tolerance on the row sums of ``P`` and ``rho0`` (e.g. float32 input); they are then
#: renormalised exactly, so every identity holds to float64 precision.
MDP_ATOL = 1e-6


def _as_float_array(name: str, x: object, ndim: int) -> np.ndarray:
    arr = np.array(x, dtype=np.float64)  # copy: the MDP owns its arrays
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


def _check_distributions(name: str, x: np.ndarray, axis: int = -1, atol: float = STOCHASTIC_ATOL) -> None:
    """Rows along ``axis`` must be probability vectors (sums within ``atol`` of 1)."""
    sums = x.sum(axis=axis)
    deviation = np.abs(sums - 1.0).max()
    if x.min() >= 0 and deviation <= atol:  # fast path; False for NaN as well
        return
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    if np.any(x < 0):
        raise ValueError(f"{name} has negative entries (min {x.min():.3g})")
    worst = float(np.ravel(sums)[np.argmax(np.abs(np.ravel(sums) - 1.0))])
    raise ValueError(f"{name} rows must sum to 1 (worst row sums to {worst:.12g})")


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite discounted MDP ``(S, A, P, R, rho0, gamma)``.

    Parameters
    ----------
    P:    shape (S, A, S), ``P[s, a, s'] = P(s' | s, a)``; each ``P[s, a]`` on the simplex.
    R:    shape (S, A), expected reward for taking ``a`` in ``s``.
    rho0: shape (S,), initial-state distribution.
    gamma: discount in [0, 1).

    The arrays are copied, converted to float64 and made read-only; rows of ``P`` and
    ``rho0`` within ``1e-6`` of summing to one are renormalised.
    """

    P: np.ndarray
    R: np.ndarray
    rho0: np.ndarray
    gamma: float

    def __post_init__(self) -> None:
        P = _as_float_array("P", self.P, 3)
        R = _as_float_array("R", self.R, 2)
        rho0 = _as_float_array("rho0", self.rho0, 1)
        S, A, S2 = P.shape
        if S == 0 or A == 0:
            raise ValueError(f"P must have at least one state and one action, got shape {P.shape}")
        if S2 != S:
            raise ValueError(f"P must have shape (S, A, S), got {P.shape}")
        if R.shape != (S, A):
            raise ValueError(f"R must have shape (S, A) = {(S, A)}, got {R.shape}")
        if rho0.shape != (S,):
            raise ValueError(f"rho0 must have shape (S,) = {(S,)}, got {rho0.shape}")
        _check_distributions("P", P, axis=2, atol=MDP_ATOL)
        _check_distributions("rho0", rho0, axis=0, atol=MDP_ATOL)
        P /= P.sum(axis=2, keepdims=True)
        rho0 /= rho0.sum()
        gamma = float(self.gamma)
        if not (0.0 <= gamma < 1.0):
            raise ValueError(f"gamma must be in [0, 1), got {self.gamma!r}")
        for arr in (P, R, rho0):
            arr.setflags(write=False)
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "rho0", rho0)
        object.__setattr__(self, "gamma", gamma)

    # -- construction -------------------------------------------------------------

    @classmethod
    def random(
        cls,
        n_states: int,
        n_actions: int,
        gamma: float = 0.9,
        seed: int | np.random.Generator | None = 0,
        *,
        concentration: float = 1.0,
    ) -> TabularMDP:
        """A random MDP for experiments.

        ``P(.|s, a) ~ Dirichlet(concentration)``, ``R ~ N(0, 1)``, ``rho0 ~ Dirichlet(1)``.
        A small ``concentration`` gives nearly deterministic transitions.
        """
        if n_states < 1 or n_actions < 1:
            raise ValueError(f"need n_states >= 1 and n_actions >= 1, got {n_states}, {n_actions}")
        rng = np.random.default_rng(seed)
        P = rng.dirichlet(np.full(n_states, concentration), size=(n_states, n_actions))
        R = rng.standard_normal((n_states, n_actions))
        rho0 = rng.dirichlet(np.ones(n_states))
        return cls(P, R, rho0, gamma)

    # -- shape --------------------------------------------------------------------

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]

    def uniform_policy(self) -> np.ndarray:
        return np.full((self.n_states, self.n_actions), 1.0 / self.n_actions)

    # -- thin methods over the pure functions below ---------------------------------

    def value(self, pi: np.ndarray) -> np.ndarray:
        return value(self, pi)

    def q_values(self, pi: np.ndarray) -> np.ndarray:
        return q_values(self, pi)

    def advantages(self, pi: np.ndarray) -> np.ndarray:
        return advantages(self, pi)

    def eta(self, pi: np.ndarray) -> float:
        return eta(self, pi)

    def visitation(self, pi: np.ndarray) -> np.ndarray:
        return visitation(self, pi)

    def surrogate(self, pi_old: np.ndarray, pi_new: np.ndarray) -> float:
        return surrogate(self, pi_old, pi_new)

    def expected_advantage(self, pi_old: np.ndarray, pi_new: np.ndarray) -> np.ndarray:
        return expected_advantage(self, pi_old, pi_new)


# -- policies ---------------------------------------------------------------------


def as_policy(mdp: TabularMDP, pi: object) -> np.ndarray:
    """Validate ``pi`` as an (S, A) array of simplex rows; return it as float64."""
    arr = np.asarray(pi, dtype=np.float64)
    if arr.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"policy must have shape (S, A) = {(mdp.n_states, mdp.n_actions)}, got {arr.shape}")
    _check_distributions("policy", arr, axis=1)
    return arr


def random_policy(
    n_states: int,
    n_actions: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
) -> np.ndarray:
    """``softmax(z / temperature)`` with ``z ~ N(0, 1)``: small temperature -> nearly deterministic."""
    z = rng.standard_normal((n_states, n_actions)) / temperature
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def greedy(q: np.ndarray) -> np.ndarray:
    """Deterministic policy ``pi(s) = argmax_a q(s, a)`` (first maximiser on ties)."""
    pi = np.zeros_like(q, dtype=np.float64)
    pi[np.arange(q.shape[0]), np.argmax(q, axis=1)] = 1.0
    return pi


# -- the exact quantities ------------------------------------------------------------


def policy_transitions(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """``P_pi[s, s'] = sum_a pi(a|s) P(s'|s, a)``."""
    return np.einsum("sa,sat->st", as_policy(mdp, pi), mdp.P)


def policy_rewards(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """``r_pi[s] = sum_a pi(a|s) R(s, a)``."""
    return np.einsum("sa,sa->s", as_policy(mdp, pi), mdp.R)


def value(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """``V_pi`` from the Bellman equation ``V = r_pi + gamma P_pi V``, i.e.

    ``V_pi = (I - gamma P_pi)^{-1} r_pi`` (the sum ``sum_t gamma^t P_pi^t r_pi``).
    """
    S = mdp.n_states
    return np.linalg.solve(np.eye(S) - mdp.gamma * policy_transitions(mdp, pi), policy_rewards(mdp, pi))


def q_values(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """``Q_pi(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) V_pi(s')``.

    (the TRPO reading-group slides (Nguyen 2021) writes ``Q_pi(s_t, a_t) = E[sum_l gamma^l r(s_{t+1})]``; the paper's is
    ``E[sum_l gamma^l r(s_{t+l})]``, which is what this computes.)
    """
    return mdp.R + mdp.gamma * mdp.P @ value(mdp, pi)


def advantages(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """``A_pi(s, a) = Q_pi(s, a) - V_pi(s)`` (TRPO paper, Sec. 2); ``sum_a pi A_pi = 0``.

    (the TRPO reading-group slides (Nguyen 2021) writes the last identity as
    ``sum_a pi(a|s)(Q_pi(a, s) V_pi(s)) = 0``: the minus sign is lost and the arguments of Q are swapped.)
    """
    V = value(mdp, pi)
    return mdp.R + mdp.gamma * mdp.P @ V - V[:, None]


def eta(mdp: TabularMDP, pi: np.ndarray) -> float:
    """``eta(pi) = E_{s0 ~ rho0}[V_pi(s0)] = E[sum_t gamma^t R(s_t, a_t)]`` (TRPO eq. in Sec. 2).

    the TRPO reading-group slides (Nguyen 2021) starts this sum at ``t = 1``; the paper (and the "Monotonic
    Improvement" post and the "TRPO Details" notes) start at ``t = 0``.
    """
    return float(mdp.rho0 @ value(mdp, pi))


def visitation(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """Unnormalised discounted visitation ``rho_pi(s) = sum_t gamma^t P(s_t = s)`` (TRPO Sec. 2).

    ``rho_pi^T = rho0^T (I - gamma P_pi)^{-1}``; it sums to ``1 / (1 - gamma)``.
    (The "TRPO Details" notes' ``d_pi`` is the same object; the "1/(1-gamma)" in its PDL statement belongs
    to the *normalised* ``d_pi = (1 - gamma) rho_pi`` of Agarwal et al.)
    """
    S = mdp.n_states
    return np.linalg.solve((np.eye(S) - mdp.gamma * policy_transitions(mdp, pi)).T, mdp.rho0)


def expected_advantage(mdp: TabularMDP, pi_old: np.ndarray, pi_new: np.ndarray) -> np.ndarray:
    """``Abar(s) = E_{a ~ pi_new(.|s)}[A_pi_old(s, a)]`` (TRPO Appendix A, "expected advantage")."""
    return np.einsum("sa,sa->s", as_policy(mdp, pi_new), advantages(mdp, pi_old))


def surrogate(mdp: TabularMDP, pi_old: np.ndarray, pi_new: np.ndarray) -> float:
    """Local approximation (TRPO eq. 3; Kakade & Langford 2002):

    ``L_pi_old(pi_new) = eta(pi_old) + sum_s rho_pi_old(s) sum_a pi_new(a|s) A_pi_old(s, a)``.
    """
    return eta(mdp, pi_old) + float(visitation(mdp, pi_old) @ expected_advantage(mdp, pi_old, pi_new))


def optimal_value(mdp: TabularMDP, tol: float = 1e-12, max_iter: int = 100_000) -> np.ndarray:
    """``V*`` by value iteration ``V <- max_a [R + gamma P V]`` (an independent reference for
    the algorithms' tests), polished by evaluating its greedy policy exactly."""
    V = np.zeros(mdp.n_states)
    for _ in range(max_iter):
        V_next = (mdp.R + mdp.gamma * mdp.P @ V).max(axis=1)
        done = np.max(np.abs(V_next - V)) <= tol * max(1.0, np.max(np.abs(V_next)))
        V = V_next
        if done:
            break
    return value(mdp, greedy(mdp.R + mdp.gamma * mdp.P @ V))
