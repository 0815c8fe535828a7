"""Our TRPO against sb3-contrib TRPO (RL-Zoo hyperparameters), side by side, same env / steps / seed.

    python benchmarks/bench_trpo.py --env CartPole-v1 --steps 100000
    python benchmarks/bench_trpo.py --env Hopper-v5 --steps 50000

Every measurement runs in its own subprocess (clean RSS, thread settings and imports), one at a
time, interleaved per repeat (env-only, ours, peer, env-only, ours, peer, ...) so that a machine
under varying load hurts both sides alike. Prints a markdown table; writes the raw numbers to
benchmarks/results/<env>-<steps>-<time>.json. Needs the ``bench`` extra (sb3-contrib).

Measured, per side:
  steps/s          env steps / training wall time (sampling + updates; no setup, no evaluations)
  time to solve    training wall time until a deterministic 10-episode eval (checked every
                   ``--eval-every`` steps, clock paused during evals) reaches the env's threshold
  final eval       deterministic 10-episode return after the last update (seed + 10000)
  peak RSS         ru_maxrss of the worker process (subprocess envs, if any, not counted), plus
                   for ours the private memory of the critic-fit helper process (critic_fit =
                   process; read from /proc/PID/smaps_rollup at the end of training: its other
                   pages are the parent's, shared copy-on-write, and counted once)
  (the clock)      with critic_fit = process the critic fit runs on while the clock is paused
                   for an evaluation; so before each evaluation we wait for it and add the wait
                   back to our wall time: those iterations count as if nothing overlapped
The env-only rate: one env (gym.make, default wrappers), random actions, one process.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOLVED = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0}

# rl-baselines3-zoo hyperparams/trpo.yml (the "Tuned" entries); MuJoCo ids share the mujoco defaults
ZOO = {
    "CartPole-v1": dict(n_envs=2, normalize=False, n_steps=512, batch_size=512, cg_damping=1e-3,
                        gae_lambda=0.98, gamma=0.99, learning_rate=1e-3, n_critic_updates=20),
    "Pendulum-v1": dict(n_envs=2, normalize=False, n_steps=1024, gamma=0.9, n_critic_updates=15,
                        use_sde=True, sde_sample_freq=4),
    "mujoco": dict(n_envs=2, normalize=True, batch_size=128, n_steps=1024, gamma=0.99, gae_lambda=0.95,
                   sub_sampling_factor=1, cg_max_steps=25, cg_damping=0.1, n_critic_updates=20,
                   learning_rate=1e-3),
}
MUJOCO = ("Ant", "HalfCheetah", "Hopper", "Walker2d", "Humanoid", "Swimmer", "Reacher", "InvertedPendulum",
          "InvertedDoublePendulum", "Pusher")


def zoo_params(env_id: str) -> dict:
    if env_id in ZOO:
        return dict(ZOO[env_id])
    if env_id.split("-")[0] in MUJOCO:
        return dict(ZOO["mujoco"])
    return dict(n_envs=1, normalize=False)  # sb3-contrib defaults


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def private_mb(pid: int) -> float:
    """Private (unshared) resident memory of a process, MB (Linux)."""
    kb = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                kb += int(line.split()[1])
    return kb / 1024.0


# ------------------------------------------------------------------------------------- workers
def worker_env(a) -> dict:
    import gymnasium as gym
    import numpy as np

    env = gym.make(a.env)
    env.reset(seed=a.seed)
    env.action_space.seed(a.seed)
    acts = [env.action_space.sample() for _ in range(1000)]
    n, t0 = 0, time.perf_counter()
    while n < a.env_steps and time.perf_counter() - t0 < a.env_seconds:
        for i in range(1000):
            _, _, te, tr, _ = env.step(acts[i])
            if te or tr:
                env.reset()
        n += 1000
    dt = time.perf_counter() - t0
    env.close()
    return {"impl": "env-only", "seed": a.seed, "steps": n, "wall_s": dt, "steps_per_s": n / dt, "peak_rss_mb": peak_rss_mb(),
            "numpy": np.__version__}


def worker_ours(a) -> dict:
    import torch

    import trpo.algos.trpo as TRPO_MOD
    import trpo.trainer as T
    from trpo.config import Config
    from trpo.config import parse_overrides

    cfg = Config(env_id=a.env, total_steps=a.steps, seed=a.seed).replace(**parse_overrides(a.set or []))
    threshold = SOLVED.get(a.env)
    holder, curve, solve = {}, [], {"wall_s": None, "env_steps": None}
    next_eval = [a.eval_every]

    orig_loop = T._loop

    waited = [0.0]  # waits for the critic-fit helper before evaluations, added back to the clock

    def loop(cfg_, agent, learner, *rest, **kw):  # keep handles for the periodic evals
        holder["agent"], holder["learner"] = agent, learner
        return orig_loop(cfg_, agent, learner, *rest, **kw)

    def callback(row):  # runs outside the timed part of the iteration (wall_s excludes it)
        curve.append((row["env_steps"], row["wall_s"] + waited[0], row["episode_return_mean"]))
        if threshold is not None and solve["wall_s"] is None and row["env_steps"] >= next_eval[0]:
            next_eval[0] += a.eval_every
            t = time.perf_counter()
            if hasattr(holder["learner"], "sync"):
                holder["learner"].sync()  # no fit runs on during the paused clock
            waited[0] += time.perf_counter() - t
            mean, _, _ = holder["agent"].evaluate(10)
            if mean >= threshold:
                solve.update(wall_s=row["wall_s"] + waited[0], env_steps=row["env_steps"], eval_return=mean)

    orig_close = TRPO_MOD.TRPO.close

    def close(self):  # the helper's private memory, just before it exits
        if self._helper is not None:
            holder["helper_private_mb"] = private_mb(self._helper.pid)
        orig_close(self)

    T._loop = loop
    TRPO_MOD.TRPO.close = close
    with tempfile.TemporaryDirectory() as d:
        res = T.train(cfg, d, progress=False, callback=callback)
    s = res.summary
    wall = s["wall_s"] + waited[0]
    helper_mb = holder.get("helper_private_mb", 0.0)
    return {"impl": "ours", "seed": a.seed, "steps": s["total_steps"], "wall_s": wall,
            "steps_per_s": s["total_steps"] / wall, "waited_for_critic_before_evals_s": waited[0],
            "final_eval_return": s["final_eval_return_mean"], "final_eval_std": s["final_eval_return_std"],
            "train_return_last": s["train_return_last"], "time_to_solve_s": solve["wall_s"],
            "steps_to_solve": solve["env_steps"], "peak_rss_mb": peak_rss_mb() + helper_mb,
            "main_rss_mb": peak_rss_mb(), "helper_private_mb": helper_mb,
            "torch_threads": torch.get_num_threads(), "config": res.agent.cfg.to_dict(), "curve": curve}


def worker_peer(a) -> dict:
    import numpy as np
    import torch
    from sb3_contrib import TRPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize

    if a.peer_threads:
        torch.set_num_threads(a.peer_threads)
    hp = zoo_params(a.env)
    n_envs, normalize = hp.pop("n_envs"), hp.pop("normalize")
    env = make_vec_env(a.env, n_envs=n_envs, seed=a.seed)
    if normalize:
        env = VecNormalize(env, gamma=hp.get("gamma", 0.99))
    model = TRPO("MlpPolicy", env, seed=a.seed, device="cpu", verbose=0, **hp)

    def make_eval_env():
        e = make_vec_env(a.env, n_envs=1, seed=a.seed + 10_000)
        if normalize:
            e = VecNormalize(e, training=False, norm_reward=False, gamma=hp.get("gamma", 0.99))
            e.obs_rms = env.obs_rms
        return e

    threshold = SOLVED.get(a.env)
    curve = []

    class Clock(BaseCallback):
        """Training wall time without the evaluations; the time-to-solve check between updates."""

        def __init__(self):
            super().__init__()
            self.paused = 0.0
            self.solve = None
            self.next_eval = a.eval_every

        def _on_training_start(self):
            self.t0 = time.perf_counter()

        def wall(self):
            return time.perf_counter() - self.t0 - self.paused

        def _on_rollout_start(self):  # after the previous update
            if self.num_timesteps == 0:
                return
            ep = [e["r"] for e in self.model.ep_info_buffer]
            curve.append((self.num_timesteps, self.wall(), float(np.mean(ep)) if ep else float("nan")))
            if threshold is not None and self.solve is None and self.num_timesteps >= self.next_eval:
                self.next_eval += a.eval_every
                w, t = self.wall(), time.perf_counter()
                mean, _ = evaluate_policy(self.model, make_eval_env(), n_eval_episodes=10, deterministic=True)
                self.paused += time.perf_counter() - t
                if mean >= threshold:
                    self.solve = (w, self.num_timesteps, mean)

        def _on_step(self):
            return True

    clock = Clock()
    model.learn(a.steps, callback=clock)
    wall = clock.wall()
    mean, std = evaluate_policy(model, make_eval_env(), n_eval_episodes=10, deterministic=True)
    ep = [e["r"] for e in model.ep_info_buffer]
    return {"impl": "sb3-contrib", "seed": a.seed, "steps": int(model.num_timesteps), "wall_s": wall,
            "steps_per_s": model.num_timesteps / wall, "final_eval_return": float(mean), "final_eval_std": float(std),
            "train_return_last": float(np.mean(ep)) if ep else float("nan"),
            "time_to_solve_s": clock.solve[0] if clock.solve else None,
            "steps_to_solve": clock.solve[1] if clock.solve else None, "peak_rss_mb": peak_rss_mb(),
            "torch_threads": torch.get_num_threads(), "hyperparameters": zoo_params(a.env), "curve": curve}


# ---------------------------------------------------------------------------------------- parent
def run_worker(kind: str, a) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--env", a.env, "--steps", str(a.steps), "--seed", str(a.seed),
           "--eval-every", str(a.eval_every), "--peer-threads", str(a.peer_threads), "--env-steps", str(a.env_steps), "--env-seconds", str(a.env_seconds)]
    for s in a.set or []:
        cmd += ["--set", s]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.stderr.write(p.stderr[-3000:])
        raise SystemExit(f"worker {kind} failed (exit {p.returncode})")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = time.perf_counter() - t
    print(f"  {kind:8s} {out['steps_per_s']:9.0f} steps/s  ({out['process_wall_s']:.0f} s)", file=sys.stderr)
    return out


def fmt(x, spec=".0f"):
    return "-" if x is None else format(x, spec)


def table(env: str, steps: int, rows: list[dict]) -> str:
    import statistics as st

    by = {}
    for r in rows:
        by.setdefault(r["impl"], []).append(r)

    def med(impl, key):
        vals = [r[key] for r in by.get(impl, []) if r.get(key) is not None]
        return st.median(vals) if vals else None

    env_rate, peer_rate = med("env-only", "steps_per_s"), med("sb3-contrib", "steps_per_s")
    lines = [f"| {env} ({steps} steps) | steps/s | x peer | x env-only | final eval (10 ep, det.) | "
             "time to solve (s) | steps to solve | peak RSS (MB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for impl in ("ours", "sb3-contrib", "env-only"):
        if impl not in by:
            continue
        rate = med(impl, "steps_per_s")
        lines.append("| " + " | ".join([
            impl, fmt(rate), fmt(rate / peer_rate if peer_rate else None, ".2f"),
            fmt(rate / env_rate if env_rate else None, ".2f"), fmt(med(impl, "final_eval_return"), ".1f"),
            fmt(med(impl, "time_to_solve_s"), ".1f"), fmt(med(impl, "steps_to_solve")),
            fmt(med(impl, "peak_rss_mb"))]) + " |")
    for impl in ("ours", "sb3-contrib"):
        evals = [f"{r['seed']}: {r['final_eval_return']:.0f}" for r in by.get(impl, [])]
        if len(evals) > 1:
            lines.append(f"\n{impl} final eval by seed: {', '.join(evals)}")
    if by.get("ours"):
        c = by["ours"][0]["config"]
        lines.append(f"\nours: vector_mode={c['vector_mode']}, num_envs={c['num_envs']}, batch_steps={c['batch_steps']}, "
                     f"fvp_subsample={c['fvp_subsample']}, critic {c['critic_epochs']} x minibatch {c['critic_minibatch']}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", help="several seeds (overrides --seed): the table shows "
                   "medians over seeds and repeats, and lists each seed's final eval")
    p.add_argument("--repeats", type=int, default=1, help="interleaved repeats; the table shows medians")
    p.add_argument("--only", default="env,ours,peer", help="comma list of: env, ours, peer")
    p.add_argument("--set", action="append", help="KEY=VALUE override of our config (e.g. num_envs=16)")
    p.add_argument("--peer-threads", type=int, default=0,
                   help="torch threads of the peer; 0 = torch's default (what RL-Zoo runs with)")
    p.add_argument("--eval-every", type=int, default=5000, help="env steps between time-to-solve evals")
    p.add_argument("--env-steps", type=int, default=200_000, help="env-only: at most this many steps")
    p.add_argument("--env-seconds", type=float, default=5.0, help="env-only: at most this long")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    p.add_argument("--worker", choices=["env", "ours", "peer"], help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        import warnings
        warnings.filterwarnings("ignore")
        out = {"env": worker_env, "ours": worker_ours, "peer": worker_peer}[a.worker](a)
        print(json.dumps(out))
        return
    kinds = [k.strip() for k in a.only.split(",") if k.strip()]
    rows = []
    print(f"{a.env}, {a.steps} steps, seeds {a.seeds or [a.seed]}: {', '.join(kinds)} x {a.repeats}", file=sys.stderr)
    for seed in a.seeds or [a.seed]:
        for _ in range(a.repeats):
            for k in kinds:
                rows.append(run_worker(k, argparse.Namespace(**{**vars(a), "seed": seed})))
    md = table(a.env, a.steps, rows)
    load = os.getloadavg()
    meta = {"env": a.env, "steps": a.steps, "seed": a.seeds or a.seed, "repeats": a.repeats, "overrides": a.set or [],
            "peer_threads": a.peer_threads or "torch default",
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                        "python": platform.python_version(), "loadavg_at_end": load},
            "command": " ".join([Path(sys.executable).name, *sys.argv]), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(a.out).mkdir(parents=True, exist_ok=True)
    path = Path(a.out) / f"{a.env.replace('/', '_')}-{a.steps}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({**meta, "table": md, "runs": rows}, indent=1))
    print(md)
    print(f"\n(load average at the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on {os.cpu_count()} cores; "
          f"raw numbers in {path})")


if __name__ == "__main__":
    main()
