"""Distributed synchronous sampling on Ray (``backend = "ray"``): single path and vine.

The learner (the "driver") holds the policy; ``workers`` Ray actors each run a vector env of
``num_envs`` envs. Every iteration the driver

  1. puts the actor's weights and the observation statistics in the object store once (shared),
  2. draws the action-sampling noise of the whole batch from ITS generator, in the order the
     local sampler would draw it, and hands each worker its slice,
  3. gathers each worker's (T, num_envs) slice and joins them along the env axis into one
     (T, workers * num_envs) Batch, then updates the observation statistics from all raw
     observations and scales the rewards over all columns, as the local sampler does.

Same batches as the local sampler. Worker k's envs are seeded ``seed + k * num_envs + i``, i.e.
like columns k * num_envs + i of a local vector env of ``workers * num_envs`` envs, and its
actions use that column's slice of the noise the local sampler's single generator would draw
(Gaussian: ``standard_normal((N, act_dim))`` per step; categorical: Gumbel noise). So a Ray run
and a local run with ``num_envs = workers * num_envs`` produce bit-for-bit the same batches,
statistics and checkpoints when the vector env's sub-envs are independent envs seeded
``seed + i`` (``vector_mode`` ``sync`` or ``async``; not the array-at-once ``vector_entry_point``
CartPole, whose envs share one generator) and the actor is a plain built-in MLP actor (the numpy
fast path, ``trpo.nets.policies.plain_actor_class``). Any other actor samples in torch from one seed
per step; there each worker gets its own seed (equal to the local run for ``workers = 1``).
Vine sampling distributes the rollout set: the driver draws the states, the branch actions' noise
and the common-random-number seeds as the local vine sampler would; each worker snapshots its
own states during its trunk and rolls out their branches in its own branch env.

Faults. A worker that dies (its process killed, its node lost) or has not answered within
``worker_timeout_s`` is killed and replaced by a new actor, which restores the envs' snapshots
from the end of the previous batch (``trpo.envs.snapshot``; envs that cannot be snapshotted restart
from a fresh reset with a new seed) and re-samples its share with the same weights and noise:
with snapshots the batch is the same as without the fault. After ``max_worker_failures``
consecutive failures of one worker the run stops with ``WorkerFailureError`` (the trainer then
saves a checkpoint of the last completed iteration). ``summary()`` counts restarts and timeouts.

Needs Ray (``pip install 'trpo[ray]'``); nothing here imports it at module level. Without
``ray_address`` a local Ray instance is started, sized to this machine (and shut down by
``close``); with one, the run joins that cluster. If Ray is already initialised it is used as is.
"""
from __future__ import annotations

import copy
import os
import sys
import time

import gymnasium as gym
import numpy as np
import torch

from trpo.errors import ConfigError, NonFiniteError, TrpoError, WorkerFailureError
from trpo.nets.normalize import ObsNormalizer
from trpo.rollout.base import SamplerContext
from trpo.rollout.batch import Batch, VineData
from trpo.nets.policy_runner import NumpyPolicy, make_policy
from trpo.rollout.single_path import SinglePathSampler
from trpo.rollout.vine import VineSampler, branch_return
from trpo.system import usable_cores



START_TIMEOUT_S = 120.0  # a (re)started worker process must be up within max(this, worker_timeout_s)


# --- Ray itself ---------------------------------------------------------------------------------
def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("backend 'ray' needs Ray: pip install 'trpo[ray]'") from None
    return ray


def init_ray(ray, address: str, min_cpus: int, object_store_bytes: int = 0) -> bool:
    """Join the cluster at ``address``, or start a local instance with max(min_cpus, this
    machine's cores) CPU slots; nothing if Ray is initialised already. True: this call started
    Ray (the caller shuts it down)."""
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            store = max(256 * 2**20, 3 * object_store_bytes)
            ray.init(num_cpus=max(min_cpus, usable_cores()), **quiet,
                     **({"object_store_memory": store} if store <= 2 * 2**30 else {}))
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"join the Ray cluster at {address!r}" if address else "start a local Ray instance"
        raise TrpoError(f"cannot {where}: {first_line(e)}") from None
    return True


def first_line(e: BaseException) -> str:
    lines = [s.strip() for s in str(e).splitlines() if s.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]


def warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr, flush=True)


# --- the action noise: drawn by the driver, replayed by the workers ------------------------------
class _ReplayRNG:
    """Stands in for the ``np.random.Generator`` a policy draws its sampling noise from: serves
    numbers the driver drew, in the order the policy asks for them (checked by method and shape).

    ``segments``: [(methods, arrays)], each array (S, ...): S calls, each taking ``methods[j]`` ->
    ``arrays[j][s]`` in turn."""

    def __init__(self, segments):
        self._it = self._serve(segments)

    @staticmethod
    def _serve(segments):
        for methods, arrays in segments:
            for s in range(len(arrays[0])):
                for m, a in zip(methods, arrays):
                    yield m, a[s]

    def _next(self, method: str, shape):
        try:
            m, v = next(self._it)
        except StopIteration:
            raise RuntimeError(f"ray sampler: no replayed noise left for {method}{shape}") from None
        if m != method or (shape is not None and np.shape(v) != tuple(np.atleast_1d(shape))):
            raise RuntimeError(f"ray sampler: the policy asked for {method}{shape}, the driver drew "
                               f"{m}{np.shape(v)} (the draw pattern of policy_runner changed?)")
        return v

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return self._next("standard_normal", size)

    def gumbel(self, loc=0.0, scale=1.0, size=None):
        return self._next("gumbel", size)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._next("integers", None)


class _Noise:
    """The numbers ``policy.act(obs of M rows, rng)`` draws (trpo.nets.policy_runner), S
    calls in a row, drawn at once from the driver's generator (numpy's vectorised draws equal
    the same draws one call at a time), then split by rows among the workers."""

    def __init__(self, actor):
        if NumpyPolicy.supports(actor):
            p = NumpyPolicy(actor)
            self.kind, self.width, self.nvec = p.kind.__name__, p.layers[-1][1].shape[0], p.nvec
        else:  # TorchPolicy: one integer (a torch seed) per call
            self.kind, self.width, self.nvec = "torch", 0, None

    def draw(self, rng: np.random.Generator, S: int, M: int, W: int) -> tuple[tuple, tuple]:
        if self.kind == "GaussianActor":
            return ("standard_normal",), (rng.standard_normal((S, M, self.width)),)
        if self.kind == "CategoricalActor":
            return ("gumbel",), (rng.gumbel(size=(S, M, self.width)),)
        if self.kind == "MultiCategoricalActor":  # per call: part j is gumbel(size=(M, nvec[j]))
            flat = rng.gumbel(size=(S, M * self.width))
            cuts = M * np.concatenate([[0], np.cumsum(self.nvec)])
            parts = tuple(flat[:, a:b].reshape(S, M, int(n)) for a, b, n in zip(cuts[:-1], cuts[1:], self.nvec))
            return ("gumbel",) * len(parts), parts
        # a torch sampler cannot be split by rows: every worker gets its own seed per call
        return ("integers",), (rng.integers(2**63 - 1, size=(S, W)),)

    def take(self, drawn: tuple[tuple, tuple], k: int, rows) -> tuple[tuple, tuple]:
        methods, arrays = drawn
        if self.kind == "torch":
            return methods, tuple(a[:, k] for a in arrays)
        return methods, tuple(np.ascontiguousarray(a[:, rows]) for a in arrays)


class _RawRewards:
    """The worker's reward "scaler": keeps the float64 rewards and done flags (the driver scales
    them over all columns), returns them unchanged."""

    enabled = False

    def __call__(self, rewards: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.rewards, self.done = np.array(rewards, np.float64), np.array(done, bool)
        return rewards


# --- the worker ----------------------------------------------------------------------------------
class RolloutWorker:
    """One rollout worker (made a Ray actor by ``RaySampler``): a SinglePathSampler over its own
    vector env, or for vine a VineSampler's parts (snapshotting trunk envs, branch env)."""

    def __init__(self, cfg_dict: dict, env, T: int, vine: bool, seed: int, state: dict | None = None):
        from trpo.config import from_dict
        from trpo.nets.factory import make_networks

        torch.set_num_threads(1)
        cfg = self.cfg = from_dict({**cfg_dict, "seed": seed})
        cpu = self.device = torch.device("cpu")
        envs = env.make_vector(cfg.num_envs, "sync" if vine else None)
        try:
            self.actor, critic, self.obs_norm = make_networks(cfg, envs.single_observation_space,
                                                              envs.single_action_space, cpu)
            self.rewards = _RawRewards()
            self.vine = None
            if vine:  # its checks, snapshotting envs, trunk and branch env; the driver plans each batch
                self.vine = VineSampler(envs, env.make, SamplerContext(cfg, env, self.actor, critic, self.obs_norm,
                                                                       self.rewards, cpu))
                self.sp = self.vine.trunk
                self.sp.T = T
            else:
                self.sp = SinglePathSampler(envs, self.actor, self.obs_norm, self.rewards, T, seed, cpu)
        except BaseException:
            envs.close()
            raise
        self._rng = self.sp.rng  # a real generator for state_dict/load_state_dict; collects replay
        if state is not None:
            self.load_state(state)

    def ready(self) -> dict:
        info = {"pid": os.getpid(), "node": _node_id(), "state": self.state()}
        if self.vine is not None:
            info.update(K=self.vine.K, enumerated=self.vine.enumerated)
        return info

    def state(self) -> dict:
        """The sampler's state (envs' snapshots when possible, episode counters, observations)."""
        self.sp.rng = self._rng
        d = self.sp.state_dict()
        d.pop("rng")
        return d

    def load_state(self, d: dict) -> bool:
        self.sp.rng = self._rng
        return self.sp.load_state_dict({**d, "rng": self._rng.bit_generator.state})

    def run(self, weights: dict, obs_rms: dict, plan: dict) -> dict:
        t0 = time.perf_counter()
        self.actor.load_state_dict(weights)
        self.obs_norm.rms.load_state_dict(obs_rms)
        self.sp.rng = _ReplayRNG([plan["trunk"]])
        try:
            if self.vine is None:
                batch, vine = self.sp.collect(), None
            else:
                batch, vine = self._vine(plan)
        finally:
            self.sp.rng = self._rng
        raw = self.sp.last_raw_obs  # the driver normalises (the same numbers): half the transfer
        out = {"raw": raw, "obs": batch.obs.numpy() if raw is None else None, "actions": batch.actions.numpy(),
               "rewards": self.rewards.rewards, "done": self.rewards.done,
               "terminated": batch.terminated.numpy(), "truncated": batch.truncated.numpy(),
               "last_obs": batch.last_obs.numpy(), "final_obs": batch.final_obs.numpy(),
               "final_idx": batch.final_idx.numpy(), "episode_returns": batch.episode_returns,
               "episode_lengths": batch.episode_lengths, "env_steps": batch.env_steps, "vine": vine}
        out["state"] = self.state()
        out["sample_s"] = time.perf_counter() - t0
        return out

    def _vine(self, plan: dict):
        """The local vine sampler's steps 1-3 for this worker's share of the rollout set
        (``plan["states"]``: flat indices t * num_envs + i into its trunk, sorted)."""
        vs, n = self.vine, self.sp.N
        frozen = ObsNormalizer(self.obs_norm.rms.mean.shape, self.obs_norm.enabled, self.obs_norm.clip)
        frozen.rms.load_state_dict(self.obs_norm.rms.state_dict())  # pi_old for the branches
        local = np.asarray(plan["states"], np.int64)
        vs.envs.t, vs.envs.snaps, vs.envs.targets = 0, {}, {}
        for f in local:
            vs.envs.targets.setdefault(int(f // n), []).append(int(f % n))
        batch = self.sp.collect()
        obs = batch.flat(batch.obs).numpy()[local]
        policy = make_policy(self.actor, self.device)
        if vs.enumerated:
            actions = np.tile(np.arange(vs.K), (len(local), 1))
        else:
            actions = policy.act(np.repeat(obs, vs.K, 0), _ReplayRNG([plan["actions"]]))
            actions = np.asarray(actions).reshape(len(local), vs.K, *vs.act_space.shape)
        q = np.empty((len(local), vs.K))
        steps = 0
        for j, f in enumerate(local):
            state = vs.envs.snaps[(int(f // n), int(f % n))]
            for k in range(vs.K):
                q[j, k], s = branch_return(vs.branch_env, state, actions[j, k], policy, frozen, vs.act_space,
                                           self.cfg.vine_branch_length, self.cfg.gamma, int(plan["crn"][j]))
                steps += s
        if not np.isfinite(q).all():
            raise NonFiniteError("non-finite branch return in vine sampling")
        batch.env_steps += steps
        return batch, {"actions": actions, "q": q}

    def close(self) -> None:
        if self.vine is not None:
            self.vine.close()
        else:
            self.sp.close()


def _node_id() -> str:
    try:
        import ray
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - informational only
        return ""


# --- the driver ----------------------------------------------------------------------------------
class RaySampler:
    """The learner's side: ``workers`` rollout workers of ``num_envs`` envs each."""

    @classmethod
    def build(cls, ctx: SamplerContext) -> "RaySampler":
        return cls(ctx)

    def __init__(self, ctx: SamplerContext):
        ray = self._ray = import_ray()
        cfg = ctx.cfg
        self.cfg, self.env, self.actor, self.obs_norm = cfg, ctx.env, ctx.actor, ctx.obs_norm
        self.reward_scaler = ctx.reward_scaler
        self.is_vine = cfg.sampler == "vine"
        n = self.n = cfg.num_envs
        if cfg.workers and not self.is_vine and cfg.batch_steps % (cfg.workers * n):
            raise ConfigError(f"config key 'batch_steps' = {cfg.batch_steps} must be a multiple of workers * num_envs "
                              f"= {cfg.workers} * {n} on the Ray backend")
        obs_bytes = int(np.prod(ctx.obs_norm.rms.mean.shape)) * 4
        self._own_ray = init_ray(ray, cfg.ray_address, cfg.workers, cfg.batch_steps * obs_bytes)
        self.workers_list: list = []
        try:
            self._setup(ctx)
        except BaseException:
            self.close()
            raise

    def _setup(self, ctx: SamplerContext) -> None:
        ray, cfg, n = self._ray, self.cfg, self.n
        W = self.W = cfg.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        if not self.is_vine and cfg.batch_steps % (W * n):
            raise ConfigError(f"config key 'batch_steps' = {cfg.batch_steps} must be a multiple of workers * num_envs "
                              f"= {W} * {n} on the Ray backend (workers = 0 became {W}, the Ray instance's CPUs)")
        N = self.N = W * n
        if self.reward_scaler.ret.shape != (N,):  # the driver scales all W * num_envs columns
            self.reward_scaler.ret = np.zeros(N, np.float64)
        self.noise = _Noise(ctx.actor)
        self.rng = np.random.default_rng(cfg.seed)  # the local sampler's action generator
        if self.is_vine:
            self.vine_rng = np.random.default_rng([cfg.seed, 1])
            self.T = max(1, round(cfg.batch_steps * cfg.vine_trunk_fraction / N))  # as VineSampler, N envs
        else:
            self.T = cfg.batch_steps // N
        self.restarts, self.timeouts = 0, 0
        self.failures = [0] * W       # consecutive failures of each worker
        self.resets = [0] * W         # restarts from a fresh reset (envs without snapshots)
        self.timing = {"iterations": 0, "collect_s": 0.0, "broadcast_s": 0.0, "wait_s": 0.0, "merge_s": 0.0,
                       "worker_sample_max_s": 0.0, "worker_sample_mean_s": 0.0, "result_bytes": 0}
        self._cfg_dict = cfg.to_dict()
        self._remote = ray.remote(num_cpus=1, max_restarts=0)(RolloutWorker)
        self.workers_list = [self._spawn(k, None) for k in range(W)]
        refs = {w.ready.remote(): k for k, w in enumerate(self.workers_list)}
        timeout = max(START_TIMEOUT_S, cfg.worker_timeout_s)
        done, rest = ray.wait(list(refs), num_returns=len(refs), timeout=timeout)
        if rest:
            cpus = ray.cluster_resources().get("CPU", 0)
            raise TrpoError(f"{len(rest)} of {W} Ray workers did not start within {timeout:g} s (the Ray instance has "
                            f"{cpus:g} CPUs; each worker takes 1)")
        self.info: list[dict] = [{}] * W
        for ref in done:
            try:
                self.info[refs[ref]] = ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, TrpoError):
                    raise cause from None
                raise TrpoError(f"a Ray worker failed to start: {first_line(cause or e)}") from None
            except ray.exceptions.RayError as e:
                raise TrpoError(f"a Ray worker failed to start: {first_line(e)} (is trpo installed on every "
                                "node?)") from None
        self.states = [copy.deepcopy(i["state"]) for i in self.info]
        if self.is_vine:
            self.K, self.enumerated = self.info[0]["K"], self.info[0]["enumerated"]
            branch_budget = max(0, cfg.batch_steps - self.T * N)  # as VineSampler, over N envs
            self.n_states = cfg.vine_rollout_states or max(1, branch_budget // (self.K * cfg.vine_branch_length))
            self.n_states = min(self.n_states, self.T * N)
        self.nodes = len({i.get("node") for i in self.info})

    def _spawn(self, k: int, state: dict | None, seed: int | None = None):
        seed = self.cfg.seed + k * self.n if seed is None else seed
        return self._remote.remote(self._cfg_dict, self.env, self.T, self.is_vine, seed, state)

    # --- one batch ------------------------------------------------------------------------------
    def collect(self) -> Batch:
        ray = self._ray
        t0 = time.perf_counter()
        rng_state = self.rng.bit_generator.state
        vine_state = self.vine_rng.bit_generator.state if self.is_vine else None
        try:
            weights = ray.put({k: v.detach().cpu() for k, v in self.actor.state_dict().items()})
            obs_rms = ray.put(self.obs_norm.rms.state_dict())
            t1 = time.perf_counter()
            plans, vine_plan = self._plans()
            outs = self._gather(weights, obs_rms, plans)
        except BaseException:  # nothing of this batch was used: a checkpoint now is the last batch's
            self.rng.bit_generator.state = rng_state
            if self.is_vine:
                self.vine_rng.bit_generator.state = vine_state
            raise
        t2 = time.perf_counter()
        batch = self._merge(outs, vine_plan)
        t3 = time.perf_counter()
        tm = self.timing
        tm["iterations"] += 1
        tm["collect_s"] += t3 - t0
        tm["broadcast_s"] += t1 - t0
        tm["wait_s"] += t2 - t1
        tm["merge_s"] += t3 - t2
        tm["worker_sample_max_s"] += max(o["sample_s"] for o in outs)
        tm["worker_sample_mean_s"] += float(np.mean([o["sample_s"] for o in outs]))
        tm["result_bytes"] += sum(v.nbytes for o in outs for v in o.values() if isinstance(v, np.ndarray))
        return batch

    def _plans(self) -> tuple[list[dict], dict | None]:
        """Each worker's numbers for this batch, drawn from the driver's generators in the local
        samplers' order: the trunk's action noise (T calls of N rows); for vine then the rollout
        set, the branch actions' noise and the common-random-number seeds."""
        T, n, N, W = self.T, self.n, self.N, self.W
        vine_plan = None
        if self.is_vine:  # VineSampler.collect draws the rollout set before its trunk
            chosen = np.sort(self.vine_rng.choice(T * N, self.n_states, replace=False))
        trunk = self.noise.draw(self.rng, T, N, W)
        plans = [{"trunk": self.noise.take(trunk, k, slice(k * n, (k + 1) * n))} for k in range(W)]
        if self.is_vine:
            acts = None if self.enumerated else self.noise.draw(self.vine_rng, 1, len(chosen) * self.K, W)
            crn = self.vine_rng.integers(2**63 - 1, size=len(chosen))
            col = chosen % N
            owner = col // n
            vine_plan = {"chosen": chosen, "owner": owner}
            for k in range(W):
                g = np.flatnonzero(owner == k)          # positions in the rollout set, in order
                plans[k]["states"] = (chosen[g] // N) * n + col[g] % n
                plans[k]["crn"] = crn[g]
                if acts is not None:
                    plans[k]["actions"] = self.noise.take(acts, k, (g[:, None] * self.K + np.arange(self.K)).ravel())
        return plans, vine_plan

    def _gather(self, weights, obs_rms, plans: list[dict]) -> list[dict]:
        """Every worker's share; a dead or hung worker is replaced and its share sampled again."""
        ray, cfg = self._ray, self.cfg
        outs: list = [None] * self.W
        pending: dict = {}  # ObjectRef -> (worker, stage, deadline)
        start_timeout = max(START_TIMEOUT_S, cfg.worker_timeout_s)

        def submit(k: int) -> None:
            ref = self.workers_list[k].run.remote(weights, obs_rms, plans[k])
            pending[ref] = (k, "run", time.monotonic() + cfg.worker_timeout_s)

        def failed(k: int, why: str) -> None:
            self.failures[k] += 1
            if self.failures[k] >= cfg.max_worker_failures:
                raise WorkerFailureError(f"Ray worker {k} failed {self.failures[k]} times in a row "
                                         f"(max_worker_failures = {cfg.max_worker_failures}); last: {why}")
            self._replace(k, why)
            pending[self.workers_list[k].ready.remote()] = (k, "start", time.monotonic() + start_timeout)

        for k in range(self.W):
            submit(k)
        while pending:
            now = time.monotonic()
            timeout = max(0.0, min(d for _, _, d in pending.values()) - now)
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
            if not ready:
                now = time.monotonic()
                for ref, (k, stage, deadline) in list(pending.items()):
                    if deadline <= now:
                        del pending[ref]
                        self.timeouts += 1
                        limit = cfg.worker_timeout_s if stage == "run" else start_timeout
                        failed(k, f"no reply within {limit:g} s ({'hung' if stage == 'run' else 'did not start'})")
                continue
            k, stage, _ = pending.pop(ready[0])
            try:
                out = ray.get(ready[0])
            except ray.exceptions.RayTaskError as e:  # the worker's own error: sampling again repeats it
                cause = getattr(e, "cause", None)
                if isinstance(cause, TrpoError):
                    raise cause from None
                raise TrpoError(f"Ray worker {k} failed: {first_line(cause or e)}") from None
            except ray.exceptions.RayError as e:  # died, node lost, unschedulable, object lost
                failed(k, first_line(e))
                continue
            if stage == "start":
                self.info[k] = out
                submit(k)
            else:
                outs[k] = out
                self.failures[k] = 0
                self.states[k] = copy.deepcopy(out["state"])  # writable copies (Ray's arrays are read-only)
        return outs

    def _replace(self, k: int, why: str) -> None:
        """Kill worker k and start another in its place, at its envs' state after the last batch."""
        ray = self._ray
        try:
            ray.kill(self.workers_list[k], no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.restarts += 1
        state = self.states[k]
        if state is not None and "envs" in state:
            self.workers_list[k] = self._spawn(k, state)
            how = "its envs restored from the last batch"
        else:  # no snapshots: fresh episodes from a new seed; their discounted returns restart too
            self.resets[k] += 1
            seed = int(np.random.SeedSequence([self.cfg.seed, k, self.resets[k]]).generate_state(1)[0])
            self.workers_list[k] = self._spawn(k, None, seed)
            self.reward_scaler.ret[k * self.n:(k + 1) * self.n] = 0.0
            self.states[k] = None
            how = "its envs reset (they cannot be snapshotted)"
        warn(f"Ray worker {k} failed ({why}); restarted it ({how}) and sampling its share again "
             f"[restarts so far: {self.restarts}]")

    def _merge(self, outs: list[dict], vine_plan: dict | None) -> Batch:
        """The workers' slices as one (T, N) batch, exactly as the local sampler with N envs
        would have made it: normalised with the statistics of pi_old, then the statistics
        updated from all raw observations; rewards scaled over all columns; episodes and
        truncated steps in the local order (step, then env)."""
        n, N, W = self.n, self.N, self.W
        norm = self.obs_norm
        if norm.enabled:
            raw = np.concatenate([o["raw"] for o in outs], axis=1)
            obs = norm(raw)
        else:
            raw, obs = None, np.concatenate([o["obs"] for o in outs], axis=1)
        acts = np.concatenate([o["actions"] for o in outs], axis=1)
        rews = np.concatenate([o["rewards"] for o in outs], axis=1)
        done = np.concatenate([o["done"] for o in outs], axis=1)
        rews = self.reward_scaler(rews, done).astype(np.float32)
        if raw is not None:
            norm.rms.update(raw.reshape(-1, *raw.shape[2:]))
        # truncated steps and ended episodes: flat index t * N + k * n + i, in increasing order
        fkeys = np.concatenate([(o["final_idx"] // n) * N + k * n + o["final_idx"] % n for k, o in enumerate(outs)])
        forder = np.argsort(fkeys, kind="stable")
        final_obs = np.concatenate([o["final_obs"] for o in outs])[forder]
        ekeys = []
        for k, o in enumerate(outs):
            t, i = np.nonzero(o["done"])  # row-major: the order the worker logged its episodes in
            ekeys.append(t * N + k * n + i)
        eorder = np.argsort(np.concatenate(ekeys), kind="stable")
        rets = [x for o in outs for x in o["episode_returns"]]
        lens = [x for o in outs for x in o["episode_lengths"]]
        batch = Batch(
            obs=torch.from_numpy(obs), actions=torch.from_numpy(acts), rewards=torch.from_numpy(rews),
            terminated=torch.from_numpy(np.concatenate([o["terminated"] for o in outs], axis=1)),
            truncated=torch.from_numpy(np.concatenate([o["truncated"] for o in outs], axis=1)),
            last_obs=torch.from_numpy(np.concatenate([o["last_obs"] for o in outs])),
            final_obs=torch.from_numpy(final_obs), final_idx=torch.as_tensor(fkeys[forder], dtype=torch.long),
            env_steps=sum(o["env_steps"] for o in outs),
            episode_returns=[rets[j] for j in eorder], episode_lengths=[lens[j] for j in eorder])
        if vine_plan is not None:
            batch.vine = self._merge_vine(outs, vine_plan, obs)
        return batch

    def _merge_vine(self, outs: list[dict], plan: dict, obs: np.ndarray) -> VineData:
        chosen, owner = plan["chosen"], plan["owner"]
        order = np.concatenate([np.flatnonzero(owner == k) for k in range(self.W)])
        q_parts = np.concatenate([o["vine"]["q"] for o in outs])
        a_parts = np.concatenate([o["vine"]["actions"] for o in outs])
        q = np.empty_like(q_parts)
        actions = np.empty_like(a_parts)
        q[order], actions[order] = q_parts, a_parts
        if self.reward_scaler.enabled:  # the trunk's reward scale: Q-hat of order one
            q = q / np.sqrt(self.reward_scaler.rms.var + 1e-8)
        states = obs.reshape(-1, *obs.shape[2:])[chosen]
        return VineData(torch.from_numpy(np.ascontiguousarray(states)), torch.from_numpy(actions),
                        torch.from_numpy(q.astype(np.float32)), self.enumerated)

    # --- checkpoints, counters, shutdown -----------------------------------------------------------
    def state_dict(self) -> dict:
        """The local samplers' format (a SinglePathSampler of N envs; for vine, a VineSampler's),
        from the workers' states at the end of the last batch: no remote call."""
        have = all(s is not None for s in self.states)
        d = {"rng": self.rng.bit_generator.state,
             "ep_return": np.concatenate([s["ep_return"] for s in self.states]) if have else np.zeros(self.N),
             "ep_length": np.concatenate([s["ep_length"] for s in self.states]) if have else np.zeros(self.N, np.int64)}
        if all(s is not None and "envs" in s for s in self.states):
            d["raw_obs"] = np.concatenate([s["raw_obs"] for s in self.states])
            d["envs"] = [e for s in self.states for e in s["envs"]]
        d["ray_workers"] = self.W
        return {"trunk": d, "rng": self.vine_rng.bit_generator.state} if self.is_vine else d

    def load_state_dict(self, d: dict) -> bool:
        """Restore the generators and, when the checkpoint has every env's snapshot for this
        worker layout, each worker's envs (True: exact resume)."""
        ray = self._ray
        if self.is_vine:
            self.vine_rng.bit_generator.state = d["rng"]
            d = d["trunk"]
        self.rng.bit_generator.state = d["rng"]
        envs = d.get("envs")
        if envs is None or "raw_obs" not in d or len(envs) % self.W or len(d["raw_obs"]) != self.N:
            return False
        m, n = len(envs) // self.W, self.n
        parts = [{"ep_return": np.asarray(d["ep_return"])[k * n:(k + 1) * n],
                  "ep_length": np.asarray(d["ep_length"])[k * n:(k + 1) * n],
                  "raw_obs": np.asarray(d["raw_obs"])[k * n:(k + 1) * n], "envs": envs[k * m:(k + 1) * m]}
                 for k in range(self.W)]
        ok = ray.get([w.load_state.remote(p) for w, p in zip(self.workers_list, parts)])
        if not all(ok):
            return False
        self.states = copy.deepcopy(parts)
        return True

    def worker_pids(self) -> list[int]:
        return [i.get("pid") for i in self.info]

    def summary(self) -> dict:
        tm = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.timing.items()}
        return {"workers": self.W, "worker_restarts": self.restarts, "worker_timeouts": self.timeouts,
                "ray_nodes": self.nodes, "ray_timing": tm}

    def close(self) -> None:
        ray = self._ray
        try:  # the workers close their envs (async vector envs' subprocesses), then go
            if self.workers_list:
                ray.wait([w.close.remote() for w in self.workers_list], num_returns=len(self.workers_list),
                         timeout=10)
        except Exception:  # noqa: BLE001 - dead or hung workers are killed below
            pass
        for w in self.workers_list:
            try:
                ray.kill(w, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.workers_list = []
        if self._own_ray and ray.is_initialized():
            ray.shutdown()
            self._own_ray = False
