"""Learning curves from run directories (matplotlib, Agg backend: works without a display)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from trpo.tools.curves import read_metrics


def plot_runs(run_dirs: list[str | Path], out: str | Path, y: str = "episode_return_mean",
              x: str = "env_steps", title: str | None = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for rd in run_dirs:
        m = read_metrics(rd)
        if x not in m or y not in m:
            from trpo.errors import TrpoError
            raise TrpoError(f"{rd}/metrics.csv has no '{x}' or '{y}' column")
        ax.plot(np.asarray(m[x]), np.asarray(m[y]), label=Path(rd).name, lw=1.5)
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if len(run_dirs) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
