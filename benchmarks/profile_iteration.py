"""Where one TRPO iteration spends its time: sampling (env step / policy inference / the rest of
the sampler) and the update (GAE / Fisher setup / CG / line search / critic fit / other).

    python benchmarks/profile_iteration.py --env Hopper-v5 --batch 2048
    python benchmarks/profile_iteration.py --env Hopper-v5 --batch 2048 --set fvp=gauss-newton --set fvp_subsample=0.2

It builds the same objects as ``trpo.trainer.train`` (Agent, learner, SinglePathSampler, vector env) and
wraps the library's own functions with timers, so the numbers are for the real code path. The
first ``--warmup`` iterations are not counted. Prints a markdown table (ms per iteration, share).
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", help="KEY=VALUE config override")
    a = p.parse_args(argv)

    import numpy as np
    import torch

    import trpo.algos.critic_process as CP
    import trpo.algos.trust_region as TR
    import trpo.rollout.single_path as SP
    from trpo.agent import Agent
    from trpo.algos import build_learner, get_learner
    from trpo.config import Config, parse_overrides
    from trpo.normalize import RewardScaler
    from trpo.resolve import resolve_run

    cfg = Config(env_id=a.env, batch_steps=a.batch, seed=a.seed).replace(**parse_overrides(a.set or []))
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.torch_threads)
    cfg, env = resolve_run(cfg)  # the run's concrete choices (preset, vector_mode, critic_fit, ...)
    device = torch.device(cfg.device)
    learner_cls = get_learner(cfg.algo)
    import sys
    learner_mod = sys.modules[learner_cls.__module__]

    acc = defaultdict(float)
    counting = [False]

    def timed(label, fn):
        def wrapper(*args, **kw):
            t = time.perf_counter()
            out = fn(*args, **kw)
            if counting[0]:
                acc[label] += time.perf_counter() - t
            return out
        return wrapper

    # the update's pieces, wrapped where the learner looks them up
    for name, label in [("estimate_advantages", "update: GAE + critic values"), ("fit_critic", "update: critic fit")]:
        if hasattr(learner_mod, name):
            setattr(learner_mod, name, timed(label, getattr(learner_mod, name)))
    # critic_fit = "process": the fit runs in the helper; here only the hand-off and the wait count
    CP.CriticFitProcess.submit = timed("update: critic fit hand-off (process)", CP.CriticFitProcess.submit)
    CP.CriticFitProcess.result = timed("update: waiting for the critic fit (process)", CP.CriticFitProcess.result)
    TR.backtracking_line_search = timed("update: line search", TR.backtracking_line_search)
    TR.natural_step = timed("update: CG (Fisher-vector products)", TR.natural_step)
    TR.fisher_vector_product = timed("update: Fisher setup (1st backward)", TR.fisher_vector_product)
    TR.gauss_newton_fvp = timed("update: Fisher setup (1st backward)", TR.gauss_newton_fvp)

    # the sampler's pieces: policy inference and env stepping
    orig_make_policy = SP.make_policy

    def make_policy(actor, dev):
        pol = orig_make_policy(actor, dev)
        pol.act = timed("sampling: policy inference", pol.act)
        return pol

    SP.make_policy = make_policy
    SP.RecurrentPolicy.act = timed("sampling: policy inference", SP.RecurrentPolicy.act)  # policy = gru/lstm

    envs = env.make_vector(cfg.num_envs)
    envs.step = timed("sampling: env step", envs.step)
    agent = Agent(cfg, envs.single_observation_space, envs.single_action_space, device)
    learner = build_learner(cfg, agent, device)
    sampler = SP.SinglePathSampler(envs, agent.actor, agent.obs_norm, RewardScaler(cfg.num_envs, cfg.gamma,
                                   cfg.normalize_rewards), cfg.steps_per_env, cfg.seed, device,
                                   critic=agent.critic, seq_len=cfg.seq_len)
    total = defaultdict(float)
    for it in range(a.warmup + a.iters):
        counting[0] = it >= a.warmup
        t0 = time.perf_counter()
        batch = sampler.collect()
        t1 = time.perf_counter()
        learner.update(batch)
        t2 = time.perf_counter()
        if counting[0]:
            total["sampling"] += t1 - t0
            total["update"] += t2 - t1
    envs.close()
    if hasattr(learner, "close"):
        learner.close()

    n = a.iters
    it_ms = (total["sampling"] + total["update"]) / n * 1e3
    rows = [("sampling (all)", total["sampling"])]
    rows += sorted(((k, v) for k, v in acc.items() if k.startswith("sampling")), key=lambda kv: -kv[1])
    rows.append(("sampling: the rest (normalise, bookkeeping)",
                 total["sampling"] - sum(v for k, v in acc.items() if k.startswith("sampling"))))
    rows.append(("update (all)", total["update"]))
    rows += sorted(((k, v) for k, v in acc.items() if k.startswith("update")), key=lambda kv: -kv[1])
    rows.append(("update: the rest (policy gradient, pi_old, entropy)",
                 total["update"] - sum(v for k, v in acc.items() if k.startswith("update"))))
    print(f"{cfg.env_id}, batch {cfg.batch_steps} ({cfg.num_envs} envs, {cfg.vector_mode}), fvp={cfg.fvp}, "
          f"fvp_subsample={cfg.fvp_subsample}, critic {cfg.critic_epochs} epochs x minibatch {cfg.critic_minibatch}, "
          f"critic_fit {cfg.critic_fit}, torch threads {cfg.torch_threads}: {it_ms:.0f} ms per iteration ({cfg.batch_steps / it_ms * 1e3:.0f} steps/s)\n")
    print("| part | ms / iteration | share |\n|---|---:|---:|")
    for k, v in rows:
        ms = v / n * 1e3
        bold = "**" if "(all)" in k else ""
        print(f"| {bold}{k}{bold} | {ms:.1f} | {100 * ms / it_ms:.1f}% |")
    _ = np


if __name__ == "__main__":
    main()
