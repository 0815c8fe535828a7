"""The evaluation curves of the settings tried before the shipped presets (docs/results/mujoco.md,
"What we tried"), from their run directories into docs/results/mujoco/tried_runs.csv.

    python docs/results/mujoco/tried.py
"""
import csv
import glob
import json
import os
from pathlib import Path

SETS = [("8 envs x 256 steps", "runs/mujoco_8x256/*_s*"),
        ("2 envs x 1024 steps", "runs/hopper_alt/n2_s*"),
        ("2 envs x 1024 steps", "runs/mujoco_swimmer_2x1024/*_s*"),
        ("plain defaults: 8 envs x 128 steps, CG 10, critic 10 epochs", "runs/hopper_alt/defaults_s*")]

with open(Path(__file__).parent / "tried_runs.csv", "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["setting", "env", "seed", "env_steps", "eval_return_mean", "final_eval_return_mean", "best_eval_return"])
    for name, pattern in SETS:
        for d in sorted(glob.glob(pattern)):
            if not os.path.exists(f"{d}/summary.json"):
                continue
            s = json.load(open(f"{d}/summary.json"))
            if s.get("final_eval_return_mean") is None:  # stopped before the end
                continue
            print(f"{name:60s} {s['env_id']:15s} seed {s['seed']}: final {s['final_eval_return_mean']:8.1f}, "
                  f"best {s['best_eval_return']:8.1f}")
            for r in csv.DictReader(open(f"{d}/metrics.csv")):
                if r["eval_return_mean"]:
                    w.writerow([name, s["env_id"], s["seed"], r["env_steps"], round(float(r["eval_return_mean"]), 1),
                                round(s["final_eval_return_mean"], 1), round(s["best_eval_return"], 1)])
