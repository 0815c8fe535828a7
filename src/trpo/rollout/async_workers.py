"""Asynchronous workers as Ray actors: each samples its own env with its own copy of the networks
and runs the learner's ``rollout_fn`` on its batch; the master takes whichever finishes first.

Each worker is its own process with its own env, its own copy of the actor and critic, its own
action RNG and reward scaler. The master hands a worker its current parameters and observation
statistics; the worker runs ``batch_steps / num_envs`` steps, calls ``rollout_fn(actor, critic,
batch, cfg) -> dict`` (A3C: the worker's gradients, ``trpo.algos.a3c.worker_gradients``) and
returns the batch with that dict in ``batch.extras``. The master hands that worker the newest
parameters and waits for the next: the workers never wait for each other. ``extras`` also holds
``worker`` (its index) and ``staleness`` (master updates since its parameters were handed out).

Needs Ray (``pip install 'trpo[ray]'``). A run starts its own local Ray instance (one CPU slot per
worker) unless Ray is already initialised, and shuts down what it started.
"""
from __future__ import annotations

import os

import torch

from trpo.config import Config, from_dict
from trpo.errors import ConfigError, TrpoError
from trpo.rollout.base import SamplerContext
from trpo.rollout.batch import Batch
from trpo.system import usable_cores


class _Worker:
    """One worker process (made a Ray actor by ``AsyncWorkers``)."""

    def __init__(self, cfg_dict: dict, env, index: int, rollout_fn):
        from trpo.normalize import RewardScaler
        from trpo.policies import make_networks
        from trpo.rollout.single_path import SinglePathSampler

        torch.set_num_threads(1)
        self.cfg = cfg = from_dict(cfg_dict)
        self.rollout_fn = rollout_fn
        envs = env.make_vector(1, "sync")
        cpu = torch.device("cpu")
        self.actor, self.critic, self.obs_norm = make_networks(cfg, envs.single_observation_space,
                                                               envs.single_action_space, cpu)
        # worker k's env and action RNG are seeded seed + k, as env k of a vector env would be
        self.sampler = SinglePathSampler(envs, self.actor, self.obs_norm, RewardScaler(1, cfg.gamma, cfg.normalize_rewards),
                                         cfg.steps_per_env, cfg.seed + index, cpu)

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

    @classmethod
    def build(cls, ctx: SamplerContext) -> "AsyncWorkers":
        return cls(ctx)

    def __init__(self, ctx: SamplerContext):
        try:
            import ray
        except ImportError:
            raise ConfigError("asynchronous workers need Ray: pip install 'trpo[ray]'") from None
        cfg: Config = ctx.cfg
        self.cfg, self.actor, self.critic, self.obs_norm = cfg, ctx.actor, ctx.critic, ctx.obs_norm
        self._own_ray = not ray.is_initialized()
        if self._own_ray:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(num_cpus=max(cfg.num_envs, usable_cores()), include_dashboard=False,
                     log_to_driver=False, logging_level="ERROR", object_store_memory=256 * 2**20)
        remote = ray.remote(num_cpus=1)(_Worker)
        self.workers = [remote.remote(cfg.to_dict(), ctx.env, k, ctx.rollout_fn) for k in range(cfg.num_envs)]
        # every worker process is up (torch imported, env made) before the first dispatch, so the
        # workers start together: one slow process start must not let another run alone for
        # many updates, and the training clock does not count the start-up
        try:
            ray.get([w.ready.remote() for w in self.workers])
        except ray.exceptions.RayActorError as e:
            self.close()
            raise TrpoError(f"a worker failed to start: {str(e).splitlines()[0]}") from None
        self.pending: dict = {}              # ObjectRef -> worker index
        self.idle = list(range(cfg.num_envs))
        self.version = 0                     # batches handed to the learner so far

    def collect(self) -> Batch:
        import ray

        if self.idle:  # hand every idle worker the master's current parameters
            refs = [ray.put({k: v.detach().cpu() for k, v in m.state_dict().items()}) for m in (self.actor, self.critic)]
            rms = ray.put(self.obs_norm.rms.state_dict())
            for k in self.idle:
                self.pending[self.workers[k].run.remote(refs[0], refs[1], rms, self.version)] = k
            self.idle = []
        ready, _ = ray.wait(list(self.pending), num_returns=1)
        k = self.pending.pop(ready[0])
        self.idle.append(k)
        try:
            out = ray.get(ready[0])
        except ray.exceptions.RayTaskError as e:  # the worker's own error (e.g. a NaN from its env)
            cause = getattr(e, "cause", None)
            raise (cause if isinstance(cause, TrpoError) else TrpoError(f"worker {k} failed: {e}")) from None
        except ray.exceptions.RayActorError as e:
            raise TrpoError(f"worker {k} died: {str(e).splitlines()[0]}") from None
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

    def summary(self) -> dict:
        return {}

    def close(self) -> None:
        import ray

        for w in self.workers:
            ray.kill(w)
        self.workers, self.pending = [], {}
        if self._own_ray and ray.is_initialized():
            ray.shutdown()
            self._own_ray = False
