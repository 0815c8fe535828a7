"""The critic fit on a second core, while the policy step and the next rollout run on the first.

TRPO's step 3 (the trust-region step on theta) and step 4 (the critic's refit to the
lambda-returns, on psi) read the same batch and write disjoint parameters: neither needs the
other's result, and only the next update's advantages need step 4. On a CPU with two or more
cores the critic fit runs in a forked helper process while this process takes the policy step
and samples the next batch; ``TRPO.update`` (via ``sync``) waits for it before using V again.

The helper owns the critic's Adam state. For each fit the parent sends the critic's parameters,
the batch (states and targets) and the minibatch permutations, drawn here from the run's torch
RNG in the order an inline fit draws them; the helper runs the same ``fit_critic`` and sends the
new parameters back. So a run is bitwise the same with ``critic_fit = "process"`` and
``"inline"`` (tests/algos/test_critic_process.py), and checkpoints are the same too.

Messages between the two processes of the run are tuples of numbers and numpy arrays; the
optimiser state crosses as ``torch.save`` bytes read back with ``weights_only=True``.
"""
from __future__ import annotations

import io
import multiprocessing as mp
import signal
import weakref

import numpy as np
import torch
from torch import nn

from trpo.errors import NonFiniteError, TrpoError
from trpo.nets.policies import flat_params, set_flat_params
from trpo.optim import FusedAdam
from trpo.system import die_with_parent
from trpo.timing import timed


def _to_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _from_bytes(data: bytes):
    return torch.load(io.BytesIO(data), weights_only=True)


def _serve(conn, parent_end, critic: nn.Module, opt: FusedAdam) -> None:
    """The helper's loop: ("fit", ...) -> ("ok", mse, params); ("get",) -> ("ok", opt state);
    ("set", state) -> ("ok",); None or a closed pipe -> exit."""
    from trpo.algos.common import fit_critic

    die_with_parent()
    # the fork copied the parent's end of the pipe: closed here, the parent's death closes the pipe
    parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the trainer's stop-after-this-iteration handler
    # one thread: the helper is one core's worth of work, and a forked child must not enter the
    # parent's OpenMP pool (libgomp is not fork-safe: with torch_threads >= 2 it hung at its first fit)
    torch.set_num_threads(1)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if msg is None:
            return
        try:
            if msg[0] == "fit":
                _, params, obs, targets, perms, epochs, minibatch = msg
                set_flat_params(critic, torch.from_numpy(params))
                mse = fit_critic(critic, opt, torch.from_numpy(obs), torch.from_numpy(targets), epochs, minibatch,
                                 perms=torch.from_numpy(perms))
                conn.send(("ok", mse, flat_params(critic).numpy()))
            elif msg[0] == "get":
                conn.send(("ok", _to_bytes(opt.state_dict())))
            elif msg[0] == "set":
                opt.load_state_dict(_from_bytes(msg[1]))
                conn.send(("ok",))
        except Exception as e:  # noqa: BLE001 - reported to the parent, which raises it
            conn.send(("error", f"{type(e).__name__}: {e}"))


def _stop(conn, proc) -> None:
    try:
        conn.send(None)
    except (OSError, ValueError):
        pass
    proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    conn.close()


class CriticFitProcess:
    """``submit(obs, targets, perms, epochs, minibatch)`` starts a fit in the helper and returns;
    ``result()`` waits for it, writes the new parameters into ``critic`` and returns the MSE
    after the fit.
    The helper is forked from the parent as it is now, so it starts with the parent's critic and
    optimiser state (a resumed run's included)."""

    def __init__(self, critic: nn.Module, opt: FusedAdam):
        ctx = mp.get_context("fork")
        self.critic = critic
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self._conn, critic, opt), daemon=True,
                                 name="trpo-critic-fit")
        self._proc.start()
        child.close()
        self._pending = False
        self._close = weakref.finalize(self, _stop, self._conn, self._proc)

    def _finish(self) -> None:
        """Read and apply a fit whose result was not read yet (an interrupted update)."""
        if self._pending:
            self.result()

    def _send(self, msg) -> None:
        """Send one request, after any pending fit's reply, so replies never cross."""
        self._finish()
        try:
            self._conn.send(msg)
        except (OSError, ValueError):
            self._died()

    def _ask(self, msg) -> tuple:
        self._send(msg)
        return self._reply()

    def _reply(self) -> tuple:
        try:
            reply = self._conn.recv()
        except (EOFError, OSError):
            self._died()
        if reply[0] == "error":
            raise TrpoError(f"the critic fit failed in its helper process: {reply[1]}")
        return reply[1:]

    def _died(self):
        self._proc.join(timeout=1)
        raise TrpoError(f"the critic-fit helper process exited unexpectedly (exit code {self._proc.exitcode}); "
                        "the last checkpoint is intact; --set critic_fit=inline runs the fit in the main process")

    @timed("update: critic fit hand-off (process)")
    def submit(self, obs: torch.Tensor, targets: torch.Tensor, perms: torch.Tensor, epochs: int,
               minibatch: int) -> None:
        self._finish()  # the critic holds the previous fit's parameters before they are sent
        self._send(("fit", flat_params(self.critic).numpy(), obs.numpy(), targets.numpy(), perms.numpy(),
                    epochs, minibatch))
        self._pending = True

    @property
    def pending(self) -> bool:
        """A fit was submitted and its result not read yet."""
        return self._pending

    @timed("update: waiting for the critic fit (process)")
    def result(self) -> float:
        self._pending = False
        mse, params = self._reply()
        if not np.isfinite(params).all():  # keep the critic as it was: nothing bad is applied
            raise NonFiniteError("non-finite values in the critic parameters after its fit")
        set_flat_params(self.critic, torch.from_numpy(params))
        return mse

    def optimizer_state(self) -> dict:
        return _from_bytes(self._ask(("get",))[0])

    def load_optimizer_state(self, state: dict) -> None:
        self._ask(("set", _to_bytes(state)))

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def close(self) -> None:
        self._close()
