"""Adam as ``torch.optim.Adam(fused=True)`` computes it, without ``torch.optim.Optimizer``.

The update is torch's own: ``torch.optim.adam.adam``, the functional form ``torch.optim.Adam``
calls, with its fused kernel (one call for all parameters, CPU and CUDA). ``step_with`` calls that
kernel itself (the private ops ``torch._foreach_add_`` and ``torch._fused_adam_``, as the
functional form does for one device and dtype): private ops can change between torch releases;
tests/test_optim.py steps both against ``torch.optim.Adam`` bitwise, on every torch the tests run on
(``make test`` and ``make test-floor``). What this class leaves
out is the ``Optimizer`` base class, whose ``add_param_group`` and ``step`` import
``torch._dynamo`` on first use: +77 MB of RSS in every process that builds an optimiser (here
~330 -> ~255 MB for a CartPole TRPO run), for a compiler we never call. The state dict has
``torch.optim.Adam``'s layout, so either loads the other's (tests/test_optim.py steps the two
side by side, bitwise).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim.adam import adam as adam_update


class FusedAdam:
    """``torch.optim.Adam(params, lr, betas, eps, weight_decay, fused=True)``: ``step``,
    ``zero_grad``, ``param_groups`` (one group; ``lr`` may be changed between steps),
    ``state_dict`` / ``load_state_dict``."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        params = list(params)
        if not params:
            raise ValueError("FusedAdam got an empty parameter list")
        self.param_groups: list[dict[str, Any]] = [{"params": params, "lr": lr, "betas": tuple(betas), "eps": eps,
                              "weight_decay": weight_decay, "amsgrad": False, "maximize": False, "foreach": None,
                              "capturable": False, "differentiable": False, "fused": True,
                              "decoupled_weight_decay": False}]
        self.state: dict[Tensor, dict[str, Tensor]] = {}

    @torch.no_grad()
    def step(self) -> None:
        g = self.param_groups[0]
        params = [p for p in g["params"] if p.grad is not None]
        if not params:
            return
        s = self._states(params)
        adam_update(params, [p.grad for p in params], [x["exp_avg"] for x in s], [x["exp_avg_sq"] for x in s], [],
                    [x["step"] for x in s], foreach=False, capturable=False, differentiable=False, fused=True,
                    grad_scale=None, found_inf=None, has_complex=False, amsgrad=False, beta1=g["betas"][0],
                    beta2=g["betas"][1], lr=g["lr"], weight_decay=g["weight_decay"], eps=g["eps"], maximize=False)

    @torch.no_grad()
    def step_with(self, grads: list[Tensor]) -> None:
        """``step()`` with ``grads[i]`` the gradient of the i-th parameter, for parameters that share
        one device and dtype (a plain MLP's): the same fused kernel on the same tensors (bitwise,
        tests/test_optim.py), without setting ``.grad`` and without the functional form's grouping
        by device and dtype, whose Python costs more than the kernel on a 64x64 critic's six
        tensors (the critic fit takes hundreds of steps per iteration). Other parameters: their
        ``.grad`` set and ``step``. The kernel checks no shapes: a gradient whose shape, dtype or
        device is not its parameter's is a ValueError here."""
        g = self.param_groups[0]
        params = g["params"]
        if len(grads) != len(params):
            raise ValueError(f"{len(grads)} gradients for {len(params)} parameters")
        layout = self._layout(params)
        if [(gr.shape, gr.dtype, gr.device) for gr in grads] != layout:
            for i, (gr, (shape, dtype, device)) in enumerate(zip(grads, layout)):
                if (gr.shape, gr.dtype, gr.device) != (shape, dtype, device):
                    raise ValueError(f"gradient {i} is {tuple(gr.shape)} {gr.dtype} on {gr.device}, its parameter "
                                     f"{tuple(shape)} {dtype} on {device}")
        if len({(dtype, device) for _, dtype, device in layout}) > 1:  # the kernel takes one device and dtype
            for p, gr in zip(params, grads):
                p.grad = gr
            return self.step()
        s = self._states(params)
        steps = [x["step"] for x in s]
        # what torch.optim.adam._fused_adam does for one device and dtype
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(params, grads, [x["exp_avg"] for x in s], [x["exp_avg_sq"] for x in s], [], steps,
                           amsgrad=False, lr=g["lr"], beta1=g["betas"][0], beta2=g["betas"][1],
                           weight_decay=g["weight_decay"], eps=g["eps"], maximize=False, grad_scale=None,
                           found_inf=None)

    def _layout(self, params: list[Tensor]) -> list[tuple]:
        """(shape, dtype, device) of every parameter, read once per parameter list (a Parameter's
        attributes cost more to read than a plain tensor's, and step_with runs hundreds of times)."""
        cached = getattr(self, "_layout_of", None)
        if cached is None or cached[0] is not params or len(cached[1]) != len(params):
            cached = self._layout_of = (params, [(p.shape, p.dtype, p.device) for p in params])
        return cached[1]

    def _states(self, params: list[Tensor]) -> list[dict[str, Tensor]]:
        """Each parameter's state, made at its first step as torch.optim.Adam's _init_group makes it
        (fused: the step counter on the parameter's device)."""
        for p in params:
            if p not in self.state:
                self.state[p] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                 "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                 "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        return [self.state[p] for p in params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def state_dict(self) -> dict:
        """``torch.optim.Adam.state_dict()``'s layout: parameters by index, the state's tensors (not copies)."""
        g = self.param_groups[0]
        index = {id(p): i for i, p in enumerate(g["params"])}
        return {"state": {index[id(p)]: dict(st) for p, st in self.state.items()},
                "param_groups": [{**{k: v for k, v in g.items() if k != "params"}, "params": list(range(len(index)))}]}

    def load_state_dict(self, d: dict) -> None:
        """Load a state dict of this class or of ``torch.optim.Adam`` over the same parameters."""
        g = self.param_groups[0]
        (saved,) = d["param_groups"]
        if len(saved["params"]) != len(g["params"]):
            raise ValueError(f"optimizer state for {len(saved['params'])} parameters, this one has {len(g['params'])}")
        for k in ("lr", "betas", "eps", "weight_decay"):
            g[k] = tuple(saved[k]) if k == "betas" else saved[k]
        self.state = {}
        for i, st in d["state"].items():
            p = g["params"][saved["params"].index(int(i))]
            self.state[p] = {"step": torch.as_tensor(st["step"], dtype=torch.float32).to(p.device).reshape(()).clone(),
                             "exp_avg": st["exp_avg"].to(p.device, p.dtype).clone(),
                             "exp_avg_sq": st["exp_avg_sq"].to(p.device, p.dtype).clone()}
