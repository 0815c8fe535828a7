"""The training loop: sample -> update -> log -> evaluate -> checkpoint, then a final evaluation.

    from trpo import Config, train
    result = train(Config(env_id="CartPole-v1", total_steps=100_000))
    result.agent.act(obs); result.summary["final_eval_return_mean"]

The loop knows two interfaces only: a ``Learner`` (``trpo.algos.base``) and a ``Sampler``
(``trpo.rollout.base``), both looked up in their registries by the resolved config. It contains
no algorithm or sampler names.
"""
from __future__ import annotations

import json
import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from trpo import seeds
from trpo._version import __version__
from trpo.agent import Agent, check_own_networks
from trpo.algos import ALGOS
from trpo.algos.build import build_learner
from trpo.algos.trust_region import effective_trust_region, trust_region_scale
from trpo.callbacks import Callback as CallbackBase
from trpo.callbacks import RunHandle, as_callback
from trpo.checkpoint import describe, list_checkpoints, load_checkpoint, save_checkpoint
from trpo.config import RESUMABLE, Config, from_dict, validate
from trpo.diagnostics import RunWatch, initial_report
from trpo.envs.ids import is_atari
from trpo.envs.make import check_env
from trpo.errors import ConfigError, NonFiniteError, WorkerFailureError
from trpo.nets.normalize import RewardScaler
from trpo.nets.policies import is_image_space
from trpo.resolve import describe_layering, describe_unread, resolve_run, sampler_key
from trpo.rollout import get_sampler
from trpo.rollout.base import SamplerContext
from trpo.runs import RunDir, SilentExitWatch, default_run_dir
from trpo.system import cpu_model, git_state, keep_freed_memory, usable_cores
from trpo.timing import part

_SAID: set[str] = set()  # the notes on unread keys printed so far in this process

# callback(row, agent) after every iteration; a true return value stops the run cleanly. Also a
# trpo.callbacks.Callback (with its on_start hook) or a list of callbacks (trpo.callbacks.as_callback)
Callback = Callable[[dict, Agent], Any]


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


def refuse_unresumable(keys) -> None:
    """A ConfigError naming the first of ``keys`` that a resume may not change."""
    refused = [k for k in keys if k not in RESUMABLE]
    if refused:
        raise ConfigError(f"--resume cannot change config key '{refused[0]}' (it would no longer be the same "
                          f"run); keys that may change: {', '.join(RESUMABLE)}")


def _resume_config(cfg: Config | None, saved: Config, provenance: dict, iteration: int) -> Config:
    """The saved config with every resumable key ``cfg`` was given (``Config.sources``,
    ``trpo.config.RESUMABLE``) applied and recorded; any other given key is refused by name unless
    it holds the saved value (a whole config from Python, ``cfg.replace(total_steps=...)``, gives
    every key; those that the run already has are kept, not ignored). ``trpo train --resume``
    refuses any other key it is given, whatever its value (``refuse_unresumable``)."""
    given = cfg.sources if cfg is not None else {}
    refuse_unresumable(k for k in given if getattr(cfg, k) != getattr(saved, k))
    mark = f"user, on resume at iteration {iteration}"
    changes = {k: getattr(cfg, k) for k in given if k in RESUMABLE}
    out = from_dict({**saved.to_dict(), **changes}, source=None)
    out._sources = dict.fromkeys(changes, "user")  # type: ignore[attr-defined]  # not fields: Config.sources
    out._provenance = {**provenance, **dict.fromkeys(changes, mark)}  # type: ignore[attr-defined]  # not a field
    return out


def train(cfg: Config | None, run_dir: str | Path | None = None, *, resume: str | Path | None = None,
          overwrite: bool = False, progress: bool = True, callback: Callback | list[Callback] | None = None,
          env_fn: Callable | None = None, checkpoint: str | Path | None = None,
          actor=None, critic=None) -> TrainResult:
    """Train ``cfg.algo`` on ``cfg.env_id``; write the run directory; return the agent and summary.

    ``cfg`` is layered once (``trpo.resolve.layer``): defaults < the env's preset < config file <
    the keys ``cfg`` was given, which keep their values whatever they are; one line says what the
    preset set (``progress``), config.toml records where each value came from.

    ``resume``: a run directory to continue from its newest valid checkpoint (a damaged newer one
    is skipped with a note naming it) or from ``checkpoint``, a manifest of that run, with its
    saved config; the keys ``cfg`` was given (None: none) are applied if ``trpo.config.RESUMABLE``
    lists them (e.g. a larger ``total_steps``, another ``device``); any other given key is a
    ConfigError. A resume prints the checkpoint it continues from (iteration, env steps).
    ``callback(row, agent)``: called after every iteration with the metrics row; returning a true
    value stops the run cleanly (a checkpoint is written, then the final evaluation); a string
    return value is the reason (``stop_reason = "callback: ..."``). A ``trpo.callbacks.Callback``
    also gets ``on_start(run)`` (a ``RunHandle``: run directory, counters, ``save_checkpoint``);
    a list of callbacks is a ``CallbackList`` (``trpo.callbacks``).
    ``env_fn``: a factory of one env, used instead of ``cfg.env_id`` (which then only names the run),
    or of a ``gymnasium.vector.VectorEnv`` of ``cfg.num_envs`` envs that single-path sampling steps
    as it is (``trpo.envs.make.EnvSpec``: what that rules out, how it is evaluated).
    ``actor`` / ``critic``: one's own networks instead of the config's (an ``nn.Module``, a factory
    of () or of (obs_space, act_space); the protocol: ``trpo.nets.factory``, docs/networks.md);
    their weights go into the checkpoints, their code does not: a resume, ``trpo.load`` and
    ``export`` need the same modules given again. MLP policies, local sampling (not a3c's workers
    nor the Ray backend's, which build their networks from the config).
    """
    callbacks = as_callback(callback)  # before anything is built: a wrong type is a TypeError here
    state: dict | None = None
    manifest: Any = None  # set with state
    if resume is not None:
        if checkpoint is not None and Path(checkpoint).resolve().parent.parent != Path(resume).resolve():
            raise ConfigError(f"--checkpoint {checkpoint} is not a checkpoint of the run {resume} "
                              f"(expected {Path(resume) / 'checkpoints'}/ckpt-NNNNNN.json)")
        state, manifest = load_checkpoint(checkpoint or resume)  # the newest valid one by default
        check_own_networks(manifest, actor, critic)
        saved = from_dict(manifest["config"], source=None)
        cfg = _resume_config(cfg, saved, manifest.get("provenance") or saved.provenance,
                             manifest["counters"]["iteration"])
        run_dir = Path(resume)
    validate(cfg)  # type: ignore[arg-type]  # None only with resume, which sets it
    cfg, env = resolve_run(cfg, env_fn, presets=state is None)  # type: ignore[arg-type]  # layered and made concrete
    if progress or state is not None:  # a resume always says where it picks up
        print(describe_layering(cfg) if state is None else
              f"resuming from {describe(manifest)}; changed: "
              f"{', '.join(f'{k}={getattr(cfg, k)}' for k in cfg.given) or 'nothing'}")
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)      # python's and numpy's global RNGs too (for env code that uses them);
    np.random.seed(cfg.seed)   # all three are saved in checkpoints and restored on resume
    torch.set_num_threads(cfg.torch_threads)
    if cfg.keep_freed_memory:
        keep_freed_memory()  # before the critic helper is forked, which inherits it
    device = torch.device(cfg.device)

    if cfg.check_env and resume is None:
        check_env(env)
    obs_space, act_space = env.spaces()
    unread = describe_unread(cfg, image=is_image_space(obs_space), gaussian=isinstance(act_space, gym.spaces.Box),
                             own=(actor is not None, critic is not None),
                             atari=env.env_fn is None and is_atari(cfg.env_id))
    if unread is not None and unread not in _SAID:  # the user's keys that this run has no use for: said, not dropped
        _SAID.add(unread)  # once per process: trpo tune's trials share the caller's keys
        print(unread)
    agent = Agent(cfg, obs_space, act_space, device, env=env, actor=actor, critic=critic)
    learner = build_learner(cfg, agent, device)  # kl_per_action_dim folded in; config.toml keeps cfg as given
    reward_scaler = RewardScaler(cfg.num_envs, cfg.gamma, cfg.normalize_rewards)
    sampler = None
    run_path = Path(run_dir or default_run_dir(cfg))
    sampler_cls = get_sampler(sampler_key(cfg))
    # a backend whose processes can be ended with no chance to speak (Ray's lost driver node)
    watch = SilentExitWatch(run_path, sampler_cls.silent_exit) if sampler_cls.silent_exit else None
    try:
        sampler = sampler_cls.build(SamplerContext(
            cfg, env, agent.actor, agent.critic, agent.obs_norm, reward_scaler, device, learner.rollout_fn,
            own_networks=bool(agent.own_networks)))
        header = sampler.describe()  # e.g. the Ray backend: workers, nodes, start-up time
        if progress and header:
            print(header)
        run = RunDir(run_path, fresh=state is None, overwrite=overwrite)
        counters = {"iteration": 0, "env_steps": 0, "wall_s": 0.0, "best_eval": -math.inf, "evals": 0,
                    "last_return": math.nan, "last_length": math.nan}  # the last batch with an episode end's means
        if state is not None:
            agent.load_state_dict(state["agent"])
            learner.load_state_dict(state["learner"])
            reward_scaler.load_state_dict(state.get("reward_scaler") or {"rms": state["reward_rms"]})
            if not sampler.load_state_dict(state["sampler"]):
                reward_scaler.ret[:] = 0.0  # fresh episodes: no running discounted return
                print("note: resuming with freshly reset environments (async envs, a user's VectorEnv or envs that "
                      "cannot be snapshotted): the continuation is not bitwise identical to an uninterrupted run")
            _set_rng_states(state)
            counters.update(manifest["counters"])
        elif progress and cfg.warnings:
            initial_report(cfg, env, agent)
        run.write_config(cfg)
        run.open_metrics(keep_up_to_iteration=int(counters["iteration"]) if state is not None else None)
        try:
            result = _loop(cfg, agent, learner, sampler, reward_scaler, run, counters, progress, callbacks)
        except NonFiniteError as e:  # nothing bad was applied or saved: point at the last good state
            run.close()
            ckpts = list_checkpoints(run.ckpt_dir)
            where = (f"the last good checkpoint is {ckpts[-1]} (trpo train --resume {run.path})"
                     if ckpts else "no checkpoint was saved yet")
            raise NonFiniteError(f"{e}; {where}") from e
        except WorkerFailureError as e:  # raised in collect(): every state is the last iteration's
            _checkpoint(run, cfg, agent, learner, sampler, reward_scaler, counters)
            run.close()
            raise WorkerFailureError(f"{e}; saved a checkpoint at iteration {counters['iteration']}: "
                                     f"trpo train --resume {run.path}") from e
    finally:
        if sampler is not None:
            sampler.close()
        learner.close()
        if watch is not None:
            watch.done()
    return result


def _set_rng_states(state: dict) -> None:
    torch.set_rng_state(state["torch_rng"])
    if "python_rng" in state:
        v, internal, gauss = state["python_rng"]
        random.setstate((v, tuple(internal), gauss))
    if "numpy_rng" in state:
        np.random.set_state(tuple(state["numpy_rng"]))


def _checkpoint(run: RunDir, cfg: Config, agent: Agent, learner, sampler, reward_scaler, counters,
                best: bool = False, to: Path | None = None, keep: int | None = None) -> Path:
    learner.sync()  # the critic and its optimiser state as of the last update
    state = {"agent": agent.state_dict(), "learner": learner.state_dict(),
             "reward_scaler": reward_scaler.state_dict(), "sampler": sampler.state_dict(),
             "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
             "numpy_rng": np.random.get_state()}
    meta = {"version": __version__, "config": cfg.to_dict(), "provenance": cfg.provenance, "counters": dict(counters),
            **({"own_networks": agent.own_networks} if agent.own_networks else {})}
    if best:  # checkpoints/best: its own folder, one checkpoint, never touched by the rotation
        return save_checkpoint(run.ckpt_dir / "best", counters["iteration"], state, meta, keep=1)
    if to is not None:  # a callback's (RunHandle.save_checkpoint): its folder, its rotation
        return save_checkpoint(to, counters["iteration"], state, meta, keep=keep)
    return save_checkpoint(run.ckpt_dir, counters["iteration"], state, meta, keep=cfg.keep_checkpoints)


def _periodic_eval(cfg: Config, agent: Agent, learner, run: RunDir, counters: dict) -> dict[str, float]:
    """A deterministic evaluation on envs seeded seed + ``seeds.PERIODIC_EVAL`` (neither training's nor the final
    evaluation's), the same start states every time so that the curve compares policies, and a
    stochastic one (actions sampled from the policy, its own generator seeded alike) on the same
    start states: the mean action and the sampled policy side by side. A critic
    fit still running elsewhere is waited for first, on the training clock (the evaluation must not
    give it free time)."""
    t = time.perf_counter()
    learner.sync()
    counters["wall_s"] += time.perf_counter() - t
    counters["evals"] += 1
    video = cfg.video_every and counters["evals"] % cfg.video_every == 0
    mean, std, _ = agent.evaluate(cfg.eval_periodic_episodes, seed=cfg.seed + seeds.PERIODIC_EVAL)
    s_mean, s_std, _ = agent.evaluate(cfg.eval_periodic_episodes, seed=cfg.seed + seeds.PERIODIC_EVAL,
                                      deterministic=False)
    if video:
        agent.evaluate(1, seed=cfg.seed + seeds.PERIODIC_EVAL,
                       video_dir=run.path / "videos" / f"eval-{counters['env_steps']:09d}")
    return {"eval_return_mean": mean, "eval_return_std": std,
            "eval_stochastic_return_mean": s_mean, "eval_stochastic_return_std": s_std}


def _loop(cfg, agent, learner, sampler, reward_scaler, run, counters, progress,  # noqa: C901 - the training loop, in order
          callback: CallbackBase) -> TrainResult:
    from trpo.progress import TrainingProgress
    from trpo.tracking import make_tracker

    interrupted = stop_reason = None
    trust_region = effective_trust_region(cfg, agent.act_space)  # max_kl and damping as the step uses them
    watch = RunWatch(trust_region, agent, enabled=cfg.warnings, algo=ALGOS[cfg.algo],
                     eval_episodes=cfg.eval_periodic_episodes)
    tracker = make_tracker(cfg, run.path)
    mid_iteration = False  # a hard interrupt inside an iteration leaves no consistent state to save
    callback.on_start(RunHandle(run.path, cfg, counters, lambda to, keep: _checkpoint(
        run, cfg, agent, learner, sampler, reward_scaler, counters, to=to, keep=keep)))
    with _StopFlag() as stop, TrainingProgress(cfg, counters["env_steps"], enabled=progress) as bar:
        try:
            while counters["env_steps"] < cfg.total_steps and stop.signal is None and stop_reason is None:
                t0 = time.perf_counter()
                mid_iteration = True
                with part("sampling"):
                    batch = sampler.collect()
                with part("update"):
                    stats = learner.update(batch)
                if not all(math.isfinite(p.sum().item()) for p in agent.critic.parameters()):
                    raise NonFiniteError("non-finite values in the critic parameters after its fit")
                dt = time.perf_counter() - t0
                counters["iteration"] += 1
                counters["env_steps"] += batch.env_steps
                counters["wall_s"] += dt
                # the means over the episodes that ended in this batch, carried over batches where none
                # ended and through a resume (counters are checkpointed)
                if batch.episode_returns:
                    counters["last_return"] = float(np.mean(batch.episode_returns))
                    counters["last_length"] = float(np.mean(batch.episode_lengths))
                row = {"iteration": counters["iteration"], "env_steps": counters["env_steps"],
                       "wall_s": None, "episode_return_mean": counters["last_return"],
                       "episode_length_mean": counters["last_length"], "fps": batch.env_steps / dt, **stats,
                       "eval_return_mean": None, "eval_return_std": None,
                       "eval_stochastic_return_mean": None, "eval_stochastic_return_std": None}
                evaluate = cfg.eval_periodic_episodes > 0 and (
                    counters["env_steps"] // cfg.eval_every
                    > (counters["env_steps"] - batch.env_steps) // cfg.eval_every
                    or counters["env_steps"] >= cfg.total_steps)
                if evaluate:
                    row.update(_periodic_eval(cfg, agent, learner, run, counters))
                    mean = row["eval_return_mean"]
                    if mean > counters["best_eval"]:
                        counters["best_eval"] = mean
                        _checkpoint(run, cfg, agent, learner, sampler, reward_scaler, counters, best=True)
                    if mean >= cfg.stop_at_return:
                        stop_reason = f"stop_at_return: evaluation return {mean:.1f} >= {cfg.stop_at_return:g}"
                row["wall_s"] = round(counters["wall_s"], 4)
                t_book = time.perf_counter()  # bookkeeping counts as training time (the critic
                run.log(row)                  # helper may be fitting meanwhile); evaluations do not
                tracker.log(row)
                for msg in watch.observe(row, batch):
                    bar.print(f"warning: {msg}")
                bar.update(counters["env_steps"], counters["last_return"])
                asked = callback(row, agent)
                if asked:
                    stop_reason = stop_reason or (f"callback: {asked}" if isinstance(asked, str) else "callback")
                if counters["iteration"] % cfg.checkpoint_every == 0 or stop_reason:
                    _checkpoint(run, cfg, agent, learner, sampler, reward_scaler, counters)
                counters["wall_s"] += time.perf_counter() - t_book
                mid_iteration = False
            learner.sync()
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
               "train_return_last": counters["last_return"], "version": __version__, "interrupted": bool(interrupted),
               "stop_reason": stop_reason, "preset": cfg.preset, "sampler": cfg.sampler,
               "vector_mode": cfg.vector_mode, "device": cfg.device, "backend": cfg.backend,
               **sampler.summary(),  # e.g. the Ray sampler's worker count and restarts
               "best_eval_return": counters["best_eval"] if counters["evals"] else None,
               "warnings": watch.fired,
               **({"trust_region": {"max_kl": trust_region.max_kl, "cg_damping": trust_region.cg_damping,
                                    "scale": trust_region_scale(cfg, agent.act_space)}}
                  if ALGOS[cfg.algo].trust_region else {}),
               # where the figures above were measured: speeds and seeded results depend on it
               "machine": {"cpu": cpu_model(), "usable_cores": usable_cores(), "torch": torch.__version__},
               "git": git_state()}  # the code that made it: commit and uncommitted changes to src/
    if not interrupted:
        mean, std, _ = agent.evaluate(cfg.eval_episodes)
        s_mean, s_std, _ = agent.evaluate(cfg.eval_episodes, deterministic=False)
        summary.update(final_eval_return_mean=mean, final_eval_return_std=std, final_eval_episodes=cfg.eval_episodes,
                       final_eval_stochastic_return_mean=s_mean, final_eval_stochastic_return_std=s_std)
    run.write_summary(summary)
    tracker.finish(cfg, summary)
    run.close()
    if interrupted:
        print(f"{interrupted}: saved a checkpoint at iteration {counters['iteration']}; "
              f"continue with: trpo train --resume {run.path}")
    elif stop_reason and progress:
        print(f"stopped early ({stop_reason}) at {counters['env_steps']:,} steps")
    return TrainResult(agent, run.path, summary, interrupted=bool(interrupted))


def load_manifest_iteration(run: RunDir) -> int:
    ckpts = list_checkpoints(run.ckpt_dir)
    try:
        return int(ckpts[-1].stem.split("-")[1]) if ckpts else -1
    except (IndexError, ValueError):
        return -1
