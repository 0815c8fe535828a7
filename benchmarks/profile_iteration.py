"""Where one training iteration spends its time: sampling (env step / policy inference / the rest of
the sampler) and the update (GAE / pi_old / policy gradient / Fisher setup / Fisher-vector products
in CG / line search / critic fit / the rest), in wall and in process CPU time.

    python benchmarks/profile_iteration.py --env Hopper-v5 --batch 2048
    python benchmarks/profile_iteration.py --env Hopper-v5 --batch 2048 --set fvp=gauss-newton --set fvp_subsample=0.2
    python benchmarks/profile_iteration.py --env ALE/Pong-v5 --iters 2 --set critic_fit=inline

It runs the real ``trpo.trainer.train`` for ``--warmup + --iters`` iterations with the library's own
functions wrapped in timers (where the sampler and the learner look them up), so the numbers are for
the real code path, whatever the algorithm, sampler, policy or preset. The wrapped parts never call
one another: no time is counted twice. CPU time is the process's (all its threads: EnvPool's and
torch's too); with ``critic_fit = "process"`` the fit runs in the helper and only the hand-off and
the wait count here. The first ``--warmup`` iterations are not counted. Prints a markdown table.
``benchmarks/bench_atari.py --only breakdown`` calls ``breakdown`` for its Atari and MinAtar tables.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

_ABSENT = object()


def breakdown(cfg, iters: int, warmup: int = 1) -> dict:
    """Train ``cfg`` for warmup + iters iterations with timers around each part; per counted
    iteration: {"ms_per_iter", "cpu_ms_per_iter", "parts_ms", "parts_cpu_ms", "calls_per_iter",
    "batch_steps", "steps_per_s", "resolved": the run's resolved Config}. Every function it wraps is
    put back on return, so the process's library is as it was."""
    import trpo.algos.critic_process as CP
    import trpo.algos.trust_region as TR
    import trpo.nets.policy_runner as PR
    from trpo.algos import get_learner
    from trpo.resolve import resolve_run, sampler_key
    from trpo.rollout import SAMPLERS, get_sampler
    from trpo.envs.make import EnvSpec
    from trpo.trainer import train

    acc: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    total: dict[str, float] = defaultdict(float)
    state = {"iteration": 0, "counting": False}

    def timed(label, fn):
        def wrapper(*args, **kw):
            t, c = time.perf_counter(), time.process_time()
            out = fn(*args, **kw)
            if state["counting"]:
                acc[label] += time.perf_counter() - t
                cpu[label] += time.process_time() - c
                calls[label] += 1
            return out
        return wrapper

    undo: list[tuple[object, str, object]] = []

    def patch(obj, name, wrap):  # obj.name = wrap(obj.name), remembered for undoing
        if hasattr(obj, name):
            undo.append((obj, name, vars(obj).get(name, _ABSENT)))
            setattr(obj, name, wrap(getattr(obj, name)))

    resolved, _ = resolve_run(cfg)
    learner_cls = get_learner(resolved.algo)
    learner_mod = sys.modules[learner_cls.__module__]
    # sampling: env stepping and policy inference
    def make_vector_timed(make_vector):
        def build(self, *args, **kw):
            envs = make_vector(self, *args, **kw)
            envs.step = timed("sampling: env step", envs.step)
            return envs
        return build
    patch(EnvSpec, "make_vector", make_vector_timed)

    def make_policy_timed(make):
        def build(actor, device):
            pol = make(actor, device)
            pol.act = timed("sampling: policy inference", pol.act)
            return pol
        return build
    for key in SAMPLERS:  # every sampler module that builds a policy runner
        patch(sys.modules[get_sampler(key).__module__], "make_policy", make_policy_timed)
    patch(PR.RecurrentPolicy, "act", lambda fn: timed("sampling: policy inference", fn))
    # the update's parts, where the learner looks them up
    for name, label in [("gae_batch", "update: GAE + critic values"),
                        ("estimate_advantages", "update: GAE + critic values"),
                        ("frozen_policy", "update: pi_old forward"), ("fit_critic", "update: critic fit")]:
        patch(learner_mod, name, lambda fn, label=label: timed(label, fn))
    patch(TR, "flat_grad", lambda fn: timed("update: policy gradient (forward + backward)", fn))
    patch(TR, "backtracking_line_search", lambda fn: timed("update: line search", fn))

    def fvp_factory(make):
        build = timed("update: Fisher setup", make)

        def wrapped(*args, **kw):
            fvp = build(*args, **kw)
            return timed("update: Fisher-vector products (CG)", fvp) if fvp is not None else None
        return wrapped
    for name in ("gauss_newton_fvp", "fisher_vector_product", "written_out_fvp"):
        patch(TR, name, fvp_factory)
    patch(CP.CriticFitProcess, "submit", lambda fn: timed("update: critic fit hand-off (process)", fn))
    patch(CP.CriticFitProcess, "result", lambda fn: timed("update: waiting for the critic fit (process)", fn))

    # the two halves of an iteration, around the sampler's collect and the learner's update
    def around(label):  # sampling starts an iteration, the update ends it
        def wrap(fn):
            def wrapper(self, *args, **kw):
                if label == "sampling":
                    state["counting"] = state["iteration"] >= warmup
                t, c = time.perf_counter(), time.process_time()
                out = fn(self, *args, **kw)
                if state["counting"]:
                    total[label] += time.perf_counter() - t
                    total[label + "_cpu"] += time.process_time() - c
                if label == "update":
                    state["iteration"] += 1
                return out
            return wrapper
        return wrap
    patch(get_sampler(sampler_key(resolved)), "collect", around("sampling"))
    patch(learner_cls, "update", around("update"))

    # enough steps for any sampler (vine's branches count too); the callback stops the run
    cfg = cfg.replace(total_steps=100 * (iters + warmup) * resolved.batch_steps, eval_every=0)
    try:
        with tempfile.TemporaryDirectory() as d:
            train(cfg, run_dir=Path(d) / "run", progress=False,
                  callback=lambda row, agent: state["iteration"] >= warmup + iters)
    finally:
        for obj, name, old in reversed(undo):
            if old is _ABSENT:  # inherited: drop the override
                delattr(obj, name)
            else:
                setattr(obj, name, old)

    n = state["iteration"] - warmup

    def parts(acc, sampling, update):
        ms = {k: 1e3 * v / n for k, v in acc.items()}
        ms["sampling: the rest (normalise, bookkeeping)"] = 1e3 * sampling / n - sum(
            v for k, v in ms.items() if k.startswith("sampling"))
        ms["update: the rest (entropy, value loss, KL, ...)"] = 1e3 * update / n - sum(
            v for k, v in ms.items() if k.startswith("update"))
        return ms
    it_ms = 1e3 * (total["sampling"] + total["update"]) / n
    steps = resolved.batch_steps
    return {"iters": n, "batch_steps": steps, "ms_per_iter": it_ms, "steps_per_s": steps / it_ms * 1e3,
            "cpu_ms_per_iter": 1e3 * (total["sampling_cpu"] + total["update_cpu"]) / n,
            "parts_ms": parts(acc, total["sampling"], total["update"]),
            "parts_cpu_ms": parts(cpu, total["sampling_cpu"], total["update_cpu"]),
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
