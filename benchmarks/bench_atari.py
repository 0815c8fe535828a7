"""Atari and MinAtar training speed on a CPU: Pong before and after (Python wrappers vs EnvPool, the
old defaults vs the ``atari`` preset), side by side in one command; MinAtar; where the time goes.

    python benchmarks/bench_atari.py                          # everything (~15 min on 2 cores)
    python benchmarks/bench_atari.py --only pong --repeats 1  # the Pong side by side only
    python benchmarks/bench_atari.py --only breakdown --env MinAtar/Breakout-v1

Pong runs (``trpo.train``, ``--iters`` iterations each, no periodic evaluation, steps/s = env steps
over the training clock: sampling + updates, the trainer's own ``steps_per_s``):

  before            what ``trpo train ALE/Pong-v5`` ran before the Atari work: Gymnasium's Python
                    wrappers (vector_mode sync), no preset (batch 1,024, full-batch Fisher, critic
                    10 epochs)
  before+envpool    the same settings, EnvPool's C++ preprocessing (vector_mode envpool)
  after-python      the ``atari`` preset, Python wrappers (vector_mode sync)
  after             ``trpo train ALE/Pong-v5`` now: vector_mode auto (-> envpool) and preset auto
                    (-> atari: batch 4,096, Fisher on 10%, critic 3 epochs, entropy bonus)

Every run is its own subprocess, interleaved per repeat (before, before+envpool, after-python,
after, before, ...) so a machine under varying load hurts all alike; the speedup is the ratio of
medians. Then: env stepping alone (8 envs, random actions, both backends), MinAtar training
(single path and vine) and a breakdown per iteration (env step / acting / GAE + pi_old / policy
gradient / Fisher-vector products / line search / critic fit / the rest), measured by
benchmarks/profile_iteration.py's timers in an inline-critic run (with ``critic_fit = process`` the
critic fit overlaps the policy step on the second core). Writes benchmarks/results/atari-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from trpo.system import cpu_model

HERE = Path(__file__).resolve().parent
PONG = "ALE/Pong-v5"
MINATAR = "MinAtar/Breakout-v1"

# name -> config overrides (on top of Config(env_id=...)); "auto" keys left alone
PONG_RUNS = {
    "before": dict(vector_mode="sync", preset=""),
    "before+envpool": dict(vector_mode="envpool", preset=""),
    "after-python": dict(vector_mode="sync"),
    "after": dict(),
}
# The atari preset's keep_freed_memory: glibc keeps freed blocks up to 2 GB in the heap instead of
# returning each frame batch's float copy (4,096 x 4 x 84 x 84 float32 = 462 MB) to the OS and
# faulting it back in zeroed on the next forward pass. "after, glibc default" (--malloc-variant)
# turns it off, to show what it gives (the first measurements set it through glibc's environment
# variables MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_, before the preset had it).
NOKEEP = "after, glibc default"


# ------------------------------------------------------------------------------------- workers
def _config(env_id: str, overrides: dict, seed: int):
    from trpo.config import Config

    return Config(env_id=env_id, seed=seed, eval_periodic_episodes=0, eval_episodes=1, check_env=False,
                  warnings=False, **overrides)


def worker_train(a) -> dict:
    """One training run; total steps = ``iters`` batches of the resolved config."""
    import tempfile

    import torch

    from trpo.resolve import resolve_run
    from trpo.trainer import train

    overrides = json.loads(a.overrides)  # given: the preset keeps them, even at their defaults
    cfg = _config(a.env, overrides, a.seed)
    resolved, _ = resolve_run(cfg)
    cfg = cfg.replace(total_steps=a.iters * resolved.batch_steps)
    resolved, _ = resolve_run(cfg)
    r0 = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    with tempfile.TemporaryDirectory() as d:
        res = train(cfg, run_dir=Path(d) / "run", progress=False)
    r1 = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    s = res.summary
    # CPU seconds of the whole train() call (setup and the 1-episode final evaluation included),
    # this process and its finished children (the critic-fit helper): less sensitive to load than wall time
    user = sum(b.ru_utime - x.ru_utime for x, b in zip(r0, r1))
    sys_ = sum(b.ru_stime - x.ru_stime for x, b in zip(r0, r1))
    return {"env": a.env, "name": a.name, "overrides": overrides, "steps": s["total_steps"],
            "train_wall_s": s["total_steps"] / s["steps_per_s"], "steps_per_s": s["steps_per_s"],
            "cpu_user_s": user, "cpu_sys_s": sys_,
            "resolved": {k: getattr(resolved, k) for k in ("vector_mode", "preset", "batch_steps", "num_envs",
                                                           "fvp_subsample", "critic_epochs", "critic_fit", "cnn",
                                                           "entropy_coef", "sampler", "keep_freed_memory")},
            "torch": torch.__version__}


def worker_envstep(a) -> dict:
    """Env stepping alone: ``num_envs`` envs, random actions, the given vector mode."""
    import numpy as np

    from trpo.envs.make import make_vector_env

    mode = json.loads(a.overrides).get("vector_mode", "sync")
    envs = make_vector_env(a.env, 8, mode)
    envs.reset(seed=a.seed)
    rng = np.random.default_rng(a.seed)
    n_act = envs.single_action_space.n
    for _ in range(20):  # warm up
        envs.step(rng.integers(0, n_act, 8))
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < a.seconds:
        envs.step(rng.integers(0, n_act, 8))
        n += 8
    dt = time.perf_counter() - t0
    envs.close()
    return {"env": a.env, "name": a.name, "vector_mode": mode, "steps": n, "wall_s": dt, "steps_per_s": n / dt}


def worker_breakdown(a) -> dict:
    """ms per iteration of each part (wall and CPU), by profile_iteration's timers around the
    functions the real code path calls; the critic fitted inline so its CPU time is counted here."""
    from profile_iteration import breakdown, table

    overrides = {**json.loads(a.overrides), "critic_fit": "inline"}
    b = breakdown(_config(a.env, overrides, a.seed), a.iters, a.warmup)
    resolved = b.pop("resolved")
    return {"env": a.env, "name": a.name, "overrides": overrides, **b,
            "resolved": {k: getattr(resolved, k) for k in ("vector_mode", "preset", "batch_steps", "fvp_subsample",
                                                           "critic_epochs", "cnn")},
            "table": table({**b, "resolved": resolved})}


WORKERS = {"train": worker_train, "envstep": worker_envstep, "breakdown": worker_breakdown}


# ------------------------------------------------------------------------------------- driver
def run_worker(kind: str, env: str, name: str, overrides: dict, a, timeout: float = 3600) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--env", env, "--name", name, "--overrides",
           json.dumps(overrides), "--iters", str(a.iters), "--warmup", str(a.warmup), "--seed", str(a.seed),
           "--seconds", str(a.seconds)]
    if kind == "breakdown":
        cmd[cmd.index("--iters") + 1] = str(a.breakdown_iters)
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {env} {name} failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_wall_s"] = time.perf_counter() - t
    print(f"  {kind:9s} {env:20s} {name:15s} {res['steps_per_s']:8.0f} steps/s", flush=True)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=("all", "pong", "envstep", "minatar", "breakdown"), default="all")
    p.add_argument("--env", default=None, help="--only breakdown: the env (default: Pong and MinAtar Breakout)")
    p.add_argument("--repeats", type=int, default=2, help="Pong side by side: interleaved repeats")
    p.add_argument("--iters", type=int, default=3, help="training iterations per run")
    p.add_argument("--breakdown-iters", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1, help="breakdown: iterations not counted")
    p.add_argument("--seconds", type=float, default=10.0, help="env stepping: seconds per backend")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--malloc-variant", action="store_true",
                   help="also run 'after' with glibc's default malloc (keep_freed_memory off)")
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--worker", choices=tuple(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--name", default="", help=argparse.SUPPRESS)
    p.add_argument("--overrides", default="{}", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        a.env = a.env or PONG
        print(json.dumps(WORKERS[a.worker](a)))
        return

    load0 = os.getloadavg()
    t0 = time.perf_counter()
    report: dict = {"command": "python benchmarks/bench_atari.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                    "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
                    "loadavg_start": load0}
    try:
        import envpool
        import torch
        report["versions"] = {"torch": torch.__version__, "envpool": envpool.__version__}
    except ImportError:
        pass
    md = []
    if a.only in ("all", "pong"):
        print(f"Pong, {a.repeats} interleaved repeat(s) of {', '.join(PONG_RUNS)} ({a.iters} iterations each):")
        runs = defaultdict(list)
        for _ in range(a.repeats):
            for name, ov in PONG_RUNS.items():
                runs[name].append(run_worker("train", PONG, name, ov, a))
            if a.malloc_variant:
                runs[NOKEEP].append(run_worker("train", PONG, NOKEEP, {"keep_freed_memory": False}, a))
        med = {k: statistics.median(r["steps_per_s"] for r in v) for k, v in runs.items()}
        report["pong"] = {"runs": runs, "median_steps_per_s": med,
                          "speedup_after_vs_before": med["after"] / med["before"]}
        md += ["| Pong run | settings | steps/s (median) | runs | CPU s (user + sys) per 1k steps |",
               "|---|---|---:|---|---:|"]
        for k, v in runs.items():
            r = v[0]["resolved"]
            cpu = statistics.median(1e3 * (x["cpu_user_s"] + x["cpu_sys_s"]) / x["steps"] for x in v)
            md.append(f"| {k} | {r['vector_mode']}, preset {r['preset'] or 'none'}, batch {r['batch_steps']}, "
                      f"fvp {r['fvp_subsample']}, critic {r['critic_epochs']} ep, keep freed memory "
                      f"{'on' if r.get('keep_freed_memory') else 'off'} | {med[k]:.0f} | "
                      f"{', '.join(format(x['steps_per_s'], '.0f') for x in v)} | {cpu:.1f} |")
        if NOKEEP in med:
            md.append(f"\nafter / {NOKEEP}: {med['after'] / med[NOKEEP]:.2f}x (what keep_freed_memory gives)")
        md.append(f"\n**after / before: {med['after'] / med['before']:.2f}x** "
                  f"(EnvPool alone: {med['before+envpool'] / med['before']:.2f}x; the preset alone: "
                  f"{med['after-python'] / med['before']:.2f}x)")
    if a.only in ("all", "envstep"):
        print("Env stepping alone (8 envs, random actions):")
        report["envstep"] = [run_worker("envstep", env, mode, {"vector_mode": mode}, a)
                             for env, mode in [(PONG, "sync"), (PONG, "envpool"), (MINATAR, "sync")]]
        md += ["", "| env stepping (8 envs, random actions) | steps/s |", "|---|---:|"]
        md += [f"| {r['env']} {r['vector_mode']} | {r['steps_per_s']:.0f} |" for r in report["envstep"]]
    if a.only in ("all", "minatar"):
        print("MinAtar training:")
        report["minatar"] = [run_worker("train", MINATAR, s, {"sampler": s}, a) for s in ("single-path", "vine")]
        md += ["", "| MinAtar Breakout training | steps/s |", "|---|---:|"]
        md += [f"| {r['name']} ({r['resolved']['preset'] or 'no preset'}, cnn {r['resolved']['cnn']}) | "
               f"{r['steps_per_s']:.0f} |" for r in report["minatar"]]
    if a.only in ("all", "breakdown"):
        print("Where the time goes:")
        envs = [a.env] if a.env else [PONG, MINATAR]
        cases = [(e, n, ov) for e in envs for n, ov in ([("before", PONG_RUNS["before"]), ("after", {})]
                                                        if e == PONG else [("after", {})])]
        if a.malloc_variant and PONG in envs:
            cases.append((PONG, NOKEEP, {"keep_freed_memory": False}))
        report["breakdown"] = [run_worker("breakdown", e, n, ov, a) for e, n, ov in cases]
        for b in report["breakdown"]:
            md += ["", f"{b['name']}:", "", b["table"]]
    report["loadavg_end"] = os.getloadavg()
    report["wall_s"] = time.perf_counter() - t0
    report["markdown"] = "\n".join(md)
    print("\n" + report["markdown"])
    print(f"\nCPU: {report['machine']['cpu']} ({report['machine']['cores']} cores); load average at start "
          f"{load0[0]:.1f}, at the end {report['loadavg_end'][0]:.1f}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"atari-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
