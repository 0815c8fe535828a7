"""A run from a cold start against the steady rate, for two or more commits in one command
(``harness.py startup``): where a short run's wall time goes before the first batch.

    python benchmarks/harness.py startup --env ALE/Pong-v5 --steps 16384 --first 4096 \\
        --tree before=7452ef3 --tree after=HEAD --repeats 2

Each run is a fresh process (``python -c CHILD``, the commit's ``src/`` first on PYTHONPATH) that
imports trpo, builds ``trpo.Config(env_id, seed, total_steps, eval_periodic_episodes=0,
eval_episodes=1, algo)`` (``--algo``, trpo by default) and calls ``trpo.train`` with a callback that stamps the wall clock after every
iteration (the API both sides have: ``train(cfg, run_dir, progress=, callback=)``, a callback
``(row, agent)`` whose row carries ``env_steps`` and the trainer's clock ``wall_s``). From the
stamps, per run:

  startup_s     launch -> the first iteration's end, less that iteration's training clock: the
                interpreter, the imports, env construction and checks, everything before training
  imports_s     launch -> ``import trpo`` done (torch included)
  cold          the first ``--first`` env steps from launch: steps / (stamp - launch)
  first_clock   the same steps over the trainer's own clock (what the trainer's steps/s shows)
  steady        the steps after those over the trainer's clock (later iterations only)

Runs are interleaved per repeat (tree A, tree B, A, B, ...) so load changes hurt all alike; the
table gives medians and each tree's ratio to the first. A commit other than ``HEAD`` is checked
out as a temporary git worktree, removed afterwards. The final evaluation (1 episode) runs after
the last stamp and is not measured.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, tempfile, time
t_launch = float(sys.argv[1])
import torch, trpo
t_imported = time.time()
stamps = []
def stamp(row, agent):
    stamps.append({"t": time.time(), "env_steps": int(row["env_steps"]), "wall_s": float(row["wall_s"])})
cfg = trpo.Config(env_id=sys.argv[2], seed=int(sys.argv[4]), total_steps=int(sys.argv[3]),
                  eval_periodic_episodes=0, eval_episodes=1, algo=sys.argv[5])
with tempfile.TemporaryDirectory() as d:
    res = trpo.train(cfg, d + "/run", progress=False, callback=stamp)
print(json.dumps({"t_launch": t_launch, "t_imported": t_imported, "stamps": stamps,
                  "trpo_file": trpo.__file__, "torch_threads": torch.get_num_threads()}))
"""


def measures(out: dict, first: int) -> dict:
    """The run's start-up, cold and steady figures from its stamps (see the module's docstring)."""
    s, t0 = out["stamps"], out["t_launch"]
    k = next(i for i, r in enumerate(s) if r["env_steps"] >= first)
    m = {"startup_s": s[0]["t"] - t0 - s[0]["wall_s"], "imports_s": out["t_imported"] - t0,
         "first_steps": s[k]["env_steps"], "cold_s": s[k]["t"] - t0,
         "cold_steps_per_s": s[k]["env_steps"] / (s[k]["t"] - t0),
         "first_clock_steps_per_s": s[k]["env_steps"] / s[k]["wall_s"], "iterations": len(s)}
    if k + 1 < len(s):
        m["steady_steps_per_s"] = (s[-1]["env_steps"] - s[k]["env_steps"]) / (s[-1]["wall_s"] - s[k]["wall_s"])
    return m


def checkout(root: Path, head: dict, ref: str, tmp: Path) -> tuple[Path, str, bool]:
    """(tree, commit, dirty): ROOT itself for HEAD (``head``: its git state, the harness's
    ``machine()["git"]``), else a detached worktree of ``ref`` under tmp."""
    if ref == "HEAD":
        return root, head["commit"], head["dirty"]
    sha = subprocess.run(["git", "-C", str(root), "rev-parse", ref], capture_output=True, text=True,
                         check=True).stdout.strip()
    tree = tmp / sha[:12]
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", "-f", str(tree), sha],
                   capture_output=True, text=True, check=True)
    return tree, sha, False


def one_run(tree: Path, env_id: str, steps: int, seed: int, algo: str = "trpo") -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree / "src"), os.environ.get("PYTHONPATH")]))}
    t = time.time()
    p = subprocess.run([sys.executable, "-c", CHILD, repr(t), env_id, str(steps), str(seed), algo], capture_output=True,
                       text=True, env=env, cwd=tree)
    if p.returncode:
        raise RuntimeError(f"{tree}: exit {p.returncode}: {p.stderr.strip().splitlines()[-1:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    if not out["trpo_file"].startswith(str(tree / "src")):
        raise RuntimeError(f"{tree}: imported {out['trpo_file']}, not its own trpo")
    out["process_wall_s"] = time.time() - t
    return out


KEYS = ("startup_s", "imports_s", "cold_steps_per_s", "first_clock_steps_per_s", "steady_steps_per_s")


def table(rec: dict) -> str:
    labels = list(rec["trees"])
    base = rec["medians"][labels[0]]
    lines = [f"| {rec['env']} | start-up (s) | of which imports (s) | first {rec['first']:,} steps from launch, "
             "steps/s | the same, trainer's clock | steady, trainer's clock | ratios to "
             f"{labels[0]} (cold / clock / steady) |", "|---|---:|---:|---:|---:|---:|---|"]
    for lab in labels:
        m = rec["medians"][lab]
        ratio = " / ".join(f"{m[k] / base[k]:.2f}x" if m.get(k) and base.get(k) else "-"
                           for k in ("cold_steps_per_s", "first_clock_steps_per_s", "steady_steps_per_s"))
        lines.append(f"| {lab} ({rec['trees'][lab]['commit'][:7]}) | {m['startup_s']:.1f} | {m['imports_s']:.1f} | "
                     f"{m['cold_steps_per_s']:.0f} | {m['first_clock_steps_per_s']:.0f} | "
                     f"{m.get('steady_steps_per_s', float('nan')):.0f} | {ratio} |")
    return "\n".join(lines)


def run(root: Path, head: dict, env_id: str, steps: int, first: int, trees: list[str], repeats: int,
        seed: int, algo: str = "trpo") -> dict:
    """Every tree ``repeats`` times, interleaved; the record (medians, runs) without machine facts.
    ``head``: the git state of ``root`` (commit, dirty), for the trees named HEAD."""
    pairs = [t.split("=", 1) if "=" in t else (t, t) for t in trees]
    with tempfile.TemporaryDirectory(prefix="trpo-startup-") as tmp:
        made = {lab: checkout(root, head, ref, Path(tmp)) for lab, ref in pairs}
        try:
            runs = []
            for rep in range(repeats):
                for lab, (tree, _, _) in made.items():
                    out = one_run(tree, env_id, steps, seed, algo)
                    m = measures(out, first)
                    runs.append({"tree": lab, "repeat": rep, **m, "process_wall_s": out["process_wall_s"],
                                 "stamps": out["stamps"], "torch_threads": out["torch_threads"]})
                    print(f"{lab} repeat {rep}: start-up {m['startup_s']:.1f} s, cold {m['cold_steps_per_s']:.0f} "
                          f"steps/s, steady {m.get('steady_steps_per_s', float('nan')):.0f} steps/s", flush=True)
        finally:
            for tree, _, _ in made.values():
                if tree != root:
                    subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                                   capture_output=True)
    medians = {lab: {k: statistics.median(r[k] for r in runs if r["tree"] == lab and k in r)
                     for k in KEYS if any(k in r for r in runs if r["tree"] == lab)} for lab in made}
    return {"kind": "startup", "env": env_id, "algo": algo, "steps": steps, "first": first, "seed": seed, "repeats": repeats,
            "protocol": "fresh process per run; trpo.Config(env_id, seed, total_steps, eval_periodic_episodes=0, "
                        f"eval_episodes=1, algo={algo!r}), the commit's other defaults and auto choices; interleaved per repeat; "
                        "medians",
            "trees": {lab: {"ref": ref, "commit": made[lab][1], "dirty": made[lab][2]} for lab, ref in pairs},
            "medians": medians, "runs": runs}
