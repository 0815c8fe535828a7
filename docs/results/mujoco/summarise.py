"""Build docs/results/mujoco.md from the runs of docs/results/mujoco/run.sh.

    python docs/results/mujoco/summarise.py runs/mujoco

Copies each run's config.toml, summary.json and metrics.csv into benchmarks/records/pre-harness/mujoco/raw/ENV_sSEED/
(the raw results the page cites), writes the table (final deterministic evaluation, mean ± std over
seeds and per seed, next to the best published TRPO), one figure of evaluation curves with bands
over seeds (docs/results/mujoco/curves.png), the Hopper figure for the README, and per-env debugging
pages with `trpo report` (docs/results/mujoco/report/).

Since 2026-12-06 the page's tables are generated blocks (`make results`, benchmarks/pages.py, from
raw/); this script no longer writes mujoco.md (its template, mujoco.md.in, would drop the held-out
section): it copies the raw files, writes table.md and the figures, and prints the page it made.
"""
from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

import numpy as np

from trpo.system import cpu_model

HERE = Path(__file__).resolve().parent
ENVS = ["Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Swimmer-v5", "Ant-v5"]
# the best published TRPO at 1M steps (mean final return) and where it comes from
PUBLISHED = {
    "Hopper-v5": (3372, "± 215, 3 seeds", "sb3-contrib docs (v3), RL-Zoo settings"),
    "Walker2d-v5": (4502, "± 234, 3 seeds", "sb3-contrib docs, RL-Zoo settings"),
    "HalfCheetah-v5": (4471, "± 805, 10 seeds, best point of the mean curve", "Tianshou examples/mujoco"),
    "Swimmer-v5": (359, "± 2, 3 seeds", "sb3-contrib docs, RL-Zoo settings"),
    "Ant-v5": (3554, "± 591, 3 seeds", "sb3-contrib docs, RL-Zoo settings"),
}
OTHERS = {
    "Hopper-v5": "RL-Zoo 1 run 3,618; Tianshou 2,046; baselines 1,913",
    "Walker2d-v5": "RL-Zoo 1 run 4,933; Tianshou 3,827; baselines 2,343",
    "HalfCheetah-v5": "sb3-contrib 1,803; baselines 1,290",
    "Swimmer-v5": "RL-Zoo 366; baselines 95; Tianshou 41",
    "Ant-v5": "RL-Zoo 1 run 4,982; Tianshou 2,867",
}


RESULTS = HERE.parents[2] / "benchmarks" / "results"


def peer_finals(env: str) -> dict[int, tuple[float, str]]:
    """sb3-contrib's TRPO (RL-Zoo settings) run here by benchmarks/bench_trpo.py to 1M steps:
    {seed: (final deterministic evaluation, raw file)}, the newest complete run per seed."""
    out = {}
    for f in sorted(RESULTS.glob(f"{env}-1000000-*.json")):  # names end in the time: newest last
        d = json.loads(f.read_text())
        if not d.get("complete"):
            continue
        for r in d["runs"]:
            if r.get("impl") == "sb3-contrib" and r.get("final_eval_return") is not None:
                out[r["seed"]] = (r["final_eval_return"], f.name)
    return out


def peer_table(ours: dict) -> str:
    lines = ["| env | sb3-contrib run here: mean ± std (final eval, 1M steps) | seeds | per seed | ours, same seeds "
             "| raw (benchmarks/results/) |", "|---|---:|---:|---|---:|---|"]
    for env in ENVS:
        peer = peer_finals(env)
        if not peer:
            continue
        seeds = sorted(peer)
        v = np.array([peer[s][0] for s in seeds])
        spread = f" ± {v.std(ddof=1):,.0f}" if len(v) > 1 else " (one seed: no spread)"
        mine = {s["seed"]: s["final_eval_return_mean"] for s in ours.get(env, [])}
        same = f"{np.mean([mine[s] for s in seeds]):,.0f}" if all(s in mine for s in seeds) else "-"
        files = ", ".join(f"[s{s}](../../benchmarks/results/{peer[s][1]})" for s in seeds)
        lines.append(f"| {env} | **{v.mean():,.0f}**{spread} | {len(v)} | "
                     f"{', '.join(f'{x:,.0f}' for x in v)} | "
                     f"{same} | {files} |")
    return "\n".join(lines) if len(lines) > 2 else "(none run)"


def eval_curve(run: Path) -> tuple[np.ndarray, np.ndarray]:
    import csv

    rows = [r for r in csv.DictReader(open(run / "metrics.csv")) if r.get("eval_return_mean")]
    return (np.array([float(r["env_steps"]) for r in rows]), np.array([float(r["eval_return_mean"]) for r in rows]))


def main(runs_dir: str) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs_dir = Path(runs_dir)
    raw = HERE.parents[2] / "benchmarks" / "records" / "pre-harness" / "mujoco" / "raw"  # kept out of docs/
    table, curves = {}, {}
    for env in ENVS:
        for run in sorted(runs_dir.glob(f"{env}_s*")):
            if not (run / "summary.json").exists():
                continue
            s = json.loads((run / "summary.json").read_text())
            if s.get("interrupted") or s.get("final_eval_return_mean") is None:
                continue
            dest = raw / run.name
            dest.mkdir(parents=True, exist_ok=True)
            for f in ("config.toml", "summary.json", "metrics.csv"):
                shutil.copy(run / f, dest / f)
            table.setdefault(env, []).append(s)
            curves.setdefault(env, []).append(eval_curve(run))

    lines = ["| env | ours: mean ± std (final eval, 1M steps) | seeds | per seed | best published TRPO | verdict | "
             "wall time per run (s) |", "|---|---:|---:|---|---:|---|---:|"]
    verdicts = {}
    for env in ENVS:
        if env not in table:
            lines.append(f"| {env} | not run | 0 | | {PUBLISHED[env][0]:,} | | |")
            continue
        finals = np.array([s["final_eval_return_mean"] for s in sorted(table[env], key=lambda s: s["seed"])])
        mean, std = finals.mean(), finals.std(ddof=1) if len(finals) > 1 else 0.0
        pub = PUBLISHED[env][0]
        gap = mean - pub
        verdict = "at or above" if gap >= 0 else f"below by {-gap:,.0f} ({-gap / pub:.0%})"
        verdicts[env] = (mean, std, len(finals), verdict)
        per = ", ".join(f"{v:,.0f}" for v in finals)
        wall = np.mean([s["wall_s"] for s in table[env]])
        lines.append(f"| {env} | **{mean:,.0f} ± {std:,.0f}** | {len(finals)} | {per} | {pub:,} "
                     f"({PUBLISHED[env][1]}; {PUBLISHED[env][2]}) | {verdict} | {wall:,.0f} |")
    (HERE / "table.md").write_text("\n".join(lines) + "\n")

    fig, axes = plt.subplots(1, len(ENVS), figsize=(4.0 * len(ENVS), 3.4), dpi=110)
    for ax, env in zip(axes, ENVS):
        if env in curves:
            grid = np.linspace(0, 1_000_000, 101)
            Y = np.stack([np.interp(grid, x, y, left=np.nan, right=y[-1]) for x, y in curves[env]])
            m = np.nanmean(Y, 0)
            ax.plot(grid, m, color="C0", lw=1.8, label=f"trpo (mean of {len(Y)} seeds)")
            ax.fill_between(grid, np.nanmin(Y, 0), np.nanmax(Y, 0), color="C0", alpha=0.2, lw=0, label="min-max")
        ax.axhline(PUBLISHED[env][0], color="k", ls="--", lw=1, label="best published TRPO (1M)")
        ax.set_title(env)
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("deterministic evaluation return")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(HERE / "curves.png")
    plt.close(fig)

    if "Hopper-v5" in curves:
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
        grid = np.linspace(0, 1_000_000, 101)
        Y = np.stack([np.interp(grid, x, y, left=np.nan, right=y[-1]) for x, y in curves["Hopper-v5"]])
        for y in Y:
            ax.plot(grid, y, color="C0", alpha=0.25, lw=0.8)
        ax.plot(grid, np.nanmean(Y, 0), color="C0", lw=2, label=f"trpo, mean of {len(Y)} seeds (thin: each seed)")
        ax.axhline(PUBLISHED["Hopper-v5"][0], color="k", ls="--", lw=1, label="sb3-contrib TRPO at 1M (3 seeds)")
        ax.set(xlabel="env steps", ylabel="deterministic evaluation return", title="Hopper-v5, trpo train Hopper-v5")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(HERE / "hopper.png")
        plt.close(fig)

    from trpo.tools.report import make_report

    dirs = [raw / r.name for env in ENVS for r in sorted(runs_dir.glob(f"{env}_s*")) if (raw / r.name).exists()]
    if dirs:
        make_report(dirs, HERE / "report")
    (HERE / "machine.json").write_text(json.dumps({"cpu": cpu_model(), "python": platform.python_version(),
                                                   "runs": sum(len(v) for v in table.values())}, indent=2) + "\n")
    sentences = []
    for env in ENVS:
        if env not in verdicts:
            sentences.append(f"* **{env}**: not run.")
            continue
        m, sd, n, v = verdicts[env]
        pub = PUBLISHED[env][0]
        sentences.append(f"* **{env}**: {m:,.0f} ± {sd:,.0f} over {n} seeds against {pub:,} "
                         f"({PUBLISHED[env][2]}): {v}.")
    template = (HERE.parent / "mujoco.md.in").read_text()
    page = (template.replace("@TABLE@", "\n".join(lines)).replace("@VERDICTS@", "\n".join(sentences))
            .replace("@PEER@", peer_table(table))
            .replace("@MACHINE@", cpu_model()))
    (HERE / "page.md").write_text(page)  # not mujoco.md: its blocks are make results's
    print((HERE / "table.md").read_text())
    for env, (m, s, n, v) in verdicts.items():
        print(f"{env}: {m:,.0f} ± {s:,.0f} over {n} seeds, {v} the best published TRPO")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "runs/mujoco"))
