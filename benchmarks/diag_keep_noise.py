"""Is a final evaluation below the best periodic one a loss, or a comparison of different start states?

The periodic evaluations replay the same few start states (env seeds seed + 20,000 + i) on every
evaluation, the final one other start states (seed + 10,000 + i). For one run (env, algo, seed at
today's defaults, ``trpo train``), this evaluates the final policy three ways, deterministic: on
the periodic evaluations' start states, on the final evaluation's, and on ``--episodes`` fresh ones
(env seeds 50,000 + i: the policy's own mean, with its standard error). The periodic curve
then says whether the policy got worse on the same states, and the fresh mean which of the two
fixed sets is the easier. A JSON line on stdout.

    python benchmarks/diag_keep_noise.py --env Pendulum-v1 --algo npg --seed 3 --steps 200000
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="Pendulum-v1")
    p.add_argument("--algo", default="npg")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--per-eval", type=int, default=5, help="episodes of each periodic evaluation (the run's)")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args(argv)
    import trpo

    run = Path(a.run_dir)
    cmd = [sys.executable, "-m", "trpo", "train", a.env, "--algo", a.algo, "--seed", str(a.seed), "--total-steps",
           str(a.steps), "--run-dir", str(run), "--quiet", "--overwrite"] + sum((["--set", s] for s in a.set), [])
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    wall = time.perf_counter() - t
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    periodic = [float(r["eval_return_mean"]) for r in rows if r.get("eval_return_mean") not in (None, "", "nan")]
    summary = json.loads((run / "summary.json").read_text())
    agent = trpo.load(run)
    _, _, rets = agent.evaluate(episodes=a.episodes, seed=50_000, deterministic=True)
    rets = np.asarray(rets)
    from trpo import seeds
    from trpo.system import cpu_model

    on_periodic, _, _ = agent.evaluate(episodes=a.per_eval, seed=a.seed + seeds.PERIODIC_EVAL, deterministic=True)
    on_final, _, _ = agent.evaluate(episodes=10, seed=a.seed + seeds.FINAL_EVAL, deterministic=True)
    out = {"env": a.env, "algo": a.algo, "seed": a.seed, "steps": a.steps, "command": " ".join(cmd[1:]),
           "git": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),
           "wall_s": round(wall, 1), "final_eval_10": summary["final_eval_return_mean"],
           "cpu": cpu_model(), "best_periodic": max(periodic), "periodic": periodic,
           "final_policy_on_periodic_states": on_periodic, "final_policy_on_final_states": on_final,
           "final_policy_fresh_mean": float(rets.mean()), "final_policy_fresh_se": float(rets.std(ddof=1) / np.sqrt(rets.size)),
           "final_policy_episode_std": float(rets.std(ddof=1)), "fresh_episodes": a.episodes, "per_eval": a.per_eval}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
