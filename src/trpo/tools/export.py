"""``trpo export``: a trained policy as one graph from the RAW observation to the ENV action.

    trpo export runs/my_run --format onnx          # -> runs/my_run/policy.onnx
    trpo export runs/my_run --format torchscript   # -> runs/my_run/policy.pt

The graph holds everything ``Agent.act`` does (deterministic) outside the actor as well: the
observation normaliser with the run's frozen statistics as constants (o -> clip((o - mean) / std,
-clip_obs, clip_obs)), the actor's deterministic action (``actor.mode(actor.dist_params(x))``:
the Gaussian mean, the argmax of a Categorical, the argmax of every MultiDiscrete component) and
the clipping of continuous actions to the Box bounds. Image observations (3-D uint8 Box) go in as
uint8, as the env gives them: the CNN scales them by 1/255 inside the network.

Input ``obs``: a batch (any size) of raw observations, float32 (uint8 for images), shape
(batch, *observation_space.shape). Output ``action``: (batch, *action_space.shape), of the Box's
dtype for continuous actions, int64 for Discrete / MultiDiscrete ones.

A recurrent policy (``policy`` gru or lstm) exports its step function: inputs ``obs`` and
``state`` (batch, state size; zeros at an episode's start), outputs ``action`` and ``state_out``,
the state to pass with the episode's next observation (``Agent.act(obs, state=...)``'s pair).

Precision: ``Agent.act`` runs the plain tanh-MLP actors in float64 numpy (``policy_runner``), so
their graph computes in float64 too (after the same float32 rounding of the normalised
observation), which makes its actions agree with ``Agent.act`` to float32 rounding; any other
actor (the CNN) runs in its own dtype, as in ``Agent.act``. Every export is checked against
``Agent.act`` on a few hundred observations before it is reported written.

onnxruntime has no float64 ``Erf``: a float64 graph with GELU activations (``activation = "gelu"``)
evaluates erf in float32 in its ONNX form (TorchScript keeps float64), which leaves its actions
within float32 rounding of ``Agent.act``'s, as the check requires.

ONNX goes through ``torch.onnx.export(dynamo=True)`` (``torch.export`` then onnxscript, the
exporter torch maintains; opset 18) with a dynamic batch axis; should ``torch.export`` not capture
an unusual actor, the TorchScript-based exporter is tried instead. Needs ``pip install
'trpo[export]'``. TorchScript goes through ``torch.jit.trace`` and needs nothing extra.
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from trpo.errors import ConfigError, TrpoError

FORMATS = {"onnx": "policy.onnx", "torchscript": "policy.pt"}
OPSET = 18
EXTRA_MISSING = "trpo export --format onnx needs: pip install 'trpo[export]'"
INPUT, OUTPUT = "obs", "action"
STATE_IN, STATE_OUT = "state", "state_out"  # recurrent policies


class DeployablePolicy(nn.Module):
    """raw observations (B, *obs_shape) -> env actions (B, *act_shape), deterministic.

    Built from a copy of the agent's actor, so the agent is left as it was. Uses only the actor
    vocabulary (``dist_params``, ``mode``): any ``Actor`` subclass that implements it works."""

    obs_mean: Tensor  # buffers
    obs_std: Tensor
    act_low: Tensor
    act_high: Tensor

    def __init__(self, agent):
        super().__init__()
        import gymnasium as gym

        from trpo.nets.policy_runner import NumpyPolicy

        actor = copy.deepcopy(agent.actor).cpu().eval()
        for p in actor.parameters():
            p.requires_grad_(False)
        # Agent.act's own precision: plain tanh MLPs in float64 numpy, anything else in torch as it is
        self.numpy_path = NumpyPolicy.supports(actor)
        if self.numpy_path:
            actor = actor.double()
        self.actor = actor
        self.compute_dtype = torch.float64 if self.numpy_path else _module_dtype(actor)
        self.recurrent = bool(actor.recurrent)
        self.state_size = actor.state_size if self.recurrent else 0

        norm = agent.obs_norm
        self.obs_shape = tuple(agent.obs_space.shape)
        self.input_dtype = _torch_dtype(norm.dtype)  # float32, or uint8 for image frames
        self.normalize = bool(norm.enabled)
        mean, std = norm.frozen()
        self.register_buffer("obs_mean", torch.as_tensor(np.asarray(mean, np.float64)).clone())
        self.register_buffer("obs_std", torch.as_tensor(np.asarray(std, np.float64)).clone())
        self.clip_obs = float(norm.clip)

        space = agent.act_space
        self.box = isinstance(space, gym.spaces.Box)
        if self.box:
            self.register_buffer("act_low", torch.as_tensor(np.asarray(space.low)).clone())
            self.register_buffer("act_high", torch.as_tensor(np.asarray(space.high)).clone())
            self.act_dtype = _torch_dtype(space.dtype)
        self.act_shape = tuple(space.shape)

    def forward(self, obs: Tensor, state: Tensor | None = None):
        if self.normalize:  # ObsNormalizer: float32 obs, float64 statistics, float32 result
            x = obs.to(torch.float32).to(torch.float64)
            x = ((x - self.obs_mean) / self.obs_std).clamp(-self.clip_obs, self.clip_obs).to(torch.float32)
        else:
            x = obs.to(torch.float32)  # uint8 frames: the CNN scales them by 1/255 itself
        x = x.to(self.compute_dtype)
        if self.recurrent:  # one step of every env from its state: (action, state')
            params, state = self.actor.step(x, state)
            return self._env_action(self.actor.mode(params)), state
        return self._env_action(self.actor.mode(self.actor.dist_params(x)))

    def _env_action(self, a: Tensor) -> Tensor:
        if not self.box:
            return a  # argmax indices (per component for MultiDiscrete), int64
        if self.numpy_path:
            a = a.to(torch.float32)  # NumpyPolicy's deterministic action: the mean as float32
        # action_to_env: np.clip(a, low, high).astype(space.dtype), in numpy's promoted dtype
        ct = torch.promote_types(a.dtype, self.act_low.dtype)
        a = torch.minimum(torch.maximum(a.to(ct), self.act_low.to(ct)), self.act_high.to(ct))
        return a.to(self.act_dtype)


def deployable(agent) -> DeployablePolicy:
    """The agent's deterministic policy as one module: raw observation batch -> env action batch."""
    return DeployablePolicy(agent).eval()


def _torch_dtype(dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, np.dtype(dtype))).dtype


def _module_dtype(m: nn.Module) -> torch.dtype:
    for t in m.parameters():
        if t.is_floating_point():
            return t.dtype
    return torch.float32


# --- observations to check the exported graph on --------------------------------------------------
def probe_observations(agent, n: int = 256, seed: int = 0) -> np.ndarray:
    """``n`` raw observations spread widely: inside the observation space, outside its bounds, and
    far beyond the normaliser's clipping range (so every clip in the graph is exercised)."""
    rng = np.random.default_rng(seed)
    space, norm = agent.obs_space, agent.obs_norm
    shape, dtype = tuple(space.shape), np.dtype(norm.dtype)
    if np.issubdtype(dtype, np.integer):  # image frames (not normalised): every pixel value
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=(n, *shape)).astype(dtype)
    low = np.broadcast_to(np.asarray(space.low, np.float64), shape)
    high = np.broadcast_to(np.asarray(space.high, np.float64), shape)
    mean, std = norm.frozen()
    mean = np.broadcast_to(np.asarray(mean, np.float64), shape)
    std = np.broadcast_to(np.asarray(std, np.float64), shape)
    finite = np.isfinite(low) & np.isfinite(high) & (high - low < 1e6)
    center = np.where(finite, (np.where(finite, low, 0) + np.where(finite, high, 0)) / 2, mean)
    half = np.where(finite, (np.where(finite, high, 1) - np.where(finite, low, 0)) / 2, 3 * std)
    k = n // 3
    parts = [
        center + half * rng.uniform(-1, 1, (k, *shape)),                                  # inside the bounds
        center + half * rng.uniform(-3, 3, (k, *shape)) + rng.normal(0, 1, (k, *shape)),  # beyond them
        mean + std * rng.normal(0, 15, (n - 2 * k, *shape)),                              # beyond clip_obs
    ]
    return np.clip(np.concatenate(parts), -1e30, 1e30).astype(dtype)


def probe_states(agent, n: int, seed: int = 1) -> np.ndarray | None:
    """A recurrent policy's states to check the step function from: zeros (an episode's start) and
    states reached by stepping from random ones; None for a Markov policy."""
    if not agent.recurrent:
        return None
    rng = np.random.default_rng(seed)
    h = rng.normal(0.0, 0.5, (n, agent.actor.state_size)).astype(np.float32)
    h[: n // 4] = 0.0
    return h


def check_parity(agent, run, obs: np.ndarray, what: str) -> None:
    """Raise TrpoError (one line) unless ``run(obs)`` gives ``Agent.act``'s actions (for a
    recurrent policy ``run(obs, state)`` its actions and next states)."""
    states = probe_states(agent, len(obs))

    def _run(*args):
        try:
            return run(*args)
        except Exception as e:  # noqa: BLE001 - whatever the runtime says, as one line
            raise TrpoError(f"exported {what} cannot be run: {type(e).__name__}: {_first_line(e)}; "
                            "nothing was written") from None

    if states is not None:
        want, want_h = agent.act(obs, state=torch.from_numpy(states))
        got, got_h = _run(obs, states)
        if not np.allclose(np.asarray(got_h, np.float64), want_h.numpy().astype(np.float64), rtol=1e-4, atol=1e-5):
            raise TrpoError(f"exported {what} disagrees with Agent.act on the next hidden state; nothing was written")
        want, got = np.asarray(want), np.asarray(got)
    else:
        want = np.asarray(agent.act(obs))
        got = np.asarray(_run(obs))
    if got.shape != want.shape:
        raise TrpoError(f"exported {what} gives actions of shape {got.shape}, Agent.act {want.shape}")
    if np.issubdtype(want.dtype, np.floating):
        g, w = got.astype(np.float64), want.astype(np.float64)
        finite = w[np.isfinite(w)]
        atol = 1e-5 * max(1.0, float(np.abs(finite).max()) if finite.size else 1.0)  # float32 sums of large terms
        bad = int(np.sum(~np.isclose(g, w, rtol=1e-5, atol=atol)))
    else:
        bad = int(np.sum(got != want))
    ok = bad == 0
    if not ok:
        raise TrpoError(f"exported {what} disagrees with Agent.act on {bad} of {want.size} action entries; "
                        "nothing was written")


# --- the two formats -------------------------------------------------------------------------------
def _recurrent(policy: nn.Module) -> bool:
    return bool(getattr(policy, "recurrent", False))  # a wrapper of the obs -> action interface: no


def _example(policy: DeployablePolicy, obs: np.ndarray) -> tuple[Tensor, ...]:
    x = torch.as_tensor(obs[:4]).to(policy.input_dtype)
    if _recurrent(policy):
        return x, torch.zeros(4, policy.state_size, dtype=policy.compute_dtype)
    return (x,)


def _names(policy: DeployablePolicy) -> tuple[list[str], list[str]]:
    return ([INPUT, STATE_IN], [OUTPUT, STATE_OUT]) if _recurrent(policy) else ([INPUT], [OUTPUT])


def _quiet():
    """torch's exporters talk (deprecation notices, progress lines): keep the CLI's output clean."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    stack.callback(log.setLevel, level)
    return stack


def export_torchscript(policy: DeployablePolicy, path: Path, obs: np.ndarray) -> None:
    """Trace ``policy`` (batch axis free: the trace records the shape arithmetic) and save it."""
    try:
        with _quiet(), torch.no_grad():
            traced = torch.jit.freeze(torch.jit.trace(policy, _example(policy, obs), check_trace=False).eval())
            torch.jit.save(traced, str(path))
    except Exception as e:  # noqa: BLE001 — whatever torch.jit says, as one line
        raise TrpoError(f"TorchScript export failed: {type(e).__name__}: {_first_line(e)}") from None


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0]


def _onnx_modules():
    try:
        import onnx  # noqa: F401
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError:
        raise ConfigError(EXTRA_MISSING) from None  # exit status 2, as every user error
    return onnxruntime


class _Float32ErfGELU(nn.Module):
    """Exact GELU, x Phi(x), with erf evaluated in float32 (onnxruntime's CPU Erf is float32 only)."""

    def forward(self, x: Tensor) -> Tensor:
        return 0.5 * x * (1.0 + torch.erf(x.to(torch.float32) * (0.5 ** 0.5)).to(x.dtype))


def _onnx_runnable(policy: DeployablePolicy) -> DeployablePolicy:
    """``policy``, or a copy with every exact GELU of a float64 graph replaced by ``_Float32ErfGELU``."""
    if policy.compute_dtype != torch.float64 or not any(
            type(m) is nn.GELU and m.approximate == "none" for m in policy.modules()):
        return policy
    policy = copy.deepcopy(policy)
    for m in list(policy.modules()):
        for name, child in m.named_children():
            if type(child) is nn.GELU and child.approximate == "none":
                setattr(m, name, _Float32ErfGELU())
    return policy


def export_onnx(policy: DeployablePolicy, path: Path, obs: np.ndarray) -> None:
    """``torch.onnx.export(dynamo=True)`` with a dynamic batch axis, one self-contained file; the
    TorchScript-based exporter when ``torch.export`` cannot capture the actor."""
    _onnx_modules()
    policy = _onnx_runnable(policy)
    example = _example(policy, obs)
    inputs, outputs = _names(policy)
    errors = []
    with _quiet(), torch.no_grad():
        try:  # torch.export + onnxscript: the exporter torch maintains
            batch = torch.export.Dim("batch", min=1)
            prog = torch.onnx.export(policy, example, dynamo=True, input_names=inputs, output_names=outputs,
                                     dynamic_shapes=tuple({0: batch} for _ in example), opset_version=OPSET,
                                     external_data=False)
            prog.save(str(path))  # type: ignore[union-attr]  # dynamo=True returns the program
            return
        except Exception as e:  # noqa: BLE001 — an actor torch.export cannot capture: the older exporter
            errors.append(f"{type(e).__name__}: {_first_line(e)}")
        try:
            torch.onnx.export(policy, example, str(path), dynamo=False, input_names=inputs, output_names=outputs,
                              dynamic_axes={n: {0: "batch"} for n in inputs + outputs}, opset_version=OPSET)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{type(e).__name__}: {_first_line(e)}")
            raise TrpoError(f"ONNX export failed ({'; '.join(errors)})") from None


def onnx_runner(path: Path):
    """obs batch (numpy) -> actions (numpy), by onnxruntime on the CPU."""
    ort = _onnx_modules()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    if len(names) == 2:  # a recurrent step function: (obs, state) -> (action, state_out)
        return lambda obs, state: tuple(sess.run(None, {names[0]: obs, names[1]: state.astype(np.float32)}))
    return lambda obs: sess.run(None, {names[0]: obs})[0]


def torchscript_runner(path: Path):
    """obs batch (numpy) -> actions (numpy), by the TorchScript module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        m = torch.jit.load(str(path), map_location="cpu")
    def run(obs, state=None):
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(obs))
            if state is None:
                return m(x).numpy()
            a, h = m(x, torch.from_numpy(np.ascontiguousarray(state)))
            return a.numpy(), h.numpy()
    return run


def export(run_dir: str | Path, fmt: str = "onnx", out: str | Path | None = None, *, actor=None,
           critic=None) -> Path:
    """Write the run's deterministic policy (raw observation -> env action) as ONNX or TorchScript
    (default ``RUN_DIR/policy.onnx`` / ``RUN_DIR/policy.pt``), check it against ``Agent.act`` and
    return its path. ``actor`` / ``critic``: the own networks the run trained with, given again
    (``trpo.load``). Raises ConfigError for bad arguments, CheckpointError for a directory that is
    not a run, TrpoError when the extra is missing or the check fails."""
    return _export(run_dir, fmt, out, actor=actor, critic=critic)[0]


def _export(run_dir, fmt, out, checkpoint=None, actor=None, critic=None):
    from trpo.agent import Agent

    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: choose from {', '.join(FORMATS)}")
    if fmt == "onnx":
        _onnx_modules()  # fail before loading anything
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise ConfigError(f"no such run directory: {run_dir}")
    agent = Agent.load(checkpoint or run_dir, device="cpu", actor=actor, critic=critic)
    if out is None:  # a run directory, or the run a checkpoint manifest belongs to
        base = run_dir if run_dir.is_dir() else run_dir.parent
        out = (base.parent if base.name == "checkpoints" else base) / FORMATS[fmt]
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"--output {out} is a directory; give a file name")
    if not out.parent.is_dir():
        raise ConfigError(f"--output: no such directory: {out.parent}")
    policy = deployable(agent)
    obs = probe_observations(agent)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")  # ``out`` appears only once checked
    try:
        if fmt == "onnx":
            export_onnx(policy, tmp, obs)
            run = onnx_runner(tmp)
        else:
            export_torchscript(policy, tmp, obs)
            run = torchscript_runner(tmp)
        check_parity(agent, run, obs, f"{fmt} graph")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out, policy


def usage_hint(policy: DeployablePolicy, fmt: str) -> str:
    """One line: the graph's input and output (name, dtype, shape) and how to call it."""
    p = policy
    dt_in = str(p.input_dtype).removeprefix("torch.")
    dt_out = str(p.act_dtype).removeprefix("torch.") if p.box else "int64"
    shape_in, shape_out = (", ".join(["batch", *map(str, s)]) for s in (p.obs_shape, p.act_shape))
    if p.recurrent:
        call = ("onnxruntime.InferenceSession(path).run(None, {'obs': x, 'state': h})" if fmt == "onnx"
                else "torch.jit.load(path)(torch.from_numpy(x), h)")
        dt_h = str(p.compute_dtype).removeprefix("torch.")
        return (f"inputs '{INPUT}': {dt_in} ({shape_in}) raw observations and '{STATE_IN}': {dt_h} (batch, "
                f"{p.state_size}) hidden states (zeros at an episode's start) -> outputs '{OUTPUT}': {dt_out} "
                f"({shape_out}) env actions and '{STATE_OUT}', the next states; call: {call}")
    call = ("onnxruntime.InferenceSession(path).run(None, {'obs': x})[0]" if fmt == "onnx"
            else "torch.jit.load(path)(torch.from_numpy(x))")
    return (f"input '{INPUT}': {dt_in} ({shape_in}) raw observations -> output '{OUTPUT}': {dt_out} "
            f"({shape_out}) env actions; call: {call}")


def cmd_export(args) -> int:
    path, policy = _export(args.run_dir, args.format, args.output, args.checkpoint)
    print(path)
    print(usage_hint(policy, args.format))
    return 0


__all__ = ["DeployablePolicy", "deployable", "export", "cmd_export", "probe_observations", "check_parity"]
