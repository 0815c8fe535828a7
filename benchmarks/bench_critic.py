"""Cost of one critic fit (``algos/common.py: fit_critic``): backpropagation written out
(``functional/mlp.py``, the default for tanh-MLP critics) against torch.autograd, and Adam's
kernels (fused, the default; single-tensor; foreach), interleaved, medians.

    python benchmarks/bench_critic.py --obs-dim 11 --batch 2048 --minibatch 256

Prints ms per fit (10 epochs by default) and the ratio to autograd + foreach Adam (torch's defaults).
"""
from __future__ import annotations

import argparse
import statistics
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--obs-dim", type=int, default=11)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--minibatch", type=int, default=256)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)

    import torch

    from trpo.algos.common import fit_critic
    from trpo.nets.policies import Critic

    torch.set_num_threads(a.threads)

    class AutogradCritic(Critic):  # overriding forward sends fit_critic down the autograd path
        def forward(self, obs):
            return super().forward(obs)

    obs, y = torch.randn(a.batch, a.obs_dim), torch.randn(a.batch)
    variants = {}
    for grads, cls in (("written out", Critic), ("autograd", AutogradCritic)):
        for kernel, kw in (("fused", {"fused": True}), ("single-tensor", {"foreach": False}),
                           ("foreach", {"foreach": True})):
            c = cls(a.obs_dim, tuple(a.hidden))
            variants[f"{grads} + Adam {kernel}"] = (c, torch.optim.Adam(c.parameters(), 1e-3, **kw))
    times = {k: [] for k in variants}
    for name, (c, opt) in variants.items():  # warm up
        fit_critic(c, opt, obs, y, 1, a.minibatch)
    for _ in range(a.repeats):
        for name, (c, opt) in variants.items():
            t = time.perf_counter()
            fit_critic(c, opt, obs, y, a.epochs, a.minibatch)
            times[name].append(time.perf_counter() - t)
    steps = a.epochs * -(-a.batch // a.minibatch)
    ref = statistics.median(times["autograd + Adam foreach"])
    print(f"critic fit: batch {a.batch}, minibatch {a.minibatch}, {a.epochs} epochs ({steps} Adam steps), "
          f"obs dim {a.obs_dim}, hidden {a.hidden}, {a.threads} torch thread(s)\n")
    print("| gradients + optimiser | ms per fit | ms per Adam step | x autograd + foreach |")
    print("|---|---:|---:|---:|")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"| {name} | {1e3 * m:.1f} | {1e3 * m / steps:.3f} | {ref / m:.2f} |")


if __name__ == "__main__":
    main()
