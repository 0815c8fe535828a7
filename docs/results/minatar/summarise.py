"""Tables and curves of docs/results/minatar.md from the runs of docs/results/minatar/run.sh.

    python docs/results/minatar/summarise.py runs/minatar6
    python docs/results/minatar/summarise.py runs/minatar6_1m _1m     # raw_1m/, table_1m.md, curves_1m.png

Copies each finished run's config.toml, summary.json and metrics.csv into
benchmarks/records/pre-harness/minatar/raw/GAME_ALGO_sSEED/ (the raw results the page cites), and writes
docs/results/minatar/table.md (final deterministic evaluation, mean ± std over seeds and per seed,
best periodic evaluation, steps, wall time, steps/s) and docs/results/minatar/curves.png (periodic
evaluations, mean over seeds with a min-max band, per game and algorithm).
"""
from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GAMES = ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"]
ALGOS = ["trpo", "trpo-damping0.1", "ppo"]  # trpo-damping0.1: the minatar preset before cg_damping 0.001
# gymnax-blines PPO at 10M steps (the reference numbers of the MinAtar issue); Seaquest: none given
PPO_10M = {"Asterix": 15, "Breakout": 28, "Freeway": 58, "SpaceInvaders": 131}


def eval_curve(run: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = [r for r in csv.DictReader(open(run / "metrics.csv")) if r.get("eval_return_mean")]
    return np.array([float(r["env_steps"]) for r in rows]), np.array([float(r["eval_return_mean"]) for r in rows])


def random_return(game: str, episodes: int = 30, seed: int = 0) -> tuple[float, float]:
    """Mean and std of a uniformly random policy's return (MinAtar's sticky actions on), for scale."""
    import gymnasium as gym

    from trpo.envs.ids import lookup

    env = gym.make(lookup(f"MinAtar/{game}-v1"))
    env.action_space.seed(seed)
    out = []
    for i in range(episodes):
        env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            _, r, term, trunc, _ = env.step(env.action_space.sample())
            total += float(r)
            done = term or trunc
        out.append(total)
    env.close()
    return float(np.mean(out)), float(np.std(out))


def main(runs_dir: str, tag: str = "") -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs_dir = Path(runs_dir)
    found: dict[tuple[str, str], list[tuple[dict, Path]]] = {}
    for game in GAMES:
        for algo in ALGOS:
            for run in sorted(runs_dir.glob(f"{game}_{algo}_s*")):
                if not (run / "summary.json").exists():
                    continue
                s = json.loads((run / "summary.json").read_text())
                if s.get("interrupted") or s.get("final_eval_return_mean") is None:
                    continue
                dest = HERE.parents[2] / "benchmarks" / "records" / "pre-harness" / "minatar" / f"raw{tag}" / run.name
                dest.mkdir(parents=True, exist_ok=True)
                for f in ("config.toml", "summary.json", "metrics.csv"):
                    shutil.copy(run / f, dest / f)
                found.setdefault((game, algo), []).append((s, dest))

    lines = ["| game | algo | final eval, mean ± std | seeds | per seed | best periodic eval (mean over seeds) | "
             "steps per run | wall per run (s) | steps/s | gymnax PPO at 10M |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for game in GAMES:
        m, sd = random_return(game)
        lines.append(f"| {game} | random policy (30 episodes) | {m:.1f} ± {sd:.1f} | | | | | | | |")
        for algo in ALGOS:
            runs = sorted(found.get((game, algo), []), key=lambda x: x[0]["seed"])
            if not runs:
                continue
            finals = np.array([s["final_eval_return_mean"] for s, _ in runs])
            best = np.mean([s["best_eval_return"] for s, _ in runs])
            std = finals.std(ddof=1) if len(finals) > 1 else float("nan")
            per = ", ".join(f"{v:.1f}" for v in finals)
            steps = int(np.mean([s["total_steps"] for s, _ in runs]))
            wall = np.mean([s["wall_s"] for s, _ in runs])
            rate = np.mean([s["steps_per_s"] for s, _ in runs])
            ref = PPO_10M.get(game, "-")
            spread = f" ± {std:.1f}" if len(finals) > 1 else ""  # one seed: no spread over seeds
            lines.append(f"| {game} | {algo} | **{finals.mean():.1f}{spread}** | {len(finals)} | {per} | "
                         f"{best:.1f} | {steps:,} | {wall:.0f} | {rate:,.0f} | {ref} |")
    (HERE / f"table{tag}.md").write_text("\n".join(lines) + "\n")

    fig, axes = plt.subplots(1, len(GAMES), figsize=(3.6 * len(GAMES), 3.2), dpi=110)
    for ax, game in zip(axes, GAMES):
        for i, algo in enumerate(ALGOS):
            runs = found.get((game, algo), [])
            if not runs:
                continue
            curves = [eval_curve(d) for _, d in runs]
            top = max(x[-1] for x, _ in curves)
            grid = np.linspace(0, top, 61)
            Y = np.stack([np.interp(grid, x, y, left=np.nan, right=y[-1]) for x, y in curves])
            ax.plot(grid, np.nanmean(Y, 0), color=f"C{i}", lw=1.6, label=f"{algo} ({len(Y)} seeds)")
            ax.fill_between(grid, np.nanmin(Y, 0), np.nanmax(Y, 0), color=f"C{i}", alpha=0.2, lw=0)
        ax.set_title(f"MinAtar/{game}-v1")
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("periodic evaluation return (5 ep.)")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(HERE / f"curves{tag}.png")
    plt.close(fig)
    print((HERE / f"table{tag}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(*(sys.argv[1:] or ["runs/minatar"])))
