"""Asynchronous workers as Ray actors: each samples its own env with its own copy of the networks
and runs the learner's ``rollout_fn`` on its batch; the master takes whichever finishes first.

Each worker is its own process with its own env, its own copy of the actor and critic, its own
action RNG and reward scaler. The master hands a worker its current parameters and observation
statistics; the worker runs ``batch_steps / num_envs`` steps, calls ``rollout_fn(actor, critic,
batch, cfg) -> dict`` (A3C: the worker's gradients, ``trpo.algos.a3c.worker_gradients``) and
returns the batch with that dict in ``batch.extras``. The master hands that worker the newest
parameters and waits for the next: the workers never wait for each other. ``extras`` also holds
``worker`` (its index) and ``staleness`` (master updates since its parameters were handed out).

Needs Ray (``pip install 'trpo[ray]'``). A run joins the cluster at ``ray_address`` if set, else
starts its own local Ray instance (one CPU slot per worker, at least one per core) unless Ray is
already initialised, and shuts down what it started.

Faults, as on the Ray backend (``trpo.rollout.ray``): a worker that dies or has not
returned its batch within ``worker_timeout_s`` is killed and replaced by a fresh worker (its env
reset with a new seed), which gets the master's current parameters; after ``max_worker_failures``
consecutive failures of one worker the run stops (``WorkerFailureError``). ``summary()`` counts
the restarts.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from trpo.config import Config, from_dict
from trpo.errors import ConfigError, TrpoError, WorkerFailureError
from trpo.rollout.base import OWN_NETWORKS_REFUSED, SamplerContext
from trpo.rollout.batch import Batch
from trpo.rollout.ray.runtime import START_TIMEOUT_S, first_line, import_ray, init_ray, warn


class _Worker:
    """One worker process (made a Ray actor by ``AsyncWorkers``)."""

    def __init__(self, cfg_dict: dict, env, index: int, rollout_fn, seed: int | None = None):
        from trpo.nets.factory import make_networks
        from trpo.nets.normalize import RewardScaler
        from trpo.rollout.single_path import SinglePathSampler

        torch.set_num_threads(1)
        self.cfg = cfg = from_dict(cfg_dict)
        self.rollout_fn = rollout_fn
        envs = env.make_vector(1, "sync")
        cpu = torch.device("cpu")
        self.actor, self.critic, self.obs_norm = make_networks(cfg, envs.single_observation_space,
                                                               envs.single_action_space, cpu)
        # worker k's env and action RNG are seeded seed + k, as env k of a vector env would be
        # (a replacement for a failed worker: ``seed``, a new one)
        self.sampler = SinglePathSampler(envs, self.actor, self.obs_norm,
                                         RewardScaler(1, cfg.gamma, cfg.normalize_rewards),
                                         cfg.steps_per_env, cfg.seed + index if seed is None else seed, cpu)

    def ready(self) -> bool:
        return True

    def run(self, actor_state: dict, critic_state: dict, obs_rms: dict, version: int) -> dict:
        self.actor.load_state_dict(actor_state)      # theta' <- theta
        self.critic.load_state_dict(critic_state)    # psi'   <- psi
        self.obs_norm.rms.load_state_dict(obs_rms)
        batch = self.sampler.collect()
        out = self.rollout_fn(self.actor, self.critic, batch, self.cfg) if self.rollout_fn else {}
        return {"batch": batch, "raw_obs": self.sampler.last_raw_obs, "out": out, "version": version}


class AsyncWorkers:
    """The master's side: ``num_envs`` workers, one env each."""
    silent_exit: str | None = None

    @classmethod
    def build(cls, ctx: SamplerContext) -> AsyncWorkers:
        if ctx.own_networks:
            raise ConfigError(OWN_NETWORKS_REFUSED)
        return cls(ctx)

    def __init__(self, ctx: SamplerContext):
        ray = import_ray()
        cfg: Config = ctx.cfg
        self.cfg, self.actor, self.critic, self.obs_norm = cfg, ctx.actor, ctx.critic, ctx.obs_norm
        self.env, self.rollout_fn = ctx.env, ctx.rollout_fn
        self.workers: list = []
        self._fresh: set[int] = set()        # replacements not yet dispatched (their start-up: extra time)
        self._own_ray = init_ray(ray, cfg.ray_address, cfg.num_envs)
        self._remote = ray.remote(num_cpus=1, max_restarts=0)(_Worker)
        self.workers = [self._spawn(k) for k in range(cfg.num_envs)]
        # every worker process is up (torch imported, env made) before the first dispatch, so the
        # workers start together: one slow process start must not let another run alone for
        # many updates, and the training clock does not count the start-up
        try:
            ray.get([w.ready.remote() for w in self.workers], timeout=max(START_TIMEOUT_S, cfg.worker_timeout_s))
        except ray.exceptions.RayTaskError as e:
            self.close()
            cause = getattr(e, "cause", None)
            raise (cause if isinstance(cause, TrpoError)
                   else TrpoError(f"a worker failed to start: {first_line(cause or e)}")) from None
        except (ray.exceptions.RayError, TimeoutError) as e:
            self.close()
            raise TrpoError(f"a worker failed to start: {first_line(e)}") from None
        self.pending: dict = {}              # ObjectRef -> (worker index, deadline)
        self.idle = list(range(cfg.num_envs))
        self.version = 0                     # batches handed to the learner so far
        self.restarts = 0
        self.failures = [0] * cfg.num_envs   # consecutive failures of each worker

    def _spawn(self, k: int, seed: int | None = None):
        return self._remote.remote(self.cfg.to_dict(), self.env, k, self.rollout_fn, seed)

    def _replace(self, k: int, why: str) -> None:
        """Kill worker k, start a fresh one (new env seed) in its place; it gets the current
        parameters at the next dispatch. Its start-up counts against its next deadline."""
        import ray

        self.failures[k] += 1
        if self.failures[k] >= self.cfg.max_worker_failures:
            raise WorkerFailureError(f"worker {k} failed {self.failures[k]} times in a row "
                                     f"(max_worker_failures = {self.cfg.max_worker_failures}); last: {why}")
        try:
            ray.kill(self.workers[k], no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.restarts += 1
        seed = int(np.random.SeedSequence([self.cfg.seed, k, self.restarts]).generate_state(1)[0])
        self.workers[k] = self._spawn(k, seed)
        self._fresh.add(k)
        self.idle.append(k)
        warn(f"worker {k} failed ({why}); restarted it with a fresh env [restarts so far: {self.restarts}]")

    def collect(self) -> Batch:
        import ray

        while True:
            if self.idle:  # hand every idle worker the master's current parameters
                refs = [ray.put({k: v.detach().cpu() for k, v in m.state_dict().items()})
                        for m in (self.actor, self.critic)]
                rms = ray.put(self.obs_norm.rms.state_dict())
                now = time.monotonic()
                for k in self.idle:
                    extra = START_TIMEOUT_S if k in self._fresh else 0.0
                    ref = self.workers[k].run.remote(refs[0], refs[1], rms, self.version)
                    self.pending[ref] = (k, now + self.cfg.worker_timeout_s + extra)
                self._fresh.clear()
                self.idle = []
            timeout = max(0.0, min(d for _, d in self.pending.values()) - time.monotonic())
            ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=timeout)
            if not ready:  # past its deadline: treated as dead
                now = time.monotonic()
                for ref, (k, deadline) in list(self.pending.items()):
                    if deadline <= now:
                        del self.pending[ref]
                        self._replace(k, f"no reply within {self.cfg.worker_timeout_s:g} s (hung)")
                continue
            k, _ = self.pending.pop(ready[0])
            try:
                out = ray.get(ready[0])
            except ray.exceptions.RayTaskError as e:  # the worker's own error (e.g. a NaN from its env)
                cause = getattr(e, "cause", None)
                raise (cause if isinstance(cause, TrpoError)
                       else TrpoError(f"worker {k} failed: {first_line(cause or e)}")) from None
            except ray.exceptions.RayError as e:  # died: process killed, node lost
                self._replace(k, first_line(e))
                continue
            break
        self.failures[k] = 0
        self.idle.append(k)
        if self.obs_norm.enabled:
            self.obs_norm.rms.update(out["raw_obs"])
        b = out["batch"]
        b.extras = {**out["out"], "worker": k, "staleness": self.version - out["version"]}
        self.version += 1
        return b

    def state_dict(self) -> dict:
        return {}  # the workers' envs live in other processes: a resume starts them afresh

    def load_state_dict(self, d: dict) -> bool:
        return False

    def describe(self) -> str | None:
        return None  # the run's header says nothing more for the local samplers

    def summary(self) -> dict:
        return {"workers": len(self.workers), "worker_restarts": self.restarts}

    def close(self) -> None:
        import ray

        for w in self.workers:
            try:
                ray.kill(w, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.workers, self.pending = [], {}
        if self._own_ray and ray.is_initialized():
            ray.shutdown()
            self._own_ray = False
