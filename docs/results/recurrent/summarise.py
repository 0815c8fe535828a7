"""Figure and tables of docs/results/recurrent.md from the raw files of docs/results/recurrent/run.sh.

    python docs/results/recurrent/summarise.py benchmarks/results/trpo_CartPoleNoVelocity-v1-300000-*.json \
        benchmarks/results/trpo_PendulumNoVelocity-v1-300000-*.json

Writes docs/results/recurrent/curves.png (periodic deterministic evaluations, 10 episodes: each seed
thin, the mean over seeds thick, for recurrent TRPO, our MLP policy and RecurrentPPO) and
docs/results/recurrent/tables.md (per env and side: best and final evaluations, steps to the
threshold, steps/s and its ratio to the peer's in the same command).
"""
from __future__ import annotations

import json
import statistics as st
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SIDES = [("ours", "trpo, policy = gru", "C0"), ("ours-mlp", "trpo, policy = mlp", "C7"),
         ("sb3-contrib", "sb3-contrib RecurrentPPO (RL-Zoo)", "C3")]


def main(paths: list[str]) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [json.loads(Path(p).read_text()) for p in paths]
    fig, axes = plt.subplots(1, len(data), figsize=(6.2 * len(data), 3.8), dpi=110, squeeze=False)
    out = []
    for ax, d in zip(axes[0], data):
        env, thr = d["env"], d["threshold"]
        out += [f"### {env}", "", f"`{d['command']}` ({d['time']}; {d['machine']['cpu']}; load average "
                f"{', '.join(f'{x:.1f}' for x in d['machine']['loadavg_at_start'])} at the start, "
                f"{', '.join(f'{x:.1f}' for x in d['machine'].get('loadavg_at_end', []))} at the end)", "",
                "| side | seeds | steps | best periodic eval (mean) | final eval (mean, per seed) | "
                f"steps to {thr:g} (per seed) | steps/s (mean) | x peer |", "|---|---:|---:|---:|---|---|---:|---:|"]
        peer_rate = st.mean(r["steps_per_s"] for r in d["runs"] if r["impl"] == "sb3-contrib")
        for impl, label, color in SIDES:
            runs = [r for r in d["runs"] if r["impl"] == impl]
            if not runs:
                continue
            for r in runs:
                c = np.array(r["eval_curve"])
                ax.plot(c[:, 0], c[:, 2], color=color, lw=0.7, alpha=0.35)
            grid = np.linspace(0, max(r["eval_curve"][-1][0] for r in runs), 61)
            Y = np.stack([np.interp(grid, np.array(r["eval_curve"])[:, 0], np.array(r["eval_curve"])[:, 2],
                                    left=np.nan, right=np.nan) for r in runs])
            ax.plot(grid, np.nanmean(Y, 0), color=color, lw=2, label=f"{label} ({len(runs)} seeds)")
            best = st.mean(max(c[2] for c in r["eval_curve"]) for r in runs)
            finals = [r["final_eval_return"] for r in runs]
            reach = [next((c[0] for c in r["eval_curve"] if c[2] >= thr), None) for r in runs]
            out.append(f"| {label} | {len(runs)} | {runs[0]['steps']:,} | {best:.0f} | {st.mean(finals):.0f} "
                       f"({', '.join(f'{f:.0f}' for f in finals)}) | "
                       f"{', '.join('-' if x is None else f'{x:,}' for x in reach)} | "
                       f"{st.mean(r['steps_per_s'] for r in runs):,.0f} | "
                       f"{st.mean(r['steps_per_s'] for r in runs) / peer_rate:.1f} |")
        out.append("")
        ax.axhline(thr, color="k", ls="--", lw=1, label=f"threshold {thr:g}")
        ax.set(title=env, xlabel="env steps", ylabel="deterministic evaluation (10 episodes)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(HERE / "curves.png")
    (HERE / "tables.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
