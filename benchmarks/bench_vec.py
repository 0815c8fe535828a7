"""Env steps/s against the number of envs for Gymnasium sync / async vector envs, EnvPool and
Gymnasium's array-at-once vector envs (random actions, one batched action per vector step;
construction and reset not timed).

    python benchmarks/bench_vec.py --env CartPole-v1 Hopper-v5 --num-envs 1 2 4 8 64

Which backend is fastest decides ``vector_mode`` / ``num_envs``: Gymnasium ``sync`` steps the envs
one after the other in this process (one core); ``async`` puts each env in a subprocess (all cores,
but a pipe round trip per env per step); EnvPool steps them in a C++ thread pool (all cores, no
Python per env); ``vector_entry_point`` is Gymnasium's own numpy CartPole (all carts in one
array step; CartPole only). All return the same-step-autoreset interface (trpo.envs.make).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def rate(env_id: str, n: int, mode: str, seconds: float) -> float | None:
    import numpy as np

    from trpo.envs.make import make_vector_env
    from trpo.rollout.single_path import action_to_env

    try:
        envs = make_vector_env(env_id, n, mode)
    except Exception as e:  # envpool missing or env not in envpool
        print(f"  {mode} n={n}: skipped ({str(e).splitlines()[0]})")
        return None
    try:
        envs.reset(seed=0)
        space = envs.single_action_space
        rng = np.random.default_rng(0)
        if hasattr(space, "n"):
            acts = rng.integers(0, int(space.n), (64, n))
        else:
            acts = action_to_env(space, rng.uniform(-1, 1, (64, n, *space.shape)).astype(np.float32))
        for i in range(8):  # warm up
            envs.step(acts[i])
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for i in range(64):
                envs.step(acts[i])
            steps += 64 * n
        return steps / (time.perf_counter() - t0)
    finally:
        envs.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", nargs="+", default=["CartPole-v1", "Hopper-v5"])
    p.add_argument("--num-envs", nargs="+", type=int, default=[1, 2, 4, 8, 64])
    p.add_argument("--modes", nargs="+", default=["sync", "async", "envpool", "vector_entry_point"])
    p.add_argument("--seconds", type=float, default=1.5)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = p.parse_args(argv)
    import warnings
    warnings.filterwarnings("ignore")
    results = {}
    for env_id in a.env:
        for mode in a.modes:
            for n in a.num_envs:
                r = rate(env_id, n, mode, a.seconds)
                results[f"{env_id}|{mode}|{n}"] = r
    lines = []
    for env_id in a.env:
        lines += [f"\n{env_id} (env steps/s, random actions)\n",
                  "| mode | " + " | ".join(f"{n} envs" for n in a.num_envs) + " |",
                  "|---|" + "---:|" * len(a.num_envs)]
        for mode in a.modes:
            vals = [results[f"{env_id}|{mode}|{n}"] for n in a.num_envs]
            lines.append(f"| {mode} | " + " | ".join("-" if v is None else f"{v:.0f}" for v in vals) + " |")
    md = "\n".join(lines)
    print(md)
    load = os.getloadavg()
    print(f"\n(load average at the end: {load[0]:.1f} on {os.cpu_count()} cores)")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / f"vec-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"results": results, "loadavg": load, "table": md}, indent=1))


if __name__ == "__main__":
    main()
