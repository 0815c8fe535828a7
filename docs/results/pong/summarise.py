"""The Pong figure of docs/results/pong.md from a run directory of `trpo train ALE/Pong-v5`.

    python docs/results/pong/summarise.py runs/pong/Pong_trpo_s0

Copies the run's config.toml, metrics.csv and summary.json (if any) into benchmarks/records/pre-harness/pong/raw/
and draws the training return (the mean of the episodes each batch ended; Pong's episodes last
~800-3,000 steps, so a batch of 4,096 steps ends a few of them) against env steps, with its
running mean over 25 batches, and the policy's entropy.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main(run: str) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    src = Path(run)
    raw = HERE.parents[2] / "benchmarks" / "records" / "pre-harness" / "pong" / "raw"  # kept out of docs/
    raw.mkdir(parents=True, exist_ok=True)
    for name in ("config.toml", "metrics.csv", "summary.json"):
        if (src / name).exists():
            shutil.copy(src / name, raw / name)
    m = np.genfromtxt(raw / "metrics.csv", delimiter=",", names=True)
    steps, ret, ent = m["env_steps"], m["episode_return_mean"], m["entropy"]
    ok = np.isfinite(ret)
    k = max(1, min(25, int(ok.sum())))
    smooth = np.convolve(ret[ok], np.ones(k) / k, mode="valid")
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    a.plot(steps[ok], ret[ok], ".", ms=2, alpha=0.4, label="per batch")
    a.plot(steps[ok][k - 1:], smooth, lw=2, label=f"running mean of {k} batches")
    a.axhline(-21, color="k", ls=":", lw=1, label="-21: losing every point")
    a.set(xlabel="env steps", ylabel="training return", title="TRPO on ALE/Pong-v5 (atari preset), seed 0")
    a.legend(fontsize=8)
    b.plot(steps, ent, lw=1)
    b.axhline(np.log(6), color="k", ls=":", lw=1, label="log 6: uniform over Pong's 6 actions")
    b.set(xlabel="env steps", ylabel="policy entropy (nats)")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "curve.png", dpi=110)
    last = ret[ok][-k:] if ok.sum() >= k else ret[ok]
    print(f"{int(steps[-1]):,} env steps in {m['wall_s'][-1]:.0f} s; training return: first {k} batches "
          f"{ret[ok][:k].mean():.2f}, last {len(last)} {last.mean():.2f}, best running mean {smooth.max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
