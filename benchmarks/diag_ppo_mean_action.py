"""Why PPO's mean action fell over on Hopper-v5 while sampling ran (docs/results/family.md, "PPO on
MuJoCo: the mean action that fell over"): the raw records of that page's account.

    python benchmarks/diag_ppo_mean_action.py probe RUN_DIR OUT.json
        a run's final checkpoint, 5 episodes (env seeds 10,000 + k) acting three ways: the mean
        action clip(mu), a sample clip(mu + s eps), and E[clip(mu + s eps)] (the mean of the action
        the env receives, closed form); then, along the mean action's path from env seed 10,000,
        |clip(mu) - E[clip(a)]| per step and action dimension, and each dimension's mean at the start
        and at the fall
    python benchmarks/diag_ppo_mean_action.py compact DIAG.jsonl OUT.csv
        an instrumented run's per-update log (one JSON line per PPO update) cut to the fields the page
        reads: iteration, lr, KL (mean and largest per state), Adam's largest per-element step over
        lr, log-std, the share of |mu| > 1 over the batch's state-dimensions, the largest
        normalised |obs| among the five states of largest KL
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this tree's trpo


def expected_clipped(mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """E[clip(mu + s eps, -1, 1)], eps ~ N(0, 1), in closed form."""
    from scipy.stats import norm

    a, b = (-1 - mu) / s, (1 - mu) / s
    return -norm.cdf(a) + (1 - norm.cdf(b)) + mu * (norm.cdf(b) - norm.cdf(a)) + s * (norm.pdf(a) - norm.pdf(b))


def probe(run_dir: str, out: str, episodes: int = 5) -> dict:
    import gymnasium as gym
    import torch

    from trpo.agent import Agent

    agent = Agent.load(run_dir)
    env = gym.make(agent.cfg.env_id)

    def mean_and_std(o):
        x = torch.as_tensor(agent.obs_norm(o[None]), dtype=torch.float32)
        with torch.no_grad():
            mu, log_std = agent.actor.dist_params(x)
        return mu[0].double().numpy(), np.exp(log_std[0].double().numpy())

    def rollout(mode: str, seed: int) -> tuple[float, int, list]:
        rng = np.random.default_rng(seed)
        o, _ = env.reset(seed=seed)
        ret, t, path = 0.0, 0, []
        while True:
            mu, s = mean_and_std(o)
            e = expected_clipped(mu, s)
            path.append((mu, e))
            a = {"mean": mu, "sample": mu + s * rng.standard_normal(mu.shape), "expected_clipped": e}[mode]
            o, r, te, tr, _ = env.step(np.clip(a, -1, 1).astype(np.float32))
            ret, t = ret + float(r), t + 1
            if te or tr:
                return ret, t, path

    from trpo.checkpoint import list_checkpoints

    rec: dict = {"run": Path(run_dir).name, "checkpoint": list_checkpoints(Path(run_dir) / "checkpoints")[-1].name,
                 "episodes": episodes,
                 "env_seeds": f"10000 + k, k < {episodes}", "modes": {}}
    for mode in ("mean", "sample", "expected_clipped"):
        res = [rollout(mode, 10_000 + k) for k in range(episodes)]
        rec["modes"][mode] = {"returns": [r for r, _, _ in res], "lengths": [n for _, n, _ in res]}
    _, length, path = rollout("mean", 10_000)
    mus = np.array([m for m, _ in path])
    gap = np.abs(np.clip(mus, -1, 1) - np.array([e for _, e in path]))
    rec["mean_path"] = {"env_seed": 10_000, "length": length, "gap_mean_per_dim": gap.mean(0).tolist(),
                        "gap_mean": float(gap.mean()), "gap_p90": float(np.percentile(gap, 90)),
                        "mu_start": mus[0].tolist(), "mu_end": mus[-1].tolist(),
                        "mu_max_per_dim": mus.max(0).tolist()}
    rec["log_std"] = agent.actor.clamped_log_std().detach().double().numpy().tolist()
    Path(out).write_text(json.dumps(rec, indent=1) + "\n")
    return rec


COLUMNS = ("it", "lr", "kl", "kl_max", "adam_step_max_over_lr", "log_std_0", "log_std_1", "log_std_2", "frac_mu_out",
           "top_kl_obs_absmax")


def compact(diag: str, out: str) -> None:
    """One CSV row per update, numbers to 4 significant digits (what the page reads)."""
    lines = [",".join(COLUMNS)]
    for line in Path(diag).read_text().splitlines():
        r = json.loads(line)
        row = [r["it"], r["lr"], r["kl"], r["kl_max"], r["adam_step_max_over_lr"], *r["log_std"], r["frac_mu_out"],
               max(t["obs_absmax"] for t in r["top"])]
        lines.append(",".join(str(v) if isinstance(v, int) else f"{v:.4g}" for v in row))
    Path(out).write_text("\n".join(lines) + "\n")


def read_compact(path: Path) -> list[dict]:
    import csv

    with open(path) as f:
        return [{k: (int(v) if k == "it" else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "probe":
        print(json.dumps(probe(*args)["modes"]))
    elif cmd == "compact":
        compact(*args)
    else:
        raise SystemExit(__doc__)
