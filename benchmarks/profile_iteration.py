"""Where one training iteration spends its time: sampling (env step / policy inference / the rest of
the sampler) and the update (GAE / pi_old / policy gradient / Fisher setup / Fisher-vector products
in CG / line search / critic fit / the rest), in wall and in process CPU time.

    python benchmarks/profile_iteration.py --env Hopper-v5 --batch 2048
    python benchmarks/profile_iteration.py --env Hopper-v5 --batch 2048 --set fvp=gauss-newton --set fvp_subsample=0.2
    python benchmarks/profile_iteration.py --env ALE/Pong-v5 --iters 2 --set critic_fit=inline

It runs the real ``trpo.trainer.train`` for ``--warmup + --iters`` iterations with the library's own
explicit timers on (``trpo.timing``: ``part`` and ``timed`` at each part, in the code, off by
default), so the numbers are for the real code path, whatever the algorithm, sampler, policy or
preset. The timed parts never contain one another: no time is counted twice. CPU time is the process's (all its threads: EnvPool's and
torch's too); with ``critic_fit = "process"`` the fit runs in the helper and only the hand-off and
the wait count here. The first ``--warmup`` iterations are not counted. Prints a markdown table.
``benchmarks/bench_atari.py --only breakdown`` calls ``breakdown`` for its Atari and MinAtar tables.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def breakdown(cfg, iters: int, warmup: int = 1) -> dict:
    """Train ``cfg`` for warmup + iters iterations with the library's timers on (``trpo.timing``:
    explicit timers at each part, in the code); per counted iteration: {"ms_per_iter",
    "cpu_ms_per_iter", "parts_ms", "parts_cpu_ms", "calls_per_iter", "batch_steps", "steps_per_s",
    "resolved": the run's resolved Config}. The timers are off again on return."""
    from trpo.resolve import resolve_run
    from trpo.timing import TIMERS
    from trpo.trainer import train

    resolved, _ = resolve_run(cfg)  # the batch size the run will use (preset included)
    done = {"iterations": 0}

    def count(row, agent) -> bool:
        done["iterations"] += 1
        if done["iterations"] == warmup:
            TIMERS.start()  # the warm-up iterations are not counted
        if done["iterations"] >= warmup + iters:
            TIMERS.stop()  # not the run's end (the last critic fit waited for, the final evaluation)
            return True
        return False

    # enough steps for any sampler (vine's branches count too); the callback stops the run
    cfg = cfg.replace(total_steps=100 * (iters + warmup) * resolved.batch_steps, eval_every=0)
    if warmup == 0:
        TIMERS.start()
    try:
        with tempfile.TemporaryDirectory() as d:
            train(cfg, run_dir=Path(d) / "run", progress=False, callback=count)
    finally:
        TIMERS.stop()
    n = done["iterations"] - warmup
    wall, cpu, calls = dict(TIMERS.wall), dict(TIMERS.cpu), dict(TIMERS.calls)
    if n <= 0 or "sampling" not in wall:
        raise RuntimeError(f"nothing was timed ({done['iterations']} iterations, warm-up {warmup})")

    def parts(acc):
        ms = {k: 1e3 * v / n for k, v in acc.items() if k not in ("sampling", "update")}
        ms["sampling: the rest (normalise, bookkeeping)"] = 1e3 * acc["sampling"] / n - sum(
            v for k, v in ms.items() if k.startswith("sampling"))
        ms["update: the rest (entropy, value loss, KL, ...)"] = 1e3 * acc["update"] / n - sum(
            v for k, v in ms.items() if k.startswith("update"))
        return ms
    it_ms = 1e3 * (wall["sampling"] + wall["update"]) / n
    steps = resolved.batch_steps
    return {"iters": n, "batch_steps": steps, "ms_per_iter": it_ms, "steps_per_s": steps / it_ms * 1e3,
            "cpu_ms_per_iter": 1e3 * (cpu["sampling"] + cpu["update"]) / n,
            "parts_ms": parts(wall), "parts_cpu_ms": parts(cpu),
            "calls_per_iter": {k: v / n for k, v in calls.items()}, "resolved": resolved}


def table(b: dict) -> str:
    """The breakdown as markdown: wall and CPU ms per iteration for each part, halves first."""
    cfg = b["resolved"]
    halves = {"sampling": [k for k in b["parts_ms"] if k.startswith("sampling")],
              "update": [k for k in b["parts_ms"] if k.startswith("update")]}
    lines = [f"{cfg.env_id}, {cfg.algo}, batch {cfg.batch_steps} ({cfg.num_envs} envs, {cfg.vector_mode}), "
             f"fvp={cfg.fvp}, fvp_subsample={cfg.fvp_subsample}, critic {cfg.critic_epochs} epochs x minibatch "
             f"{cfg.critic_minibatch}, critic_fit {cfg.critic_fit}, torch threads {cfg.torch_threads}: "
             f"{b['ms_per_iter']:.0f} ms wall, {b['cpu_ms_per_iter']:.0f} ms CPU per iteration "
             f"({b['steps_per_s']:.0f} steps/s)", "",
             "| part | wall ms / iteration | share of wall | CPU ms / iteration |", "|---|---:|---:|---:|"]
    for half, keys in halves.items():
        wall = sum(b["parts_ms"][k] for k in keys)
        lines.append(f"| **{half} (all)** | {wall:.1f} | {100 * wall / b['ms_per_iter']:.1f}% | "
                     f"{sum(b['parts_cpu_ms'][k] for k in keys):.1f} |")
        for k in sorted(keys, key=lambda k: -b["parts_ms"][k]):
            lines.append(f"| {k} | {b['parts_ms'][k]:.1f} | {100 * b['parts_ms'][k] / b['ms_per_iter']:.1f}% | "
                         f"{b['parts_cpu_ms'][k]:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--batch", type=int, default=None, help="batch_steps (default: the run's own, preset included)")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", help="KEY=VALUE config override")
    a = p.parse_args(argv)

    from trpo.config import Config, parse_overrides
    from trpo.system import cpu_model

    cfg = Config(env_id=a.env, seed=a.seed, eval_periodic_episodes=0, eval_episodes=1, check_env=False)
    if a.batch:
        cfg = cfg.replace(batch_steps=a.batch)
    cfg = cfg.replace(**parse_overrides(a.set or []))
    print(f"{cpu_model()}\n")
    print(table(breakdown(cfg, a.iters, a.warmup)))


if __name__ == "__main__":
    main()
