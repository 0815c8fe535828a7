"""Behaviour unchanged? The same configs and seeds trained by two revisions give the same metrics.csv.

    python benchmarks/same_metrics.py --base 5a4f07f            # that commit against the work tree
    python benchmarks/same_metrics.py --base HEAD~3 --steps 16384

Each revision trains trpo, npg, ppo, a2c and trpo with vine sampling on CartPole-v1 and
Pendulum-v1 (one seed), a recurrent (GRU) TRPO run, a Ray run with 2 workers, two Hopper-v5 runs
(the mujoco preset under a key given at its default; ppo with no preset) and a CNN policy (MinAtar
Breakout), each in its own subprocess, the base revision from a temporary ``git worktree`` with
this virtual environment. Every column of the base's metrics.csv but the timing ones (``wall_s``,
``fps``) must be in the work tree's and equal bit for bit (columns the work tree adds are listed),
and so must the final evaluation in summary.json. Prints one line per run and exits 1 on any
difference. Both sides run on this CPU: floating-point results differ between CPU models, so
compare revisions on one machine, never against stored files. ``--only``: a part of the runs.
"""
from __future__ import annotations

import argparse
import csv
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"wall_s", "fps"}
RUNS = [(env, algo, sampler, ()) for env in ("CartPole-v1", "Pendulum-v1")
        for algo, sampler in (("trpo", "single-path"), ("npg", "single-path"), ("ppo", "single-path"),
                              ("a2c", "single-path"), ("trpo", "vine"))]
RUNS += [
    # a recurrent policy; without the cartpole-novelocity preset (its entropy bonus changes the run on purpose)
    ("trpo/CartPoleNoVelocity-v1", "trpo", "single-path", ("--policy", "gru", "--preset", "")),
    ("CartPole-v1", "trpo", "single-path", ("--backend", "ray", "--workers", "2")),  # the Ray sampler
    ("Hopper-v5", "trpo", "single-path", ("--set", "cg_iters=10")),  # an env with a preset, a key at its default
    # ppo on MuJoCo: its preset (mujoco-ppo, the clipped-action log-probability) changes the method on
    # purpose since 0.2.0; without a preset the rest of the path must be the same
    ("Hopper-v5", "ppo", "single-path", ("--preset", "")),
    ("MinAtar/Breakout-v1", "trpo", "single-path", ()),  # a CNN policy (the minatar preset)
    ("MinAtar/Breakout-v1", "ppo", "single-path", ()),  # ppo with CNNs, actor and critic apart (minatar-ppo)
]


def train(src: Path, out: Path, env: str, algo: str, sampler: str, steps: int, seed: int, extra=()) -> Path:
    run = out / f"{env.replace('/', '_')}_{algo}_{sampler}_{'_'.join(extra).replace('=', '-').replace('-', '')}"
    cmd = [sys.executable, "-m", "trpo", "train", env, "--algo", algo, "--sampler", sampler, "--seed", str(seed),
           "--total-steps", str(steps), "--run-dir", str(run), "--quiet", "--overwrite", *extra]
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(src)}, cwd=out)
    return run


def rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(f)]


def final_eval(run: Path) -> tuple:
    s = json.loads((run / "summary.json").read_text())
    return s["total_steps"], s.get("final_eval_return_mean"), s.get("final_eval_return_std")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", required=True, help="the git revision to compare the work tree against")
    p.add_argument("--steps", type=int, default=8192)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", help="fnmatch pattern on 'ENV ALGO SAMPLER' (default: every run)")
    a = p.parse_args()
    runs = [r for r in RUNS if a.only is None or fnmatch.fnmatch(f"{r[0]} {r[1]} {r[2]}", a.only)]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base_tree = tmp / "base"
        subprocess.run(["git", "worktree", "add", "--detach", str(base_tree), a.base], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            for env, algo, sampler, extra in runs:
                (tmp / "a").mkdir(exist_ok=True)
                (tmp / "b").mkdir(exist_ok=True)
                ra = train(base_tree / "src", tmp / "a", env, algo, sampler, a.steps, a.seed, extra)
                rb = train(ROOT / "src", tmp / "b", env, algo, sampler, a.steps, a.seed, extra)
                xa, xb = rows(ra), rows(rb)
                shared = set(xa[0]) & set(xb[0]) if xa and xb else set()
                cols = sorted(set(xb[0]) - set(xa[0])) if xa and xb else []
                same = (len(xa) == len(xb) and set(xa[0]) <= set(xb[0])
                        and all({k: r[k] for k in shared} == {k: q[k] for k in shared} for r, q in zip(xa, xb))
                        and final_eval(ra) == final_eval(rb))
                failed += not same
                print(f"{'same' if same else 'DIFFERENT'}  {env:12s} {algo:5s} {sampler:11s} {' '.join(extra):28s} "
                      f"{len(rows(rb))} rows, final eval {final_eval(rb)[1]:.4f}"
                      + (f"  (new columns, not compared: {', '.join(cols)})" if cols else ""), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, capture_output=True)
    print("all the same" if not failed else f"{failed} of {len(runs)} runs differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
