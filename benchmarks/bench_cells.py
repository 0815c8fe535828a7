"""The recurrent cells' cost: trpo's written-out GRU/LSTM (``trpo.nets.recurrent.RecurrentCore``) against
PyTorch's own CPU cells (``torch.gru_cell`` / ``torch.lstm_cell``, the same weights and gate layout),
one unroll of ``--steps`` steps over a batch of ``--batch`` chunks, forward and backward.

    python benchmarks/bench_cells.py                       # 16 steps x 8 chunks: a critic minibatch
    python benchmarks/bench_cells.py --batch 64 --hidden 64

Both sides in one process, interleaved, one torch thread; prints ms per unroll and the ratio
(written-out / torch), with the CPU model. The written-out cells are what trpo uses: their double
backward (the Fisher-vector products) does not depend on a fused kernel (docs/recurrent.md).
"""
from __future__ import annotations

import argparse
import time

import torch

from trpo.system import cpu_model  # lscpu's model name, CPUs and hypervisor


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--inputs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=300)
    a = p.parse_args(argv)

    from trpo.nets.recurrent import RecurrentCore

    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"{cpu_model()}, torch {torch.__version__}, 1 thread; unroll of {a.steps} steps x {a.batch} chunks, "
          f"{a.inputs} inputs, {a.hidden} units, forward + backward")
    print("| cell | written-out (ms) | torch cell (ms) | written-out / torch |\n|---|---:|---:|---:|")
    for kind in ("gru", "lstm"):
        core = RecurrentCore(a.inputs, a.hidden, kind)
        H = a.hidden
        x = torch.randn(a.batch, a.steps, a.inputs)
        starts = torch.rand(a.batch, a.steps) < 0.05
        s0 = torch.zeros(a.batch, core.state_size)
        w = (core.x2h.weight, core.h2h.weight, core.x2h.bias, core.h2h.bias)

        def ours():
            return core.unroll(x, starts, s0)

        def theirs():
            keep = (~starts).float().unsqueeze(-1)
            s, outs = s0, []
            for t in range(a.steps):
                s = s * keep[:, t]
                if kind == "gru":
                    s = out = torch.gru_cell(x[:, t], s, *w)
                else:
                    out, c = torch.lstm_cell(x[:, t], (s[:, :H], s[:, H:]), *w)
                    s = torch.cat([out, c], -1)
                outs.append(out)
            return torch.stack(outs, 1)

        torch.testing.assert_close(ours(), theirs(), rtol=1e-5, atol=1e-6)  # the same function
        times = {ours: 0.0, theirs: 0.0}
        for f in (ours, theirs):
            for _ in range(10):
                f().sum().backward()
        for _ in range(a.repeats):
            for f in (ours, theirs):
                t = time.perf_counter()
                f().sum().backward()
                times[f] += time.perf_counter() - t
        mo, mt = (times[f] / a.repeats * 1e3 for f in (ours, theirs))
        print(f"| {kind} | {mo:.2f} | {mt:.2f} | {mo / mt:.2f} |")


if __name__ == "__main__":
    main()
