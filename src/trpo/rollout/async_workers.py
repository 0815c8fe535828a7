"""A3C's workers (Mnih et al. 2016; seed 003 §3.5 "Asynchronous sampling"), as Ray actors.

Each worker is its own process with its own env, its own copy of the actor and critic, its own
action RNG and reward scaler. The master (the training loop) hands a worker its current
parameters and observation statistics; the worker runs ``batch_steps / num_envs`` steps, computes
the A3C gradients (``trpo.algos.a3c.worker_gradients``) and returns them with its rollout. The
master applies whichever worker finishes first, hands that worker the new parameters, and waits
for the next: the workers never wait for each other.

    AsyncWorkers.collect() -> Batch    one worker's rollout, its gradients in ``extras``

Needs Ray (``pip install 'trpo[ray]'``). A run starts its own local Ray instance (one CPU slot per
worker) unless Ray is already initialised, and shuts down what it started.
"""
from __future__ import annotations

import os

import torch

from trpo.config import Config, from_dict
from trpo.errors import ConfigError, TrpoError
from trpo.rollout.batch import Batch
from trpo.rollout.envs import usable_cores


class _Worker:
    """One worker process (made a Ray actor by ``AsyncWorkers``)."""

    def __init__(self, cfg_dict: dict, index: int):
        from trpo.agent import Agent
        from trpo.normalize import RewardScaler
        from trpo.rollout.envs import make_vector_env
        from trpo.rollout.single_path import SinglePathSampler

        torch.set_num_threads(1)
        self.cfg = cfg = from_dict(cfg_dict)
        envs = make_vector_env(cfg.env_id, 1, "sync", cfg.atari_preprocessing)
        self.agent = Agent(cfg, envs.single_observation_space, envs.single_action_space, torch.device("cpu"))
        # worker k's env and action RNG are seeded seed + k, as env k of a vector env would be
        self.sampler = SinglePathSampler(envs, self.agent.actor, self.agent.obs_norm,
                                         RewardScaler(1, cfg.gamma, cfg.normalize_rewards), cfg.steps_per_env,
                                         cfg.seed + index, torch.device("cpu"))

    def ready(self) -> bool:
        return True

    def run(self, actor_state: dict, critic_state: dict, obs_rms: dict, version: int) -> dict:
        from trpo.algos.a3c import worker_gradients

        self.agent.actor.load_state_dict(actor_state)      # theta' <- theta
        self.agent.critic.load_state_dict(critic_state)    # psi'   <- psi
        self.agent.obs_norm.rms.load_state_dict(obs_rms)
        batch = self.sampler.collect()
        d_theta, d_psi, stats = worker_gradients(self.agent.actor, self.agent.critic, batch, self.cfg)
        return {"batch": batch, "raw_obs": self.sampler.last_raw_obs, "d_theta": d_theta, "d_psi": d_psi,
                "stats": stats, "version": version}


class AsyncWorkers:
    """The master's side: ``num_envs`` workers, one env each."""

    def __init__(self, cfg: Config, agent):
        try:
            import ray
        except ImportError:
            raise ConfigError("algo 'a3c' needs Ray for its workers: pip install 'trpo[ray]'") from None
        self.cfg, self.agent = cfg, agent
        self._own_ray = not ray.is_initialized()
        if self._own_ray:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(num_cpus=max(cfg.num_envs, usable_cores()), include_dashboard=False,
                     log_to_driver=False, logging_level="ERROR", object_store_memory=256 * 2**20)
        remote = ray.remote(num_cpus=1)(_Worker)
        self.workers = [remote.remote(cfg.to_dict(), k) for k in range(cfg.num_envs)]
        # every worker process is up (torch imported, env made) before the first dispatch, so the
        # workers start together: one slow process start must not let another run alone for
        # many updates, and the training clock does not count the start-up
        try:
            ray.get([w.ready.remote() for w in self.workers])
        except ray.exceptions.RayActorError as e:
            self.close_workers()
            raise TrpoError(f"an A3C worker failed to start: {str(e).splitlines()[0]}") from None
        self.pending: dict = {}              # ObjectRef -> worker index
        self.idle = list(range(cfg.num_envs))
        self.version = 0                     # master updates so far

    def collect(self) -> Batch:
        import ray

        if self.idle:  # hand every idle worker the master's current parameters
            a = self.agent
            refs = [ray.put({k: v.detach().cpu() for k, v in m.state_dict().items()}) for m in (a.actor, a.critic)]
            rms = ray.put(a.obs_norm.rms.state_dict())
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
            raise (cause if isinstance(cause, TrpoError) else TrpoError(f"A3C worker {k} failed: {e}")) from None
        except ray.exceptions.RayActorError as e:
            raise TrpoError(f"A3C worker {k} died: {str(e).splitlines()[0]}") from None
        if self.agent.obs_norm.enabled:
            self.agent.obs_norm.rms.update(out["raw_obs"])
        b = out["batch"]
        b.extras = {"d_theta": out["d_theta"], "d_psi": out["d_psi"], "stats": out["stats"], "worker": k,
                    "staleness": self.version - out["version"]}  # master updates since its parameters
        self.version += 1
        return b

    def state_dict(self) -> dict:
        return {}  # the workers' envs live in other processes: a resume starts them afresh

    def load_state_dict(self, d: dict) -> bool:
        return False

    def close_workers(self) -> None:
        import ray

        for w in self.workers:
            ray.kill(w)
        self.workers, self.pending = [], {}
        if self._own_ray and ray.is_initialized():
            ray.shutdown()
