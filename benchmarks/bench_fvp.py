"""Cost of one Fisher-vector product: Hessian-of-KL (double backward) vs Gauss-Newton J^T M J v
through autograd vs the same J^T M J v written out (the default for the built-in tanh-MLP
actors), on the full batch and on a sub-sample, for the default 64x64 tanh actor (interleaved,
medians).

    python benchmarks/bench_fvp.py --obs-dim 11 --act-dim 3 --batch 2048
"""
from __future__ import annotations

import argparse
import statistics
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--obs-dim", type=int, default=11)
    p.add_argument("--act-dim", type=int, default=3)
    p.add_argument("--discrete", action="store_true", help="categorical head with act-dim actions")
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--subsample", type=float, default=0.2)
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)

    import torch

    from trpo.algos.trust_region import written_out_fvp
    from trpo.functional.fisher import fisher_vector_product, gauss_newton_fvp
    from trpo.nets.policies import CategoricalActor, GaussianActor

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    actor = (CategoricalActor if a.discrete else GaussianActor)(a.obs_dim, a.act_dim, tuple(a.hidden))
    params = list(actor.parameters())
    n = sum(q.numel() for q in params)
    obs_all = torch.randn(a.batch, a.obs_dim)

    def build(kind, obs):
        with torch.no_grad():
            old = actor.dist_params(obs)
        if kind == "hessian":
            return fisher_vector_product(actor.kl(old, actor.dist_params(obs)).mean(), params, 0.1)
        if kind == "gauss-newton written out":
            return written_out_fvp(actor, obs, old, 0.1)
        return gauss_newton_fvp(lambda: actor.dist_params(obs), actor.kl, old, params, 0.1)

    k = max(1, int(a.batch * a.subsample))
    cases = [(kind, size) for size in (a.batch, k) for kind in ("hessian", "gauss-newton", "gauss-newton written out")]
    times = {c: [] for c in cases}
    v = torch.randn(n)
    for _ in range(a.reps):
        for kind, size in cases:  # interleaved: load changes hit every case alike
            fvp = build(kind, obs_all[:size])
            fvp(v)  # the first product is part of a CG solve too; time 10 (a CG solve)
            t = time.perf_counter()
            for _ in range(10):
                fvp(v)
            times[(kind, size)].append((time.perf_counter() - t) / 10)
    print(f"actor {a.obs_dim}-{'-'.join(map(str, a.hidden))}-{a.act_dim} ({'categorical' if a.discrete else 'gaussian'}), "
          f"{n} parameters, {a.threads} torch thread(s)\n")
    print("| FVP | states | ms per product (median) | x hessian |\n|---|---:|---:|---:|")
    for kind, size in cases:
        med = statistics.median(times[(kind, size)])
        print(f"| {kind} | {size} | {1e3 * med:.2f} | {statistics.median(times[('hessian', size)]) / med:.2f} |")


if __name__ == "__main__":
    main()
