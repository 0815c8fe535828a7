"""Table and curves for docs/results/vine_compare.sh: python docs/results/vine_table.py RUNS_DIR [OUT_DIR]."""
import json
import sys
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from trpo.tools.curves import read_metrics  # noqa: E402

runs = Path(sys.argv[1])
out = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/results")
envs, samplers = ["CartPole-v1", "Hopper-v5"], ["single-path", "vine"]
rows = ["| env | sampler | env steps (min-max over seeds) | final eval return (mean ± std over seeds) | per seed | wall s (mean) |",
        "|---|---|---|---|---|---|"]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, env in zip(axes, envs):
    for sampler in samplers:
        dirs = sorted(runs.glob(f"{env}_{sampler}_s*"))
        sums = [json.loads((d / "summary.json").read_text()) for d in dirs if (d / "summary.json").exists()]
        if not sums:
            continue
        finals = [s["final_eval_return_mean"] for s in sums]
        rows.append(f"| {env} | {sampler} | {min(s['total_steps'] for s in sums):,}-{max(s['total_steps'] for s in sums):,} | {np.mean(finals):.1f} ± {np.std(finals):.1f} "
                    f"| {', '.join(f'{f:.1f}' for f in finals)} | {np.mean([s['wall_s'] for s in sums]):.0f} |")
        grid = np.linspace(0, max(s["total_steps"] for s in sums), 100)
        curves = []
        for d in dirs:
            m = read_metrics(d)
            x, y = np.asarray(m["env_steps"]), np.asarray(m["episode_return_mean"])
            ok = np.isfinite(y)
            curves.append(np.interp(grid, x[ok], y[ok], left=np.nan))
        c = np.array(curves)
        mean = np.nanmean(c, 0)
        ax.plot(grid, mean, label=f"{sampler} ({len(curves)} seeds)")
        with np.errstate(all="ignore"):
            ax.fill_between(grid, np.nanmin(c, 0), np.nanmax(c, 0), alpha=0.2)  # min-max band
    ax.set_title(env)
    ax.set_xlabel("env steps (all simulated steps, vine branches included)")
    ax.set_ylabel("training episode return")
    ax.legend()
fig.tight_layout()
fig.savefig(out / "vine_curves.png", dpi=100)
(out / "vine_table.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
