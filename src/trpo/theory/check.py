"""The numerical battery behind ``trpo theory check``.

For random MDPs and random policy pairs (near and far apart) it evaluates every identity
and bound of the seeds and records, per claim:

* ``trials`` and ``violations`` (beyond a relative tolerance, 1e-9 by default);
* ``worst_slack``: for a bound ``eta >= b`` the smallest ``eta - b`` seen (>= 0 when it
  holds); for an identity ``x = y`` the largest ``-|x - y|`` (an identity is two
  inequalities with zero slack, so this is minus the worst error);
* ``median_tightness``: for a bound ``L - penalty`` the median of ``|eta - L| / penalty``
  (the share of the penalty the true approximation error actually uses; 1 = tight); for
  Algorithm 1 the median of guaranteed improvement ``M_i(pi_{i+1}) - eta(pi_i)`` over the
  true improvement ``eta(pi_{i+1}) - eta(pi_i)``.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from . import bounds
from .algorithms import algorithm1_objective, algorithm1_step
from .divergences import tv_max
from .mdp import (
    TabularMDP,
    advantages,
    eta,
    expected_advantage,
    random_policy,
    surrogate,
    visitation,
)

__all__ = ["ClaimResult", "CheckReport", "run_check", "format_report", "print_report", "policy_pair",
           "autograd_gradients", "PAIR_KINDS"]

#: How far apart the random policy pairs are: logit noise scale, or None for independent.
PAIR_KINDS = ("near", "mid", "far", "extreme")


@dataclass
class ClaimResult:
    """Outcome of one claim over all trials."""

    name: str
    kind: str  # "identity", "bound" or "monotone"
    source: str
    trials: int = 0
    violations: int = 0
    worst_slack: float = np.inf
    tightness: list[float] = field(default_factory=list, repr=False)

    def add(self, slack: float, scale: float, rtol: float, tightness: float | None = None) -> None:
        """Record one trial: violated when ``slack < -rtol * max(1, scale)``."""
        self.trials += 1
        if not np.isfinite(slack) or slack < -rtol * max(1.0, abs(scale)):
            self.violations += 1
        self.worst_slack = min(self.worst_slack, slack) if np.isfinite(slack) else -np.inf
        if tightness is not None and np.isfinite(tightness):
            self.tightness.append(float(tightness))

    @property
    def median_tightness(self) -> float | None:
        return float(np.median(self.tightness)) if self.tightness else None

    @property
    def ok(self) -> bool:
        return self.violations == 0


@dataclass
class CheckReport:
    settings: dict
    results: list[ClaimResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def __getitem__(self, name: str) -> ClaimResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)


def policy_pair(mdp: TabularMDP, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random pair ``(pi, pi_new)``: ``near``/``mid`` perturb the logits of ``pi`` (scale
    0.03 / 0.4), ``far`` draws two independent policies, ``extreme`` two nearly deterministic ones."""
    S, A = mdp.n_states, mdp.n_actions
    if kind == "extreme":  # nearly deterministic, independent
        return random_policy(S, A, rng, 0.15), random_policy(S, A, rng, 0.15)
    if kind == "far":
        return random_policy(S, A, rng), random_policy(S, A, rng)
    theta = np.log(random_policy(S, A, rng))
    scale = {"near": 0.03, "mid": 0.4}[kind]
    theta_new = theta + scale * rng.standard_normal((S, A))
    pi_new = np.exp(theta_new - theta_new.max(axis=1, keepdims=True))
    return np.exp(theta), pi_new / pi_new.sum(axis=1, keepdims=True)


def autograd_gradients(mdp: TabularMDP, theta0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``grad eta(softmax(theta))`` and ``grad L_pi0(softmax(theta))`` at ``theta0``, by torch autograd.

    ``eta`` goes through a differentiable linear solve ``V = (I - gamma P_pi)^{-1} r_pi``; ``L``
    keeps ``eta(pi0)``, ``rho_pi0`` and ``A_pi0`` fixed (numpy constants), only ``pi`` varies.
    """
    import torch  # lazy: the rest of the lab is numpy only

    pi0 = np.exp(theta0 - theta0.max(axis=1, keepdims=True))
    pi0 /= pi0.sum(axis=1, keepdims=True)
    with _single_torch_thread():
        P, R, mu = (torch.tensor(x) for x in (mdp.P, mdp.R, mdp.rho0))
        eye = torch.eye(mdp.n_states, dtype=torch.float64)

        theta = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
        pi = torch.softmax(theta, dim=1)
        P_pi = torch.einsum("sa,sat->st", pi, P)
        r_pi = (pi * R).sum(dim=1)
        V = torch.linalg.solve(eye - mdp.gamma * P_pi, r_pi)
        (g_eta,) = torch.autograd.grad(mu @ V, theta)

        rho_old = torch.from_numpy(visitation(mdp, pi0))
        A_old = torch.from_numpy(advantages(mdp, pi0))
        theta_l = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
        L = eta(mdp, pi0) + (rho_old[:, None] * torch.softmax(theta_l, dim=1) * A_old).sum()
        (g_L,) = torch.autograd.grad(L, theta_l)
    return g_eta.numpy(), g_L.numpy()


def _claims() -> list[ClaimResult]:
    return [
        ClaimResult("performance difference lemma", "identity", "K&L 2002 Lemma 6.1; TRPO eq. 1-2"),
        ClaimResult("L_pi(pi) = eta(pi)", "identity", "TRPO eq. 4"),
        ClaimResult("grad L = grad eta at pi_0 (autograd)", "identity", "TRPO eq. 4"),
        ClaimResult("|Abar(s)| <= 2 alpha max|A| (coupling)", "bound", "TRPO App. A Lemma 2"),
        ClaimResult("MIGT, TV form", "bound", "TRPO Thm 1, eq. 8"),
        ClaimResult("MIGT, intermediate form", "bound", "TRPO App. A"),
        ClaimResult("MIGT, KL form", "bound", "TRPO eq. 9"),
        ClaimResult("CPI mixture bound", "bound", "K&L 2002 Thm 4.1; TRPO eq. 6"),
        ClaimResult("Algorithm 1 monotone", "monotone", "TRPO Alg. 1, Sec. 3"),
    ]


def run_check(
    n_mdps: int = 20,
    n_states: int = 5,
    n_actions: int = 3,
    gamma: float = 0.9,
    seed: int = 0,
    *,
    pairs_per_mdp: int = 8,
    alg1_iters: int = 5,
    rtol: float = 1e-9,
) -> CheckReport:
    """Run the battery; see the module docstring for what is recorded."""
    rng = np.random.default_rng(seed)
    claims = {c.name: c for c in _claims()}
    with _single_torch_thread():
        _run(rng, claims, n_mdps, n_states, n_actions, gamma, pairs_per_mdp, alg1_iters, rtol)
    settings = dict(
        mdps=n_mdps, states=n_states, actions=n_actions, gamma=gamma, seed=seed,
        pairs_per_mdp=pairs_per_mdp, alg1_iters=alg1_iters, rtol=rtol,
    )
    return CheckReport(settings, list(claims.values()))


@contextmanager
def _single_torch_thread():
    """The autograd graphs here are tiny; intra-op threads only add contention."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _run(rng, claims, n_mdps, n_states, n_actions, gamma, pairs_per_mdp, alg1_iters, rtol) -> None:
    for m in range(n_mdps):
        concentration = (1.0, 0.1)[m % 2]  # alternate diffuse and nearly deterministic dynamics
        mdp = TabularMDP.random(n_states, n_actions, gamma, rng, concentration=concentration)
        for j in range(pairs_per_mdp):
            kind = PAIR_KINDS[j % len(PAIR_KINDS)]
            pi, pi_new = policy_pair(mdp, kind, rng)
            _check_pair(mdp, pi, pi_new, kind, rng, claims, rtol)
        _check_algorithm1(mdp, random_policy(n_states, n_actions, rng), alg1_iters, claims, rtol)


def _check_pair(mdp, pi, pi_new, kind, rng, claims, rtol) -> None:
    eta_old, eta_new = eta(mdp, pi), eta(mdp, pi_new)
    A = advantages(mdp, pi)
    L = surrogate(mdp, pi, pi_new)

    # PDL: eta(pi~) = eta(pi) + sum_s rho_pi~(s) sum_a pi~(a|s) A_pi(s, a)
    pdl = eta_old + float(visitation(mdp, pi_new) @ expected_advantage(mdp, pi, pi_new))
    claims["performance difference lemma"].add(-abs(eta_new - pdl), eta_new, rtol)
    claims["L_pi(pi) = eta(pi)"].add(-abs(surrogate(mdp, pi, pi) - eta_old), eta_old, rtol)

    g_eta, g_L = autograd_gradients(mdp, np.log(pi))
    scale = float(np.max(np.abs(g_eta)))
    claims["grad L = grad eta at pi_0 (autograd)"].add(-float(np.max(np.abs(g_eta - g_L))), scale, rtol)

    # alpha-coupling step (TRPO App. A, Lemma 2): |Abar(s)| <= 2 alpha max_{s,a} |A_pi(s, a)|.
    # the "Monotonic Improvement" post drops the absolute value on Abar and writes max_a; both signs are bounded.
    alpha = tv_max(pi, pi_new)
    eps = float(np.max(np.abs(A)))
    abar = float(np.max(np.abs(expected_advantage(mdp, pi, pi_new))))
    claims["|Abar(s)| <= 2 alpha max|A| (coupling)"].add(
        2 * alpha * eps - abar, eps, rtol, abar / (2 * alpha * eps) if alpha * eps > 0 else None
    )

    def bound(name: str, b: float) -> None:
        penalty = L - b
        claims[name].add(eta_new - b, max(abs(eta_new), abs(L)), rtol,
                         abs(eta_new - L) / penalty if penalty > 0 else None)

    bound("MIGT, TV form", bounds.migt_bound(mdp, pi, pi_new))
    bound("MIGT, intermediate form", bounds.migt_bound_tight(mdp, pi, pi_new))
    bound("MIGT, KL form", bounds.migt_bound_kl(mdp, pi, pi_new))

    # CPI: a mixture with a greedy or a random pi', alpha small for near pairs
    pi_prime = pi_new if rng.random() < 0.5 else (np.eye(mdp.n_actions)[np.argmax(A, axis=1)])
    a = float(rng.uniform(0, {"near": 0.05, "mid": 0.3}.get(kind, 1.0)))
    mix = bounds.cpi_mixture(pi, pi_prime, a)
    L_mix, eta_mix = surrogate(mdp, pi, mix), eta(mdp, mix)
    b = bounds.cpi_bound(mdp, pi, pi_prime, a)
    penalty = L_mix - b
    claims["CPI mixture bound"].add(
        eta_mix - b, max(abs(eta_mix), abs(L_mix)), rtol, abs(eta_mix - L_mix) / penalty if penalty > 0 else None
    )


def _check_algorithm1(mdp, pi0, iters, claims, rtol) -> None:
    claim = claims["Algorithm 1 monotone"]
    pi = pi0
    for _ in range(iters):
        new = algorithm1_step(mdp, pi)
        e_old, e_new = eta(mdp, pi), eta(mdp, new)
        guaranteed = algorithm1_objective(mdp, pi, new) - e_old  # M_i(pi_{i+1}) - M_i(pi_i)
        gained = e_new - e_old
        claim.add(gained, e_new, rtol, guaranteed / gained if gained > 0 else None)
        pi = new


# -- presentation -----------------------------------------------------------------------


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    if x == 0:
        return "0"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def _rows(report: CheckReport) -> list[list[str]]:
    return [
        [r.name, r.source, str(r.trials), str(r.violations), _fmt(r.worst_slack), _fmt(r.median_tightness),
         "ok" if r.ok else "VIOLATED"]
        for r in report.results
    ]


HEADERS = ["claim", "source", "trials", "violations", "worst slack", "median tightness", "status"]


def format_report(report: CheckReport) -> str:
    """Plain-text table (used when ``rich`` is not importable, and in tests)."""
    rows = [HEADERS, *_rows(report)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    s = report.settings
    head = (
        f"trpo theory check: {s['mdps']} MDPs x {s['pairs_per_mdp']} policy pairs, S={s['states']}, "
        f"A={s['actions']}, gamma={s['gamma']}, seed={s['seed']}, rtol={s['rtol']:g}"
    )
    verdict = "all claims hold" if report.ok else "SOME CLAIMS VIOLATED"
    return "\n".join([head, *lines, verdict])


def print_report(report: CheckReport) -> None:
    """Print with ``rich`` when available, plain text otherwise."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency, but keep the lab standalone
        print(format_report(report))
        return
    s = report.settings
    table = Table(
        title=(
            f"trpo theory check — {s['mdps']} MDPs × {s['pairs_per_mdp']} pairs, S={s['states']}, "
            f"A={s['actions']}, γ={s['gamma']}, seed={s['seed']}, rtol={s['rtol']:g}"
        )
    )
    for h in HEADERS:
        table.add_column(h, justify="left" if h in ("claim", "source") else "right")
    for row, r in zip(_rows(report), report.results):
        row[-1] = "[green]ok[/green]" if r.ok else "[bold red]VIOLATED[/bold red]"
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)
    console.print("[green]all claims hold[/green]" if report.ok else "[bold red]SOME CLAIMS VIOLATED[/bold red]")
