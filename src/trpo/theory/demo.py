"""Figures for ``docs/theory.md`` (``trpo theory demo -o DIR``).

Matplotlib is used object-oriented (``matplotlib.figure.Figure``, rendered by Agg), so the
caller's pyplot backend and global state are left alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import bounds
from .algorithms import (
    algorithm1,
    algorithm1_objective,
    algorithm1_step,
    cpi,
    exact_npg,
    exact_trpo,
    natural_direction,
    policy_iteration,
    softmax,
)
from .check import PAIR_KINDS, policy_pair
from .divergences import kl_max, tv_max
from .mdp import TabularMDP, advantages, eta, greedy, optimal_value, random_policy, surrogate

__all__ = ["make_figures", "demo_mdp"]

COLORS = {
    "eta": "black",
    "L": "tab:blue",
    "migt": "tab:red",
    "tight": "tab:orange",
    "kl": "tab:purple",
    "cpi": "tab:green",
}


def demo_mdp(seed: int = 0) -> TabularMDP:
    """The MDP of the figures: 8 states, 3 actions, gamma = 0.9."""
    return TabularMDP.random(8, 3, gamma=0.9, seed=seed)


def _figure(ncols: int = 1, width: float = 6.0, height: float = 4.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, np.atleast_1d(axes)


def learning_curves(mdp: TabularMDP, path: Path, iters: int = 100) -> dict[str, np.ndarray]:
    """eta over iterations for Algorithm 1, PI, exact TRPO, NPG and CPI from the uniform policy."""
    pi0 = mdp.uniform_policy()
    eta_star = float(mdp.rho0 @ optimal_value(mdp))
    traces = [
        algorithm1(mdp, pi0, iters),
        policy_iteration(mdp, pi0, iters),
        exact_trpo(mdp, pi0, iters, delta=0.01),
        exact_npg(mdp, pi0, iters, step_size=0.1),
        cpi(mdp, pi0, iters),
    ]
    labels = ["Algorithm 1 (exact, C from Thm 1)", "policy iteration", "exact TRPO, mean KL ≤ 0.01",
              "exact NPG, step 0.1", "CPI (α maximises eq. 6)"]
    fig, (ax, ax_log) = _figure(2)
    it = np.arange(iters + 1)
    for tr, label in zip(traces, labels):
        e = np.asarray(tr)
        ax.plot(it, e, marker="." if iters <= 30 else None, label=label)
        ax_log.semilogy(it, np.maximum(eta_star - e, 1e-15), label=label)
    ax.axhline(eta_star, color="gray", ls="--", lw=1, label="η* (value iteration)")
    ax.set(xlabel="iteration i", ylabel="η(π_i)", title="Expected return (exact)")
    ax_log.set(xlabel="iteration i", ylabel="η* − η(π_i)", title="Suboptimality (log scale)")
    ax.legend(fontsize=8)
    fig.suptitle(f"Random MDP: S={mdp.n_states}, A={mdp.n_actions}, γ={mdp.gamma}, π_0 uniform")
    fig.savefig(path, dpi=110)
    return {tr.name: np.asarray(tr) for tr in traces} | {"eta*": np.array([eta_star])}


def bounds_along_mixture(mdp: TabularMDP, path: Path, rng: np.random.Generator) -> dict[str, float]:
    """eta, L and every lower bound along ``pi_a = (1 - a) pi_old + a greedy(A_old)``, a in [0, 1]."""
    pi_old = random_policy(mdp.n_states, mdp.n_actions, rng)
    pi_prime = greedy(advantages(mdp, pi_old))

    def along(grid):
        """eta, L and every bound at the mixtures (1 - a) pi_old + a pi' for a in grid."""
        curves: dict[str, list[float]] = {k: [] for k in ("eta", "L", "migt", "tight", "kl", "cpi")}
        for a in grid:
            pi = bounds.cpi_mixture(pi_old, pi_prime, a)
            curves["eta"].append(eta(mdp, pi))
            curves["L"].append(surrogate(mdp, pi_old, pi))
            curves["migt"].append(bounds.migt_bound(mdp, pi_old, pi))
            curves["tight"].append(bounds.migt_bound_tight(mdp, pi_old, pi))
            curves["kl"].append(bounds.migt_bound_kl(mdp, pi_old, pi))
            curves["cpi"].append(bounds.cpi_bound(mdp, pi_old, pi_prime, a))
        return {k: np.array(v) for k, v in curves.items()}

    grid = np.linspace(0.0, 1.0, 201)
    c = along(grid)
    labels = {"eta": "η(π_a) (true)", "L": "L_πold(π_a)", "migt": "MIGT, TV (eq. 8)",
              "tight": "MIGT, intermediate", "kl": "MIGT, KL (eq. 9)", "cpi": "CPI (eq. 6)"}
    eta0 = c["eta"][0]
    fig, (ax, zoom) = _figure(2)
    for k in c:
        ax.plot(grid, c[k], color=COLORS[k], label=labels[k], lw=2 if k == "eta" else 1.3)
    lo = min(c["eta"].min(), eta0) - 0.5 * (c["L"].max() - eta0)
    ax.set_ylim(lo, max(c["L"].max(), c["eta"].max()) + 0.1 * abs(c["L"].max() - lo))
    ax.set(xlabel="mixture weight a", ylabel="return", title="Whole segment π_old → greedy(A_old)")
    ax.legend(fontsize=8, loc="upper left")
    # zoom on the region where some bound guarantees improvement
    best_cpi = int(np.argmax(c["cpi"]))
    a_max = min(1.0, max(4 * grid[best_cpi], 0.02))
    fine = np.linspace(0, a_max, 201)
    cz = along(fine)
    for k in cz:
        zoom.plot(fine, cz[k], color=COLORS[k], label=labels[k], lw=2 if k == "eta" else 1.3)
    zoom.axhline(eta0, color="gray", ls=":", lw=1, label="η(π_old)")
    span = max(cz["eta"]) - eta0
    zoom.set_ylim(eta0 - 1.5 * span, eta0 + 1.3 * span)
    zoom.set(xlabel="mixture weight a", title=f"Zoom: a ≤ {a_max:.3g} (bounds above the dotted line = guaranteed gain)")
    fig.suptitle("Lower bounds on η along a mixture line (exact values)")
    fig.savefig(path, dpi=110)
    return {
        "eta_old": float(eta0),
        "cpi_best_a": float(grid[best_cpi]),
        "cpi_best_bound_gain": float(c["cpi"][best_cpi] - eta0),
        "true_gain_at_cpi_best": float(c["eta"][best_cpi] - eta0),
        "eta_greedy": float(c["eta"][-1]),
        "L_greedy": float(c["L"][-1]),
        "migt_greedy": float(c["migt"][-1]),
    }


def eta_vs_L_theta(mdp: TabularMDP, path: Path, rng: np.random.Generator) -> dict[str, float]:
    """The lecture's "eta vs L_pi" picture, computed: a 1-D softmax family ``theta_0 + tau x``.

    ``x`` is the (normalised) natural direction.  ``L`` is tangent to ``eta`` at ``tau = 0``
    (TRPO eq. 4); ``M = L - C D_KL^max`` lies below ``eta`` everywhere (eq. 9).
    """
    pi0 = random_policy(mdp.n_states, mdp.n_actions, rng)
    theta0 = np.log(pi0)
    x, _ = natural_direction(mdp, theta0)
    x /= np.max(np.abs(x))
    C = bounds.penalty_coefficient(mdp, pi0)

    def curves(axis, taus: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """eta, L and M = L - C KL_max at theta_0 + tau x for every tau, drawn on ``axis``."""
        es: list[float] = []
        Ls: list[float] = []
        Ms: list[float] = []
        for tau in taus:
            pi = softmax(theta0 + tau * x)
            es.append(eta(mdp, pi))
            Ls.append(surrogate(mdp, pi0, pi))
            Ms.append(Ls[-1] - C * kl_max(pi0, pi))
        e, L, M = np.array(es), np.array(Ls), np.array(Ms)
        axis.plot(taus, e, color=COLORS["eta"], lw=2, label="η(π_θ)")
        axis.plot(taus, L, color=COLORS["L"], label="L_π0(π_θ)")
        axis.plot(taus, M, color=COLORS["kl"], label="M(π_θ) = L − C·KL_max")
        axis.axvline(0.0, color="gray", ls=":", lw=1)
        return e, L, M

    fig, (ax, zoom) = _figure(2)
    e, L, M = curves(ax, np.linspace(-3.0, 3.0, 241))
    ax.set(xlabel="τ  (θ = θ_0 + τ x, x ∝ natural gradient)")
    ax.set_ylim(min(e.min(), L.min()) - 0.2 * np.ptp(e), max(e.max(), L.max()) + 0.2 * np.ptp(e))
    ax.set(ylabel="return", title="η and its local approximation L")
    ax.legend(fontsize=8)
    w = 0.05
    curves(zoom, np.linspace(-w, w, 201))
    zoom.set(xlabel="τ", title=f"Zoom |τ| ≤ {w}: L tangent to η, M ≤ η, C = {C:.3g}")
    fig.suptitle("A one-parameter softmax family through π_0 (exact values)")
    fig.savefig(path, dpi=110)
    h = 1e-5
    de = (eta(mdp, softmax(theta0 + h * x)) - eta(mdp, softmax(theta0 - h * x))) / (2 * h)
    dL = (surrogate(mdp, pi0, softmax(theta0 + h * x)) - surrogate(mdp, pi0, softmax(theta0 - h * x))) / (2 * h)
    return {"C": C, "d_eta_dtau": de, "d_L_dtau": dL, "max_M_minus_eta": float(np.max(M - e))}


def minorization(mdp: TabularMDP, path: Path, rng: np.random.Generator) -> dict[str, float]:
    """One step of Algorithm 1 as minorisation-maximisation along the line ``pi_i -> pi_{i+1}``."""
    pi_i = random_policy(mdp.n_states, mdp.n_actions, rng)
    C = bounds.penalty_coefficient(mdp, pi_i)
    pi_next = algorithm1_step(mdp, pi_i, C)
    d = pi_next - pi_i
    # the largest extension of the line that stays inside the simplex
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(d < 0, -pi_i / d, np.inf).min()
        down = np.where(d > 0, pi_i / d, np.inf).min()
    s_grid = np.linspace(-min(down, 2.0) * 0.999, min(up, 3.0) * 0.999, 301)
    es: list[float] = []
    Ms: list[float] = []
    Ls: list[float] = []
    for s in s_grid:
        pi = pi_i + s * d
        es.append(eta(mdp, pi))
        Ls.append(surrogate(mdp, pi_i, pi))
        Ms.append(algorithm1_objective(mdp, pi_i, pi, C))
    e, M, L = map(np.array, (es, Ms, Ls))
    fig, (ax,) = _figure(1, width=6.5)
    ax.plot(s_grid, e, color=COLORS["eta"], lw=2, label="η(π)")
    ax.plot(s_grid, L, color=COLORS["L"], label="L_πi(π)")
    ax.plot(s_grid, M, color=COLORS["kl"], label="M_i(π) = L_πi(π) − C·KL_max(π_i, π)")
    ax.plot([0], [eta(mdp, pi_i)], "o", color="gray", label="π_i: M_i = η")
    ax.plot([1], [algorithm1_objective(mdp, pi_i, pi_next, C)], "s", color=COLORS["kl"], label="π_{i+1} = argmax M_i")
    ax.plot([1], [eta(mdp, pi_next)], "^", color=COLORS["eta"], label="η(π_{i+1})")
    spread = np.ptp(e)
    ax.set_ylim(e.min() - 0.6 * spread, e.max() + 0.3 * spread)
    ax.set(xlabel="s  (π = π_i + s (π_{i+1} − π_i))", ylabel="return",
           title=f"Algorithm 1 step as minorisation–maximisation (C = {C:.3g})")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return {
        "C": C,
        "eta_i": eta(mdp, pi_i),
        "M_next": algorithm1_objective(mdp, pi_i, pi_next, C),
        "eta_next": eta(mdp, pi_next),
        "kl_max_step": kl_max(pi_i, pi_next),
        "argmax_s_on_grid": float(s_grid[np.argmax(M)]),
    }


def tightness(path: Path, rng: np.random.Generator, n_mdps: int = 40, gamma: float = 0.9) -> dict[str, float]:
    """How loose is Theorem 1?  ``|eta - L|`` against ``alpha = D_TV^max`` over random pairs."""
    alpha_l: list[float] = []
    gap_l: list[float] = []
    pen_l: list[float] = []
    pen_tight_l: list[float] = []
    for m in range(n_mdps):
        mdp = TabularMDP.random(5, 3, gamma, rng, concentration=(1.0, 0.1)[m % 2])
        for kind in PAIR_KINDS * 2:
            pi, pi_new = policy_pair(mdp, kind, rng)
            L = surrogate(mdp, pi, pi_new)
            alpha_l.append(tv_max(pi, pi_new))
            gap_l.append(abs(eta(mdp, pi_new) - L))
            pen_l.append(bounds.migt_penalty(mdp, pi, pi_new))
            pen_tight_l.append(bounds.migt_penalty_tight(mdp, pi, pi_new))
    alphas, gaps, pens, pens_tight = map(np.array, (alpha_l, gap_l, pen_l, pen_tight_l))
    ratio = gaps / pens
    fig, (ax, ax2) = _figure(2)
    ax.loglog(alphas, pens, ".", color=COLORS["migt"], ms=4, label="penalty 4εγα²/(1−γ)²")
    ax.loglog(alphas, gaps, ".", color=COLORS["eta"], ms=4, label="true |η(π̃) − L_π(π̃)|")
    ax.set(xlabel="α = D_TV^max(π, π̃)", ylabel="size", title=f"{alphas.size} random pairs, γ={gamma}")
    ax.legend(fontsize=8)
    ax2.loglog(alphas, ratio, ".", color=COLORS["migt"], ms=4, label="|η − L| / TV penalty")
    ax2.loglog(alphas, gaps / pens_tight, ".", color=COLORS["tight"], ms=4, label="|η − L| / intermediate penalty")
    ax2.axhline(1.0, color="gray", ls="--", lw=1)
    ax2.set(xlabel="α", ylabel="tightness (1 = bound attained)", title="Share of the penalty actually used")
    ax2.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return {"pairs": float(alphas.size), "max_ratio": float(ratio.max()), "median_ratio": float(np.median(ratio)),
            "max_ratio_tight": float(np.max(gaps / pens_tight))}


def make_figures(
    output: str | Path, seed: int = 0, *, iters: int = 100, tightness_mdps: int = 40, verbose: bool = True
) -> list[Path]:
    """Write every figure into ``output``; return their paths (and print the key numbers).

    ``iters`` (learning curves) and ``tightness_mdps`` only exist to make quick test runs.
    """
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    mdp = demo_mdp(seed)
    paths = {name: out / f"{name}.png" for name in
             ("learning_curves", "bounds_along_mixture", "eta_vs_L", "algorithm1_mm", "bound_tightness")}
    numbers: dict[str, object] = {}
    curves = learning_curves(mdp, paths["learning_curves"], iters=iters)
    numbers["learning_curves"] = {
        k: (np.round(v[[i for i in (0, 1, 5, 10, 20, 50) if i < v.size] + [-1]], 6).tolist() if v.size > 1
            else float(v[0]))
        for k, v in curves.items()}
    numbers["bounds_along_mixture"] = bounds_along_mixture(mdp, paths["bounds_along_mixture"], rng)
    numbers["eta_vs_L"] = eta_vs_L_theta(mdp, paths["eta_vs_L"], rng)
    numbers["algorithm1_mm"] = minorization(mdp, paths["algorithm1_mm"], rng)
    numbers["bound_tightness"] = tightness(paths["bound_tightness"], rng, n_mdps=tightness_mdps)
    if verbose:
        for name, values in numbers.items():
            print(f"# {name}: {values}")
    return list(paths.values())
