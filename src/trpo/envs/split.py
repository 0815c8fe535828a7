"""``vector_mode = "split"``: the envs split between this process and one helper process per other
core.

Where the env step is most of an iteration (MuJoCo: ~70%, ``benchmarks/harness.py profile``) and
a run has 2 envs on 2 cores, ``sync`` steps both envs one after the other on one core while the
other core waits. ``async`` (Gymnasium's ``AsyncVectorEnv``) moves every env to a subprocess and
talks to it through pipes: each step then waits for two process wake-ups, which on this machine
cost about what the step saves. Here the first slice of envs stays in this process and each other
slice lives in a helper process, two ways:

- ``map_slices(fn, args)``: each process runs a whole batch of its slice on its own
  (``trpo.rollout.single_path.run_slice``: the policy's forward, its noise drawn ahead for the
  batch, the env steps), and the results come back once per batch through the pipe. No process
  waits for another within the batch. The samplers take this way whenever the policy's noise can
  be drawn ahead and its forward is numpy alone (the built-in MLP actors, Gaussian or
  categorical, with tanh, relu or elu).
- ``step(actions)``, the ``VectorEnv`` interface, for every other policy (recurrent, torch,
  multi-discrete, an MLP whose activation calls torch): each
  helper waits for its actions by *spinning* on a counter in shared memory (a few microseconds,
  no system call), then steps its envs while this process steps its own. Between batches (no
  step for ~2 ms) a helper stops spinning and sleeps on its pipe, so the critic fit and the policy
  update get the core back.

The batches are the same, bit for bit, as ``sync`` with the same envs: each slice is a Gymnasium
``SyncVectorEnv`` (same-step autoreset) built from the same env function and seeds, in order
(tests/rollout/test_split.py, tests/rollout/test_single_path.py). What travels: observations,
rewards, terminated / truncated and the final observations of ended episodes
(``info["final_obs"]``); other info keys do not (the samplers read none). Snapshots (exact
resume) go through the pipe: ``env_snapshots`` and ``restore_env_snapshots``, each env's snapshot
in order, as ``sync`` writes them. Box and Discrete / MultiDiscrete action spaces, Box
observation spaces.
"""
from __future__ import annotations

import signal
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from multiprocessing import shared_memory
from typing import Any

import gymnasium as gym
import numpy as np

from trpo.errors import EnvError, TrpoError

SPIN_S = 0.002         # a helper spins this long after its last step, then sleeps on its pipe
CHECK_EVERY = 20_000   # the driver's wait checks that the helper lives every this many spins

# ctrl words of each helper: steps asked, steps done, sleeping, failed
ASKED, DONE, SLEEPING, FAILED = range(4)


def _slices(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous, nearly equal slices of range(n), the larger first."""
    base, extra = divmod(n, parts)
    out, start = [], 0
    for p in range(parts):
        size = base + (p < extra)
        out.append((start, start + size))
        start += size
    return [s for s in out if s[1] > s[0]]


class _Buffers:
    """One helper's shared arrays: ctrl, its actions in, its results out."""
    ctrl: np.ndarray
    actions: np.ndarray
    obs: np.ndarray
    final_obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final: np.ndarray

    def __init__(self, shm: shared_memory.SharedMemory, n: int, obs_space: gym.Space, act_space: gym.Space):
        act_shape = act_space.shape if isinstance(act_space, gym.spaces.Box | gym.spaces.MultiDiscrete) else ()
        act_dtype = act_space.dtype if isinstance(act_space, gym.spaces.Box) else np.int64
        obs_shape = tuple(obs_space.shape or ())
        layout = [("ctrl", (4,), np.int64), ("actions", (n, *act_shape), act_dtype),
                  ("obs", (n, *obs_shape), obs_space.dtype), ("final_obs", (n, *obs_shape), obs_space.dtype),
                  ("rewards", (n,), np.float64), ("terminated", (n,), np.bool_), ("truncated", (n,), np.bool_),
                  ("final", (n,), np.bool_)]
        offset = 0
        for name, shape, dtype in layout:
            dtype = np.dtype(dtype)
            offset = -(-offset // 8) * 8  # 8-byte aligned
            setattr(self, name, np.ndarray(shape, dtype, buffer=shm.buf, offset=offset))
            offset += int(np.prod(shape)) * dtype.itemsize

    @staticmethod
    def size(n: int, obs_space: gym.Space, act_space: gym.Space) -> int:
        act = int(np.prod(act_space.shape or (1,))) * 8
        obs = int(np.prod(tuple(obs_space.shape or ()))) * np.dtype(obs_space.dtype).itemsize
        return 64 + n * (act + 2 * obs + 8 + 3) + 64


def _step(envs: gym.vector.VectorEnv, b: _Buffers, conn) -> None:
    """One step of the helper's slice, from the actions in shared memory to the results there."""
    try:
        obs, r, te, tr, info = envs.step(b.actions.copy())
        b.obs[:], b.rewards[:], b.terminated[:], b.truncated[:] = obs, r, te, tr
        b.final[:] = False
        if "final_obs" in info:
            for i in np.flatnonzero(info.get("_final_obs", te | tr)):
                b.final[i] = True
                b.final_obs[i] = info["final_obs"][i]
    except BaseException:  # noqa: BLE001 - the driver raises it as an EnvError
        b.ctrl[FAILED] = 1
        conn.send(("error", traceback.format_exc(limit=4).strip().splitlines()[-1]))


def _command(envs: gym.vector.VectorEnv, conn, msg: tuple) -> bool:
    """A command from the pipe: call, reset, snapshot, restore, close (False: stop) or wake (nothing)."""
    from trpo.envs.snapshot import restore, snapshot

    cmd = msg[0]
    try:
        if cmd == "call":  # fn(slice, *args): a whole batch of steps (SplitVectorEnv.map_slices)
            try:
                conn.send(("ok", msg[1](envs, *msg[2])))
            except TrpoError as err:  # the user-facing error itself (a non-finite observation, ...)
                conn.send(("raise", err))
        elif cmd == "reset":
            obs, _ = envs.reset(seed=msg[1], options=msg[2])
            conn.send(("ok", np.asarray(obs)))
        elif cmd == "snapshot":
            conn.send(("ok", [snapshot(e) for e in envs.envs]))  # type: ignore[attr-defined]  # SyncVectorEnv
        elif cmd == "restore":
            for e, s in zip(envs.envs, msg[1]):  # type: ignore[attr-defined]  # SyncVectorEnv
                restore(e, s)
            conn.send(("ok", None))
        elif cmd == "close":
            envs.close()
            conn.send(("ok", None))
            return False
    except BaseException as e:  # noqa: BLE001 - reported to the driver
        conn.send(("error", f"{type(e).__name__}: {e}"))
    return True


def _serve(conn, shm_name: str, make_slice: Callable[[int], gym.vector.VectorEnv], n: int) -> None:
    """A helper: build its slice, then step it whenever ctrl[ASKED] moves; commands on the pipe."""
    from trpo.system import die_with_parent

    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the trainer's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    shm = shared_memory.SharedMemory(name=shm_name)
    try:
        envs = make_slice(n)
        b = _Buffers(shm, n, envs.single_observation_space, envs.single_action_space)
        conn.send(("ok", None))
    except BaseException as e:  # noqa: BLE001 - reported to the driver, which raises it
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    ctrl = b.ctrl
    last = time.perf_counter()
    spins = 0
    while True:
        if ctrl[ASKED] != ctrl[DONE]:
            _step(envs, b, conn)
            ctrl[DONE] = ctrl[ASKED]
            last, spins = time.perf_counter(), 0
            continue
        spins += 1
        if spins % 1024:
            continue
        if conn.poll():
            if not _command(envs, conn, conn.recv()):
                break
            last = time.perf_counter()
            continue
        if time.perf_counter() - last > SPIN_S:  # between batches: sleep until woken or asked
            ctrl[SLEEPING] = 1
            if ctrl[ASKED] == ctrl[DONE]:
                conn.poll(None)
            ctrl[SLEEPING] = 0
            last = time.perf_counter()
    del b, ctrl
    shm.close()


class SplitVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` envs: the first slice here, the others in ``helpers`` processes (one per other
    core). ``make_slice(k)`` builds a same-step-autoreset ``SyncVectorEnv`` of k envs; it is
    called here for the first slice and in each helper (forked) for its own."""

    def __init__(self, make_slice: Callable[[int], gym.vector.VectorEnv], num_envs: int, helpers: int):
        import multiprocessing as mp

        slices = _slices(num_envs, helpers + 1)
        self.local = make_slice(slices[0][1] - slices[0][0])
        self.num_envs = num_envs
        obs_space, act_space = self.local.single_observation_space, self.local.single_action_space
        if not isinstance(obs_space, gym.spaces.Box):
            raise EnvError(f"vector_mode 'split' needs a Box observation space, not {obs_space}; use 'sync'")
        if not isinstance(act_space, gym.spaces.Box | gym.spaces.Discrete | gym.spaces.MultiDiscrete):
            raise EnvError(f"vector_mode 'split' needs a Box, Discrete or MultiDiscrete action space, not "
                           f"{act_space}; use 'sync'")
        self.single_observation_space, self.single_action_space = obs_space, act_space
        self.observation_space = gym.vector.utils.batch_space(obs_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(act_space, num_envs)
        self.metadata = {**self.local.metadata}
        self.render_mode = None
        self.slices = slices
        self.helpers: list[dict[str, Any]] = []
        ctx = mp.get_context("fork")
        try:
            for lo, hi in slices[1:]:
                n = hi - lo
                shm = shared_memory.SharedMemory(create=True, size=_Buffers.size(n, obs_space, act_space))
                buffers = _Buffers(shm, n, obs_space, act_space)
                buffers.ctrl[:] = 0
                here, there = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(there, shm.name, make_slice, n), daemon=True)
                proc.start()
                there.close()
                self.helpers.append({"shm": shm, "b": buffers, "conn": here, "proc": proc, "lo": lo, "hi": hi,
                                     "owed": False})  # owed: a call's reply not read yet (map_slices)
            for h in self.helpers:
                self._reply(h, "start")
        except BaseException:
            self.close()
            raise

    # --- the helpers ------------------------------------------------------------------------------
    def _reply(self, h: dict, what: str) -> Any:
        conn, proc = h["conn"], h["proc"]
        while not conn.poll(1.0):
            if not proc.is_alive():
                raise EnvError(f"a 'split' env helper process died ({what}; exit code {proc.exitcode})")
        status, value = conn.recv()
        if status == "raise":
            raise value
        if status != "ok":
            raise EnvError(f"a 'split' env helper failed ({what}): {value}")
        return value

    def _wait(self, h: dict) -> None:
        ctrl, woken, spins = h["b"].ctrl, False, 0
        while ctrl[DONE] != ctrl[ASKED]:
            spins += 1
            if not woken and ctrl[SLEEPING]:  # it went to sleep before it saw the request
                h["conn"].send(("wake",))
                woken = True
            if spins % CHECK_EVERY == 0 and not h["proc"].is_alive():
                raise EnvError(f"a 'split' env helper process died (exit code {h['proc'].exitcode})")
        if ctrl[FAILED]:
            ctrl[FAILED] = 0
            self._reply(h, "step")

    def map_slices(self, fn: Callable[..., Any], args: Callable[[int, int], tuple],
                   waiting: Callable[[], AbstractContextManager] = nullcontext) -> list:
        """``fn(slice, *args(lo, hi))`` on every slice at once, each in its process (this one's
        first), with no hand-over per step: the samplers run a whole batch of a slice this way
        (``trpo.rollout.single_path.run_slice``). ``fn`` is a module-level function (pickled by
        name) that runs in a forked process: numpy and the env's own code, not torch (a forked
        child must not enter the parent's OpenMP pool); ``waiting()`` is entered while this
        process waits for the helpers (a timer). Returns the results in slice order; an error of
        a helper's call is raised here, a trpo error as itself. A reply not read (an error here,
        Ctrl-C) is read and dropped before the helper's next command (``_settle``)."""
        for h in self.helpers:
            self._settle(h)
            h["conn"].send(("call", fn, args(h["lo"], h["hi"])))
            h["owed"] = True
        lo, hi = self.slices[0]
        first = fn(self.local, *args(lo, hi))
        with waiting():
            return [first, *(self._call_reply(h) for h in self.helpers)]

    def _call_reply(self, h: dict) -> Any:
        try:
            value = self._reply(h, "call")
        except TrpoError:  # an error reply was read, or the helper died: nothing more is owed
            h["owed"] = False
            raise
        h["owed"] = False  # (a Ctrl-C while waiting leaves it owed)
        return value

    def _settle(self, h: dict) -> None:
        """Read and drop the reply of a call this process stopped waiting for (see map_slices);
        its error too, unless the helper died."""
        if h["owed"]:
            try:
                self._call_reply(h)
            except TrpoError:
                if not h["proc"].is_alive():
                    raise

    # --- the VectorEnv interface ------------------------------------------------------------------
    def reset(self, *, seed=None, options=None):
        seeds = ([None] * self.num_envs if seed is None else
                 [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed))
        lo, hi = self.slices[0]
        for h in self.helpers:
            self._settle(h)
            h["conn"].send(("reset", seeds[h["lo"]:h["hi"]], options))
        obs, _ = self.local.reset(seed=seeds[lo:hi], options=options)  # type: ignore[arg-type]  # a list per env
        parts = [np.asarray(obs)] + [self._reply(h, "reset") for h in self.helpers]
        return np.concatenate(parts), {}

    def step(self, actions):
        actions = np.asarray(actions)
        for h in self.helpers:  # hand out the helpers' actions first: they step while we do
            if h["owed"]:
                self._settle(h)
            h["b"].actions[:] = actions[h["lo"]:h["hi"]]
            h["b"].ctrl[ASKED] += 1
            if h["b"].ctrl[SLEEPING]:
                h["conn"].send(("wake",))
        lo, hi = self.slices[0]
        obs, r, te, tr, info = self.local.step(actions[lo:hi])
        for h in self.helpers:
            self._wait(h)
        bs = [h["b"] for h in self.helpers]
        obs = np.concatenate([obs] + [b.obs for b in bs])
        r = np.concatenate([np.asarray(r, np.float64)] + [b.rewards for b in bs])
        te = np.concatenate([te] + [b.terminated for b in bs])
        tr = np.concatenate([tr] + [b.truncated for b in bs])
        done = te | tr
        out_info: dict = {}
        if done.any():
            final = np.empty(self.num_envs, object)
            mask = np.zeros(self.num_envs, bool)
            if "final_obs" in info:
                for i in np.flatnonzero(info.get("_final_obs", done[lo:hi])):
                    final[lo + i], mask[lo + i] = info["final_obs"][i], True
            for h, b in zip(self.helpers, bs):
                for i in np.flatnonzero(b.final):
                    final[h["lo"] + i], mask[h["lo"] + i] = b.final_obs[i].copy(), True
            out_info = {"final_obs": final, "_final_obs": mask}
        return obs, r, te, tr, out_info

    def env_snapshots(self) -> list[dict]:
        """Every env's snapshot, in order: the list a ``sync`` vector env of the same envs gives
        (``trpo.rollout.single_path.env_snapshots``), so checkpoints of the two modes are one format."""
        from trpo.envs.snapshot import snapshot

        for h in self.helpers:
            self._settle(h)
            h["conn"].send(("snapshot",))
        envs = [snapshot(e) for e in self.local.envs]  # type: ignore[attr-defined]  # SyncVectorEnv
        for h in self.helpers:
            envs += self._reply(h, "snapshot")
        return envs

    def restore_env_snapshots(self, envs: list[dict]) -> bool:
        """Restore ``env_snapshots`` (of this mode or of ``sync``); False when the count differs."""
        from trpo.envs.snapshot import restore

        if not isinstance(envs, list) or len(envs) != self.num_envs:
            return False
        lo, hi = self.slices[0]
        for e, s in zip(self.local.envs, envs[lo:hi]):  # type: ignore[attr-defined]  # SyncVectorEnv
            restore(e, s)
        for h in self.helpers:
            self._settle(h)
            h["conn"].send(("restore", envs[h["lo"]:h["hi"]]))
        for h in self.helpers:
            self._reply(h, "restore")
        return True

    def close(self, **kwargs) -> None:
        for h in self.helpers:
            try:
                h["conn"].send(("close",))
                if h["conn"].poll(5.0):
                    h["conn"].recv()
            except (OSError, EOFError, BrokenPipeError):
                pass
            h["proc"].join(timeout=5)
            if h["proc"].is_alive():
                h["proc"].kill()
            h["conn"].close()
            del h["b"]
            h["shm"].close()
            h["shm"].unlink()
        self.helpers = []
        if getattr(self, "local", None) is not None:
            self.local.close()
            self.local = None  # type: ignore[assignment]

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def default_helpers(num_envs: int) -> int:
    """One helper per other usable core, at most one per env beyond the first slice."""
    from trpo.system import usable_cores

    return max(0, min(usable_cores(), num_envs) - 1)


__all__ = ["SplitVectorEnv", "default_helpers"]
