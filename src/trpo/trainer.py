"""The training loop: sample -> update -> log -> checkpoint, then a final evaluation.

    from trpo import Config, train
    result = train(Config(env_id="CartPole-v1", total_steps=100_000))
    result.agent.act(obs); result.summary["final_eval_return_mean"]
"""
from __future__ import annotations

import json
import math
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from trpo import __version__
from trpo.agent import Agent, resolve_device
from trpo.algos import get_learner
from trpo.algos.critic_process import resolve_critic_fit
from trpo.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from trpo.config import Config, from_dict, validate
from trpo.errors import NonFiniteError
from trpo.normalize import RewardScaler
from trpo.rollout.envs import check_env, check_spaces, make_vector_env, resolve_vector_mode
from trpo.runs import RunDir, default_run_dir


@dataclass
class TrainResult:
    agent: Agent
    run_dir: Path
    summary: dict[str, Any]
    interrupted: bool = False


class _StopFlag:
    """SIGINT / SIGTERM ask the loop to stop after the current iteration (then it saves);
    a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.signal: str | None = None
        self._old: dict = {}

    def __enter__(self):
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: no signal handling
            self._old = {}
        return self

    def _handle(self, signum, frame):
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _make_sampler(cfg: Config, agent: Agent, reward_scaler: RewardScaler, envs):
    if cfg.algo == "a3c":  # asynchronous workers (Ray actors), each with its own env
        from trpo.rollout.async_workers import AsyncWorkers
        return AsyncWorkers(cfg, agent)
    if cfg.sampler == "vine":
        from trpo.rollout.vine import VineSampler  # noqa: F401  (issue: vine sampling)
        return VineSampler(envs, agent, reward_scaler, cfg)
    from trpo.rollout.single_path import SinglePathSampler
    return SinglePathSampler(envs, agent.actor, agent.obs_norm, reward_scaler, cfg.steps_per_env, cfg.seed, agent.device)


def train(cfg: Config, run_dir: str | Path | None = None, *, resume: str | Path | None = None,
          overwrite: bool = False,
          progress: bool = True, callback: Callable[[dict], None] | None = None) -> TrainResult:
    """Train ``cfg.algo`` on ``cfg.env_id``; write the run directory; return the agent and summary.

    ``resume``: a run directory to continue from its latest checkpoint (its config is used; pass
    ``cfg`` with a larger ``total_steps`` to extend the run).
    """
    state = manifest = None
    if resume is not None:
        state, manifest = load_checkpoint(resume)
        saved = from_dict(manifest["config"])
        cfg = saved.replace(total_steps=max(cfg.total_steps, saved.total_steps)) if cfg else saved
        run_dir = Path(resume)
    validate(cfg)
    # the concrete vector env backend, so config.toml (and a resume) records the one used
    cfg = cfg.replace(vector_mode=resolve_vector_mode(cfg.env_id, cfg.vector_mode, cfg.sampler))
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)      # python's and numpy's global RNGs too (for env code that uses them);
    np.random.seed(cfg.seed)   # all three are saved in checkpoints and restored on resume
    torch.set_num_threads(cfg.torch_threads)
    device = resolve_device(cfg.device)
    cfg = cfg.replace(critic_fit=resolve_critic_fit(cfg.critic_fit, cfg.algo, device))

    if cfg.check_env and resume is None:
        check_env(cfg.env_id, cfg.atari_preprocessing)
    # a3c's workers make their own envs: here one env only tells the spaces
    envs = make_vector_env(cfg.env_id, 1 if cfg.algo == "a3c" else cfg.num_envs, cfg.vector_mode,
                           cfg.atari_preprocessing)
    sampler = learner = None
    try:
        check_spaces(cfg.env_id, envs.single_observation_space, envs.single_action_space)
        agent = Agent(cfg, envs.single_observation_space, envs.single_action_space, device)
        learner = get_learner(cfg.algo)(agent.actor, agent.critic, cfg, device)
        reward_scaler = RewardScaler(cfg.num_envs, cfg.gamma, cfg.normalize_rewards)
        sampler = _make_sampler(cfg, agent, reward_scaler, envs)
        run = RunDir(run_dir or default_run_dir(cfg), fresh=state is None, overwrite=overwrite)
        counters = {"iteration": 0, "env_steps": 0, "wall_s": 0.0}
        if state is not None:
            agent.load_state_dict(state["agent"])
            learner.load_state_dict(state["learner"])
            reward_scaler.load_state_dict(state.get("reward_scaler") or {"rms": state["reward_rms"]})
            if not sampler.load_state_dict(state["sampler"]):
                reward_scaler.ret[:] = 0.0  # fresh episodes: no running discounted return
                print("note: resuming with freshly reset environments (async or not snapshottable envs): "
                      "the continuation is not bitwise identical to an uninterrupted run")
            _set_rng_states(state)
            counters = dict(manifest["counters"])
        run.write_config(cfg)
        run.open_metrics(keep_up_to_iteration=counters["iteration"] if state is not None else None)
        try:
            result = _loop(cfg, agent, learner, sampler, reward_scaler, run, counters, progress, callback)
        except NonFiniteError as e:  # nothing bad was applied or saved: point at the last good state
            run.close()
            ckpts = list_checkpoints(run.ckpt_dir)
            where = (f"the last good checkpoint is {ckpts[-1]} (trpo train --resume {run.path})"
                     if ckpts else "no checkpoint was saved yet")
            raise NonFiniteError(f"{e}; {where}") from e
    finally:
        if hasattr(sampler, "close_workers"):
            sampler.close_workers()
        if hasattr(learner, "close"):  # trpo/npg's critic-fit helper process
            learner.close()
        envs.close()
    return result


def _set_rng_states(state: dict) -> None:
    torch.set_rng_state(state["torch_rng"])
    if "python_rng" in state:
        v, internal, gauss = state["python_rng"]
        random.setstate((v, tuple(internal), gauss))
    if "numpy_rng" in state:
        np.random.set_state(tuple(state["numpy_rng"]))


def _sync(learner) -> None:
    """trpo/npg may still be fitting the critic in their helper process: wait for it."""
    if hasattr(learner, "sync"):
        learner.sync()


def _checkpoint(run: RunDir, cfg: Config, agent: Agent, learner, sampler, reward_scaler, counters) -> None:
    _sync(learner)  # the critic and its optimiser state as of the last update
    state = {"agent": agent.state_dict(), "learner": learner.state_dict(),
             "reward_scaler": reward_scaler.state_dict(), "sampler": sampler.state_dict(),
             "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
             "numpy_rng": np.random.get_state()}
    meta = {"version": __version__, "config": cfg.to_dict(), "counters": dict(counters)}
    save_checkpoint(run.ckpt_dir, counters["iteration"], state, meta, keep=cfg.keep_checkpoints)


def _loop(cfg, agent, learner, sampler, reward_scaler, run, counters, progress, callback) -> TrainResult:
    from trpo.progress import TrainingProgress

    last_return, last_length = float("nan"), float("nan")
    interrupted = None
    mid_iteration = False  # a hard interrupt inside an iteration leaves no consistent state to save
    with _StopFlag() as stop, TrainingProgress(cfg, counters["env_steps"], enabled=progress) as bar:
        try:
            while counters["env_steps"] < cfg.total_steps and stop.signal is None:
                t0 = time.perf_counter()
                mid_iteration = True
                batch = sampler.collect()
                stats = learner.update(batch)
                if not all(math.isfinite(p.sum().item()) for p in agent.critic.parameters()):
                    raise NonFiniteError("non-finite values in the critic parameters after its fit")
                dt = time.perf_counter() - t0
                counters["iteration"] += 1
                counters["env_steps"] += batch.env_steps
                counters["wall_s"] += dt
                if batch.episode_returns:  # mean over the episodes that ended in this batch
                    last_return = float(np.mean(batch.episode_returns))
                    last_length = float(np.mean(batch.episode_lengths))
                row = {"iteration": counters["iteration"], "env_steps": counters["env_steps"],
                       "wall_s": round(counters["wall_s"], 4), "episode_return_mean": last_return,
                       "episode_length_mean": last_length, "fps": batch.env_steps / dt, **stats}
                run.log(row)
                bar.update(counters["env_steps"], last_return)
                if callback:
                    callback(row)
                if counters["iteration"] % cfg.checkpoint_every == 0:
                    _checkpoint(run, cfg, agent, learner, sampler, reward_scaler, counters)
                mid_iteration = False
            _sync(learner)
        except KeyboardInterrupt:
            interrupted = "SIGINT"
        interrupted = interrupted or stop.signal
    # the last completed iteration is always saved, also after Ctrl-C / SIGTERM (a second Ctrl-C
    # inside an iteration keeps the previous checkpoint: the half-done iteration is not saved)
    if mid_iteration and list_checkpoints(run.ckpt_dir):
        counters.update(json.loads(list_checkpoints(run.ckpt_dir)[-1].read_text())["counters"])
    elif not list_checkpoints(run.ckpt_dir) or load_manifest_iteration(run) != counters["iteration"]:
        _checkpoint(run, cfg, agent, learner, sampler, reward_scaler, counters)
    summary = {"algo": cfg.algo, "env_id": cfg.env_id, "seed": cfg.seed, "total_steps": counters["env_steps"],
               "iterations": counters["iteration"], "wall_s": counters["wall_s"],
               "steps_per_s": counters["env_steps"] / max(counters["wall_s"], 1e-9),
               "train_return_last": last_return, "version": __version__, "interrupted": bool(interrupted)}
    if not interrupted:
        mean, std, _ = agent.evaluate(cfg.eval_episodes)
        summary.update(final_eval_return_mean=mean, final_eval_return_std=std, final_eval_episodes=cfg.eval_episodes)
    run.write_summary(summary)
    run.close()
    if interrupted:
        print(f"{interrupted}: saved a checkpoint at iteration {counters['iteration']}; "
              f"continue with: trpo train --resume {run.path}")
    return TrainResult(agent, run.path, summary, interrupted=bool(interrupted))


def load_manifest_iteration(run: RunDir) -> int:
    ckpts = list_checkpoints(run.ckpt_dir)
    try:
        return int(ckpts[-1].stem.split("-")[1]) if ckpts else -1
    except (IndexError, ValueError):
        return -1
