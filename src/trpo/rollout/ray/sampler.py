"""The driver of the Ray backend (``backend = "ray"``): ``RaySampler`` holds the policy, hands
each worker the weights and its share of the action noise, gathers the slices into one batch,
replaces failed workers and keeps the checkpoint state (the design: ``trpo.rollout.ray``)."""
from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch

from trpo.errors import ConfigError, TrpoError, WorkerFailureError
from trpo.rollout.base import OWN_NETWORKS_REFUSED, SamplerContext
from trpo.rollout.batch import Batch, VineData
from trpo.rollout.ray.replay import Noise
from trpo.rollout.ray.runtime import START_TIMEOUT_S, first_line, import_ray, init_ray, warn
from trpo.rollout.ray.worker import RolloutWorker


class RaySampler:
    """The learner's side: ``workers`` rollout workers of ``num_envs`` envs each."""
    silent_exit = ("Ray ends the driver this way when the Ray node it runs on dies, and a kill -9 or the "
                   "out-of-memory killer look the same")

    @classmethod
    def build(cls, ctx: SamplerContext) -> RaySampler:
        if ctx.own_networks:
            raise ConfigError(OWN_NETWORKS_REFUSED)
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
        t0 = time.perf_counter()
        self._own_ray = init_ray(ray, cfg.ray_address, cfg.workers, cfg.batch_steps * obs_bytes)
        self.workers_list: list = []
        try:
            self._setup(ctx)
        except BaseException:
            self.close()
            raise
        self.startup_s = time.perf_counter() - t0  # Ray's start (or join) and every worker up

    def describe(self) -> str:
        """The run's header line for this backend."""
        where = f"the cluster at {self.cfg.ray_address}" if self.cfg.ray_address else "a local Ray instance"
        nodes = len(self.node_ids)
        return (f"backend ray: {self.W} workers x {self.n} envs on {nodes} node{'s' * (nodes != 1)} of {where}; "
                f"Ray and the workers started in {self.startup_s:.1f} s")

    def _setup(self, ctx: SamplerContext) -> None:
        ray, cfg, n = self._ray, self.cfg, self.n
        W = self.W = cfg.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        if not self.is_vine and cfg.batch_steps % (W * n):
            raise ConfigError(f"config key 'batch_steps' = {cfg.batch_steps} must be a multiple of workers * num_envs "
                              f"= {W} * {n} on the Ray backend (workers = 0 became {W}, the Ray instance's CPUs)")
        N = self.N = W * n
        if self.reward_scaler.ret.shape != (N,):  # the driver scales all W * num_envs columns
            self.reward_scaler.ret = np.zeros(N, np.float64)
        self.noise = Noise(ctx.actor)
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
        self.node_ids = {i.get("node") for i in self.info}  # every node that ran a worker, restarts included

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
                self.vine_rng.bit_generator.state = vine_state  # type: ignore[assignment]  # saved above
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
        plans: list[dict[str, Any]] = [{"trunk": self.noise.take(trunk, k, slice(k * n, (k + 1) * n))}
                                       for k in range(W)]
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
                self.node_ids.add(out.get("node"))
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
        n, N = self.n, self.N
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
        d: dict[str, Any] = {"rng": self.rng.bit_generator.state,
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
        return [i.get("pid") for i in self.info]  # type: ignore[misc]  # every worker reports its pid

    def summary(self) -> dict:
        tm = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.timing.items()}
        return {"workers": self.W, "worker_restarts": self.restarts, "worker_timeouts": self.timeouts,
                "ray_nodes": len(self.node_ids), "ray_startup_s": round(self.startup_s, 2), "ray_timing": tm}

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
