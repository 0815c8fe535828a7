"""Our TRPO against sb3-contrib TRPO (RL-Zoo hyperparameters), side by side, same env / steps / seed.

    python benchmarks/bench_trpo.py --env CartPole-v1 --steps 100000
    python benchmarks/bench_trpo.py --env Hopper-v5 --steps 300000 --seeds 0 1 2 3 4 --eval-every 10000 --peer-threads 1

Recurrent policies against sb3-contrib's RecurrentPPO (RL-Zoo's ppo_lstm hyperparameters and
budget), with our MLP policy alongside (``ours-mlp``: the same settings, ``policy = "mlp"``):

    python benchmarks/bench_trpo.py --env trpo/CartPoleNoVelocity-v1 --peer recurrentppo --set policy=gru \
        --only ours,ours-mlp,peer --steps 300000 --peer-steps 100000 --seeds 0 1 2

Every measurement runs in its own subprocess (clean RSS, thread settings and imports), one at a
time, interleaved per seed and repeat (env-only, ours, peer, env-only, ours, peer, ...) so that a
machine under varying load hurts both sides alike. Prints markdown tables; writes the raw numbers
(and both sides' evaluation curves) to benchmarks/results/<env>-<steps>-<time>.json. Needs the
``bench`` extra (sb3-contrib).

Ours runs the shipped settings for the env (``preset = "auto"``: the ``mujoco`` preset for MuJoCo
ids), changed only by ``--set`` and by the evaluation schedule below.

Measured, per side:
  steps/s          env steps / training wall time (sampling + updates; no setup, no evaluations)
  eval curve       (env steps, training wall s, return): a deterministic ``--eval-episodes``
                   (10) episode evaluation whenever the env-step count crosses a multiple of
                   ``--eval-every``, and after the last update; the clock is paused during it.
                   Both sides evaluate the same start states: episode i on an env reset with
                   seed + 20000 + i (ours: the trainer's own periodic evaluation, config keys
                   eval_every / eval_periodic_episodes; the peer: the same loop in a callback,
                   observations through its training VecNormalize statistics)
  time to threshold  training wall time (and env steps) at the first evaluation whose mean
                   return reaches ``--threshold`` (default: THRESHOLDS[env]); "-" if none did
  return at equal wall time
                   per seed, T = the shorter of the two sides' total training wall times; each
                   side's return at T = its last evaluation at or before T (so the faster side's
                   is its final periodic evaluation). ``--wall-budget S`` adds the same at a fixed
                   T = S seconds for both sides
  final eval       deterministic 10-episode return after the last update, env seeds
                   seed + 10000 + i (both sides)
  peak RSS         ru_maxrss of the worker process (subprocess envs, if any, not counted), plus
                   for ours the private memory of the critic-fit helper process (critic_fit =
                   process; read from /proc/PID/smaps_rollup when the learner closes it: its other
                   pages are the parent's, shared copy-on-write, and counted once)
  (the clock)      ours: the trainer's ``wall_s`` (sampling + updates; before each periodic
                   evaluation it waits for a critic fit still running in the helper process and
                   adds the wait). Its per-iteration bookkeeping (metrics.csv, TensorBoard,
                   checkpoints, the callback) is outside that clock; the worker measures it
                   (``outside_clock_s``, from the iterations without an evaluation, scaled to all;
                   per iteration: the 4th entry of ``train_curve``) so that it can be checked. The peer: perf_counter from SB3's training start,
                   minus the evaluations.
The env-only rate: one env (gym.make, default wrappers), random actions, one process.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trpo.system import cpu_model  # lscpu's model name, CPUs and hypervisor

# default --threshold per env: the evaluation return that counts as "reached" for time to threshold
THRESHOLDS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0, "Hopper-v5": 2500.0,
              "trpo/CartPoleNoVelocity-v1": 475.0, "trpo/PendulumNoVelocity-v1": -300.0}
PERIODIC_EVAL_SEED = 20_000  # the trainer's periodic evaluation: episode i on seed + 20_000 + i
FINAL_EVAL_SEED = 10_000     # Agent.evaluate's default: episode i on seed + 10_000 + i

# rl-baselines3-zoo hyperparams/trpo.yml (the "Tuned" entries); MuJoCo ids share the mujoco defaults
ZOO = {
    "CartPole-v1": dict(n_envs=2, normalize=False, n_steps=512, batch_size=512, cg_damping=1e-3,
                        gae_lambda=0.98, gamma=0.99, learning_rate=1e-3, n_critic_updates=20),
    "Pendulum-v1": dict(n_envs=2, normalize=False, n_steps=1024, gamma=0.9, n_critic_updates=15,
                        use_sde=True, sde_sample_freq=4),
    "mujoco": dict(n_envs=2, normalize=True, batch_size=128, n_steps=1024, gamma=0.99, gae_lambda=0.95,
                   sub_sampling_factor=1, cg_max_steps=25, cg_damping=0.1, n_critic_updates=20,
                   learning_rate=1e-3),
}
# RL-Zoo's per-env MuJoCo entries on top of its defaults (its -v3 ids; the same tasks in -v5)
ZOO["Swimmer-v5"] = dict(ZOO["mujoco"], gamma=0.9999)
ZOO["HalfCheetah-v5"] = dict(ZOO["mujoco"], target_kl=0.04)
# rl-baselines3-zoo hyperparams/ppo_lstm.yml (RecurrentPPO, MlpLstmPolicy: an LSTM of 256 units,
# actor and critic each their own); its CartPoleNoVel-v1 / PendulumNoVel-v1 are these ids' tasks.
# "lin_X" schedules decay linearly from X to 0 over the run.
ZOO_LSTM = {
    "trpo/CartPoleNoVelocity-v1": dict(n_envs=8, normalize=False, n_steps=32, batch_size=256, gae_lambda=0.8,
                                       gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate="lin_0.001",
                                       clip_range="lin_0.2"),
    "trpo/PendulumNoVelocity-v1": dict(n_envs=4, normalize=False, n_steps=1024, gae_lambda=0.95, gamma=0.9,
                                       n_epochs=10, ent_coef=0.0, learning_rate=1e-3, clip_range=0.2,
                                       use_sde=True, sde_sample_freq=4),
}
# rl-baselines3-zoo hyperparams/ppo.yml, its MuJoCo (-v4) entries: the tuned ones (HalfCheetah, Hopper,
# Walker2d, Humanoid, Swimmer) and the defaults with normalisation (Ant). "policy_kwargs" where RL-Zoo writes
# them (HalfCheetah, Hopper, Humanoid: log_std_init -2, no orthogonal init, ReLU, 256 x 256 each).
_PPO_NET = dict(log_std_init=-2, ortho_init=False, activation_fn="relu", net_arch=dict(pi=[256, 256], vf=[256, 256]))
ZOO_PPO = {
    "mujoco": dict(n_envs=1, normalize=True),
    "Swimmer": dict(n_envs=4, normalize=True, gamma=0.9999, n_steps=1024, batch_size=256, learning_rate=6e-4,
                    gae_lambda=0.98),
    "HalfCheetah": dict(n_envs=1, normalize=True, batch_size=64, n_steps=512, gamma=0.98, learning_rate=2.0633e-05,
                        ent_coef=0.000401762, clip_range=0.1, n_epochs=20, gae_lambda=0.92, max_grad_norm=0.8,
                        vf_coef=0.58096, policy_kwargs=_PPO_NET),
    "Hopper": dict(n_envs=1, normalize=True, batch_size=32, n_steps=512, gamma=0.999, learning_rate=9.80828e-05,
                   ent_coef=0.00229519, clip_range=0.2, n_epochs=5, gae_lambda=0.99, max_grad_norm=0.7,
                   vf_coef=0.835671, policy_kwargs=_PPO_NET),
    "Walker2d": dict(n_envs=1, normalize=True, batch_size=32, n_steps=512, gamma=0.99, learning_rate=5.05041e-05,
                     ent_coef=0.000585045, clip_range=0.1, n_epochs=20, gae_lambda=0.95, max_grad_norm=1,
                     vf_coef=0.871923),  # no policy_kwargs in RL-Zoo's Walker2d entry: sb3's default network
    "Humanoid": dict(n_envs=1, normalize=True, batch_size=256, n_steps=512, gamma=0.95, learning_rate=3.56987e-05,
                     ent_coef=0.00238306, clip_range=0.3, n_epochs=5, gae_lambda=0.9, max_grad_norm=2,
                     vf_coef=0.431892, policy_kwargs=_PPO_NET),
}
# rl-baselines3-zoo hyperparams/a2c.yml, its MuJoCo (-v4) entries: sb3's A2C defaults with normalisation
# (Swimmer: gamma 0.9999)
ZOO_A2C = {"mujoco": dict(n_envs=1, normalize=True), "Swimmer": dict(n_envs=1, normalize=True, gamma=0.9999)}
MUJOCO = ("Ant", "HalfCheetah", "Hopper", "Walker2d", "Humanoid", "Swimmer", "Reacher", "InvertedPendulum",
          "InvertedDoublePendulum", "Pusher")


def zoo_params(env_id: str, peer: str = "trpo") -> dict:
    if peer in ("ppo", "a2c"):
        table, name = (ZOO_PPO if peer == "ppo" else ZOO_A2C), env_id.split("-")[0]
        if name not in MUJOCO:
            raise SystemExit(f"--peer {peer}: RL-Zoo's settings are wired for the MuJoCo envs only, not {env_id}")
        return copy.deepcopy(table.get(name, table["mujoco"]))
    if peer == "recurrentppo":
        return dict(ZOO_LSTM.get(env_id, dict(n_envs=1, normalize=False)))
    if env_id in ZOO:
        return dict(ZOO[env_id])
    if env_id.split("-")[0] in MUJOCO:
        return dict(ZOO["mujoco"])
    return dict(n_envs=1, normalize=False)  # sb3-contrib defaults


def peer_env_kwargs(a) -> dict:
    """The env keyword arguments of our resolved config (a preset's, e.g. Ant without contact
    forces, and --set env_kwargs): the peer trains and evaluates the same env as ours."""
    from trpo.config import Config, parse_overrides
    from trpo.resolve import layer

    cfg = layer(Config(env_id=a.env).replace(**parse_overrides(a.set or [])))
    return dict(cfg.env_kwargs or {})


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def private_mb(pid: int) -> float:
    """Private (unshared) resident memory of a process, MB (Linux)."""
    kb = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                kb += int(line.split()[1])
    return kb / 1024.0


# ------------------------------------------------------------------------------------- workers
def worker_env(a) -> dict:
    import gymnasium as gym
    import numpy as np

    env = gym.make(a.env)
    env.reset(seed=a.seed)
    env.action_space.seed(a.seed)
    acts = [env.action_space.sample() for _ in range(1000)]
    n, t0 = 0, time.perf_counter()
    while n < a.env_steps and time.perf_counter() - t0 < a.env_seconds:
        for i in range(1000):
            _, _, te, tr, _ = env.step(acts[i])
            if te or tr:
                env.reset()
        n += 1000
    dt = time.perf_counter() - t0
    env.close()
    return {"impl": "env-only", "seed": a.seed, "steps": n, "wall_s": dt, "steps_per_s": n / dt, "peak_rss_mb": peak_rss_mb(),
            "numpy": np.__version__}


def worker_ours_mlp(a) -> dict:
    """Ours with the same settings but a Markov (MLP) policy."""
    return {**worker_ours(argparse.Namespace(**{**vars(a), "set": [*(a.set or []), "policy=mlp"]})), "impl": "ours-mlp"}


def worker_ours_sync(a) -> dict:
    """Ours with vector_mode = "sync": one process steps every env (the same batches as split)."""
    return {**worker_ours(argparse.Namespace(**{**vars(a), "set": [*(a.set or []), "vector_mode=sync"]})),
            "impl": "ours-sync"}


def worker_ours_split(a) -> dict:
    """Ours with vector_mode = "split" (trpo.envs.split): the same batches as sync, bit for bit."""
    return {**worker_ours(argparse.Namespace(**{**vars(a), "set": [*(a.set or []), "vector_mode=split"]})),
            "impl": "ours-split"}


def earlier_curves(metrics: Path, n_new: int, curve: list, train_curve: list) -> tuple[list, list]:
    """A resumed run's curves: the rows of metrics.csv before the ``n_new`` iterations this process
    ran, then this process's own (the callback's) rows."""
    import csv

    with open(metrics) as f:
        rows = list(csv.DictReader(f))
    before = rows[:len(rows) - n_new]
    ev = [[int(r["env_steps"]), float(r["wall_s"]), float(r["eval_return_mean"])] for r in before
          if r.get("eval_return_mean") not in (None, "")]
    tr = [[int(r["env_steps"]), float(r["wall_s"]),
           float(r["episode_return_mean"]) if r["episode_return_mean"] not in ("", None) else None, None]
          for r in before]
    return ev + curve, tr + train_curve


def worker_ours(a) -> dict:
    import torch

    import trpo.algos.trpo as TRPO_MOD
    from trpo.checkpoint import list_checkpoints
    from trpo.config import Config, parse_overrides
    from trpo.trainer import train

    cfg = Config(env_id=a.env, total_steps=a.steps, seed=a.seed, eval_every=a.eval_every,
                 eval_periodic_episodes=a.eval_episodes).replace(**parse_overrides(a.set or []))
    holder = {"t": None, "wall": 0.0}
    curve, train_curve, outside = [], [], []

    def callback(row, agent):  # outside the timed part of the iteration (wall_s excludes it)
        now = time.perf_counter()
        out = None  # real time since the last callback minus the clocked time (not measured across an evaluation)
        if row["eval_return_mean"] is not None:
            curve.append([row["env_steps"], row["wall_s"], row["eval_return_mean"]])
        elif holder["t"] is not None:
            out = now - holder["t"] - (row["wall_s"] - holder["wall"])
            outside.append(out)
        train_curve.append([row["env_steps"], row["wall_s"], row["episode_return_mean"], out])
        holder.update(t=now, wall=row["wall_s"])

    orig_close = TRPO_MOD.TRPO.close

    def close(self):  # the helper's private memory, just before it exits
        if self._helper is not None:
            holder["helper_private_mb"] = private_mb(self._helper.pid)
        orig_close(self)

    TRPO_MOD.TRPO.close = close
    if a.run_dir:  # the harness's: a run a stop interrupted continues from its newest checkpoint (exact resume)
        resumed = bool(list_checkpoints(Path(a.run_dir) / "checkpoints"))
        res = (train(Config(total_steps=a.steps), resume=a.run_dir, progress=False, callback=callback) if resumed else
               train(cfg, a.run_dir, overwrite=True, progress=False, callback=callback))
        if resumed:  # the iterations before the resume, from the run's metrics.csv (no outside-clock time)
            curve, train_curve = earlier_curves(Path(a.run_dir) / "metrics.csv", len(train_curve), curve, train_curve)
    else:
        with tempfile.TemporaryDirectory() as d:
            res = train(cfg, d, progress=False, callback=callback)
    s = res.summary
    helper_mb = holder.get("helper_private_mb", 0.0)
    n_out = len(outside)
    return {"impl": "ours", "seed": a.seed, "steps": s["total_steps"], "wall_s": s["wall_s"],
            "steps_per_s": s["total_steps"] / s["wall_s"],
            "outside_clock_s": sum(outside) * len(train_curve) / n_out if n_out else None,  # scaled to all iterations
            "final_eval_return": s["final_eval_return_mean"], "final_eval_std": s["final_eval_return_std"],
            "train_return_last": s["train_return_last"], "peak_rss_mb": peak_rss_mb() + helper_mb,
            "main_rss_mb": peak_rss_mb(), "helper_private_mb": helper_mb,
            "torch_threads": torch.get_num_threads(), "config": res.agent.cfg.to_dict(),
            "final_eval_stochastic_return": s.get("final_eval_stochastic_return_mean"),
            "final_eval_stochastic_std": s.get("final_eval_stochastic_return_std"),
            "best_eval_return": s.get("best_eval_return"), "summary": s,
            "eval_curve": curve, "train_curve": train_curve}


def worker_peer(a) -> dict:
    import gymnasium as gym
    import numpy as np
    import torch
    from sb3_contrib import TRPO, RecurrentPPO
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    import trpo  # noqa: F401  registers the trpo/... ids

    if a.peer_threads:
        torch.set_num_threads(a.peer_threads)
    hp = zoo_params(a.env, a.peer)
    n_envs, normalize = hp.pop("n_envs"), hp.pop("normalize")
    for k, v in hp.items():  # RL-Zoo's "lin_X": linear decay from X to 0 (progress goes 1 -> 0)
        if isinstance(v, str) and v.startswith("lin_"):
            hp[k] = (lambda x0: lambda progress: progress * x0)(float(v[4:]))
    env_kwargs = peer_env_kwargs(a)
    env = make_vec_env(a.env, n_envs=n_envs, seed=a.seed, env_kwargs=env_kwargs)
    if normalize:
        env = VecNormalize(env, gamma=hp.get("gamma", 0.99))
    if "policy_kwargs" in hp:  # RL-Zoo names the activation as a string of its module
        hp["policy_kwargs"]["activation_fn"] = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[
            hp["policy_kwargs"]["activation_fn"]]
    recurrent = a.peer == "recurrentppo"
    steps = a.peer_steps or a.steps
    cls = {"recurrentppo": RecurrentPPO, "trpo": TRPO, "ppo": PPO, "a2c": A2C}[a.peer]
    model = cls("MlpLstmPolicy" if recurrent else "MlpPolicy", env, seed=a.seed, device="cpu", verbose=0, **hp)
    eval_env = gym.make(a.env, **env_kwargs)

    def evaluate(episodes: int, seed: int) -> tuple[float, float]:
        """As our Agent.evaluate: deterministic, episode i on an env reset with seed + i, the
        observations normalised with the training statistics of the moment (not updated)."""
        returns = []
        for i in range(episodes):
            obs, _ = eval_env.reset(seed=seed + i)
            total, done, state, first = 0.0, False, None, True
            while not done:
                o = obs[None]
                if normalize:
                    o = env.normalize_obs(o)
                if recurrent:  # the LSTM state carried through the episode
                    act, state = model.predict(o, state=state, episode_start=np.array([first]), deterministic=True)
                    first = False
                else:
                    act, _ = model.predict(o, deterministic=True)
                obs, r, term, trunc, _ = eval_env.step(act[0])
                total += float(r)
                done = term or trunc
            returns.append(total)
        return float(np.mean(returns)), float(np.std(returns))

    curve, train_curve = [], []

    class Clock(BaseCallback):
        """Training wall time without the evaluations; the periodic evaluations between updates,
        on the same schedule as ours (the step count crossed a multiple of eval_every, and after
        the last update)."""

        def __init__(self):
            super().__init__()
            self.paused, self.prev, self.end_wall = 0.0, 0, None

        def _on_training_start(self):
            self.t0 = time.perf_counter()

        def wall(self):
            return time.perf_counter() - self.t0 - self.paused

        def after_update(self, last: bool):
            n = self.model.num_timesteps
            if n == self.prev:
                return
            w = self.wall()
            ep = [e["r"] for e in self.model.ep_info_buffer]
            if not train_curve or n - train_curve[-1][0] >= 1000 or n >= steps or last:  # A2C updates every 5 steps
                train_curve.append([n, w, float(np.mean(ep)) if ep else float("nan")])
            if n // a.eval_every > self.prev // a.eval_every or n >= steps or last:
                t = time.perf_counter()
                mean, _ = evaluate(a.eval_episodes, a.seed + PERIODIC_EVAL_SEED)
                self.paused += time.perf_counter() - t
                curve.append([n, w, mean])
            self.prev = n

        def _on_rollout_start(self):  # after the previous update
            self.after_update(last=False)

        def _on_training_end(self):  # after the last update
            self.end_wall = self.wall()
            self.after_update(last=True)

        def _on_step(self):
            return True

    clock = Clock()
    model.learn(steps, callback=clock)
    wall = clock.end_wall
    mean, std = evaluate(10, a.seed + FINAL_EVAL_SEED)
    ep = [e["r"] for e in model.ep_info_buffer]
    return {"impl": "sb3-contrib" if a.peer in ("trpo", "recurrentppo") else "stable-baselines3", "seed": a.seed, "steps": int(model.num_timesteps), "wall_s": wall,
            "steps_per_s": model.num_timesteps / wall, "final_eval_return": mean, "final_eval_std": std,
            "train_return_last": float(np.mean(ep)) if ep else float("nan"), "peak_rss_mb": peak_rss_mb(),
            "torch_threads": torch.get_num_threads(), "peer": cls.__name__,
            "hyperparameters": zoo_params(a.env, a.peer), "env_kwargs": env_kwargs,
            "eval_curve": curve, "train_curve": train_curve}


# ---------------------------------------------------------------------------------------- parent
def run_worker(kind: str, a) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--env", a.env, "--steps", str(a.steps), "--seed", str(a.seed),
           "--eval-every", str(a.eval_every), "--eval-episodes", str(a.eval_episodes),
           "--peer-threads", str(a.peer_threads), "--env-steps", str(a.env_steps), "--env-seconds", str(a.env_seconds),
           "--peer", a.peer, "--peer-steps", str(a.peer_steps)]
    for s in a.set or []:
        cmd += ["--set", s]
    # the worker imports this tree's trpo (git() names it), not another checkout an editable install points to
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode:
        sys.stderr.write(p.stderr[-3000:])
        raise SystemExit(f"worker {kind} failed (exit {p.returncode})")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = time.perf_counter() - t
    extra = ""
    if "eval_curve" in out:
        extra = f", final eval {out['final_eval_return']:.0f}, training wall {out['wall_s']:.0f} s"
    print(f"  seed {a.seed} {kind:5s} {out['steps_per_s']:8.0f} steps/s{extra}  ({out['process_wall_s']:.0f} s)",
          file=sys.stderr)
    return out


def reached(curve: list, threshold: float | None) -> tuple[float | None, int | None]:
    """(training wall s, env steps) of the first evaluation with return >= threshold, else (None, None)."""
    if threshold is not None:
        for steps, wall, ret in curve:
            if ret >= threshold:
                return wall, steps
    return None, None


def return_at(curve: list, t: float) -> float | None:
    """The last evaluation return at or before training wall time t (None if none was)."""
    before = [ret for _, wall, ret in curve if wall <= t]
    return before[-1] if before else None


def pairs(rows: list[dict], threshold: float | None, wall_budget: float | None) -> list[dict]:
    """Per (seed, repeat): ours against the peer, time to threshold and return at equal wall time."""
    out = []
    keys = sorted({(r["seed"], r.get("repeat", 0)) for r in rows if "eval_curve" in r})
    for key in keys:
        side = {r["impl"]: r for r in rows if (r["seed"], r.get("repeat", 0)) == key and "eval_curve" in r}
        if set(side) != {"ours", "sb3-contrib"}:
            continue
        o, q = side["ours"], side["sb3-contrib"]
        t_eq = min(o["wall_s"], q["wall_s"])
        d = {"seed": key[0], "repeat": key[1], "equal_wall_s": t_eq}
        for name, r in (("ours", o), ("peer", q)):
            d[f"{name}_time_to_threshold_s"], d[f"{name}_steps_to_threshold"] = reached(r["eval_curve"], threshold)
            d[f"{name}_final_eval"] = r["final_eval_return"]
            d[f"{name}_last_periodic_eval"] = r["eval_curve"][-1][2]
            d[f"{name}_wall_s"] = r["wall_s"]
            d[f"{name}_return_at_equal_wall"] = return_at(r["eval_curve"], t_eq)
            if wall_budget is not None:
                d[f"{name}_return_at_budget"] = return_at(r["eval_curve"], wall_budget)
        out.append(d)
    return out


def quality_table(env: str, steps: int, threshold: float | None, ps: list[dict], wall_budget: float | None) -> str:
    """Markdown: per seed, then mean and median rows; times not reached count as infinite for the
    median and are left out of the mean (with the count of seeds that reached)."""
    import math
    import statistics as st

    thr = fmt(threshold, ",.0f") if threshold is not None else "-"
    head = (f"| {env}, {steps:,} steps, seed | time to {thr} (s) ours / peer | steps to {thr} ours / peer | "
            f"final eval ours / peer | equal wall T (s) | return at T ours / peer |")
    cols = 6
    if wall_budget is not None:
        head += f" return at {wall_budget:g} s ours / peer |"
        cols += 1
    lines = [head, "|---" + "|---:" * (cols - 1) + "|"]

    def pair(d, key, spec):
        return f"{fmt(d['ours_' + key], spec)} / {fmt(d['peer_' + key], spec)}"

    for d in ps:
        row = [str(d["seed"]) + (f" (r{d['repeat']})" if d["repeat"] else ""), pair(d, "time_to_threshold_s", ".1f"),
               pair(d, "steps_to_threshold", ","), pair(d, "final_eval", ".0f"), fmt(d["equal_wall_s"], ".1f"),
               pair(d, "return_at_equal_wall", ".0f")]
        if wall_budget is not None:
            row.append(pair(d, "return_at_budget", ".0f"))
        lines.append("| " + " | ".join(row) + " |")

    def agg(name, key, how):
        vals = [d[f"{name}_{key}"] for d in ps]
        if how == "median":
            v = [math.inf if x is None else x for x in vals]
            m = st.median(v) if v else None
            return None if m is None or math.isinf(m) else m
        got = [x for x in vals if x is not None]
        return st.mean(got) if got else None

    n = len(ps)
    for how in ("mean", "median"):
        def both(key, spec):
            o, q = agg("ours", key, how), agg("peer", key, how)
            txt = f"{fmt(o, spec)} / {fmt(q, spec)}"
            if how == "mean" and key in ("time_to_threshold_s", "steps_to_threshold"):
                ko = sum(d[f"ours_{key}"] is not None for d in ps)
                kq = sum(d[f"peer_{key}"] is not None for d in ps)
                txt += f" ({ko}/{n} and {kq}/{n} reached)"
            return txt
        row = [f"**{how}**", both("time_to_threshold_s", ".1f"), both("steps_to_threshold", ",.0f"),
               both("final_eval", ".0f"), fmt(st.mean([d["equal_wall_s"] for d in ps]) if how == "mean" else
                                              st.median([d["equal_wall_s"] for d in ps]), ".1f"),
               both("return_at_equal_wall", ".0f")]
        if wall_budget is not None:
            row.append(both("return_at_budget", ".0f"))
        lines.append("| " + " | ".join(row) + " |")

    ratios = [d["ours_time_to_threshold_s"] / d["peer_time_to_threshold_s"] for d in ps
              if d["ours_time_to_threshold_s"] is not None and d["peer_time_to_threshold_s"] is not None]
    mo, mq = agg("ours", "time_to_threshold_s", "median"), agg("peer", "time_to_threshold_s", "median")
    fo, fq = st.mean(d["ours_final_eval"] for d in ps), st.mean(d["peer_final_eval"] for d in ps)
    lines.append("")
    if threshold is not None:
        lines.append(f"time to {thr}, ours / peer: per seed where both reached it "
                     f"{', '.join(format(r, '.2f') for r in ratios) or '-'}"
                     + (f" (median {st.median(ratios):.2f})" if ratios else "")
                     + (f"; ratio of the medians {mo / mq:.2f}" if mo and mq else ""))
    lines.append(f"final eval at {steps:,} steps, mean over seeds: ours {fo:.0f}, peer {fq:.0f} "
                 f"(ours - peer = {fo - fq:+.0f}, ours / peer = {fo / fq:.2f})" if fq else "")
    lo = st.mean(d["ours_last_periodic_eval"] for d in ps)
    lq = st.mean(d["peer_last_periodic_eval"] for d in ps)
    lines.append(f"last periodic eval (env seeds seed + 20000 + i), mean over seeds: ours {lo:.0f}, peer {lq:.0f}")
    return "\n".join(lines)


def fmt(x, spec=".0f"):
    return "-" if x is None else format(x, spec)


def table(env: str, steps: int, rows: list[dict]) -> str:
    import math
    import statistics as st

    by = {}
    for r in rows:
        by.setdefault(r["impl"], []).append(r)

    def med(impl, key):
        vals = [r[key] for r in by.get(impl, []) if r.get(key) is not None]
        return st.median(vals) if vals else None

    def med_inf(impl, key):  # not reached = infinitely late; "-" where the median is not reached
        vals = [math.inf if r.get(key) is None else r[key] for r in by.get(impl, []) if "eval_curve" in r]
        m = st.median(vals) if vals else math.inf
        return None if math.isinf(m) else m

    env_rate, peer_rate = med("env-only", "steps_per_s"), med("sb3-contrib", "steps_per_s")
    lines = [f"| {env} ({steps} steps) | steps/s | x peer | x env-only | final eval (10 ep, det.) | "
             "time to threshold (s) | steps to threshold | peak RSS (MB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for impl in ("ours", "ours-sync", "ours-split", "ours-mlp", "sb3-contrib", "env-only"):
        if impl not in by:
            continue
        rate = med(impl, "steps_per_s")
        lines.append("| " + " | ".join([
            impl, fmt(rate), fmt(rate / peer_rate if peer_rate else None, ".2f"),
            fmt(rate / env_rate if env_rate else None, ".2f"), fmt(med(impl, "final_eval_return"), ".1f"),
            fmt(med_inf(impl, "time_to_threshold_s"), ".1f"), fmt(med_inf(impl, "steps_to_threshold")),
            fmt(med(impl, "peak_rss_mb"))]) + " |")
    for impl in ("ours", "ours-sync", "ours-split", "ours-mlp", "sb3-contrib"):
        evals = [f"{r['seed']}: {r['final_eval_return']:.0f}" for r in by.get(impl, [])]
        if len(evals) > 1:
            lines.append(f"\n{impl} final eval by seed: {', '.join(evals)}")
    if by.get("ours"):
        c = by["ours"][0]["config"]
        lines.append(f"\nours: preset={c['preset'] or '-'}, vector_mode={c['vector_mode']}, num_envs={c['num_envs']}, "
                     f"batch_steps={c['batch_steps']}, cg_iters={c['cg_iters']}, fvp_subsample={c['fvp_subsample']}, "
                     f"critic {c['critic_epochs']} x minibatch {c['critic_minibatch']} ({c['critic_fit']})")
    lines.append("(medians over seeds and repeats; time/steps to threshold: a seed that never reached it counts "
                 "as infinitely late)")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", help="several seeds (overrides --seed): the table shows "
                   "medians over seeds and repeats, and lists each seed's final eval")
    p.add_argument("--repeats", type=int, default=1, help="interleaved repeats; the table shows medians")
    p.add_argument("--only", default="env,ours,peer", help="comma list of: env, ours, ours-mlp, ours-sync, ours-split, peer")
    p.add_argument("--peer", choices=["trpo", "recurrentppo", "ppo", "a2c"], default="trpo",
                   help="sb3-contrib's TRPO (RL-Zoo trpo.yml) or RecurrentPPO (RL-Zoo ppo_lstm.yml); sb3's PPO "
                        "or A2C (RL-Zoo ppo.yml, a2c.yml; MuJoCo envs)")
    p.add_argument("--peer-steps", type=int, default=0, help="the peer's env steps (0 = --steps), e.g. RL-Zoo's budget")
    p.add_argument("--set", action="append", help="KEY=VALUE override of our config (e.g. num_envs=16)")
    p.add_argument("--peer-threads", type=int, default=0,
                   help="torch threads of the peer; 0 = torch's default (what RL-Zoo runs with)")
    p.add_argument("--eval-every", type=int, default=5000, help="env steps between periodic evaluations "
                   "(both sides: when the step count crosses a multiple of it, and after the last update)")
    p.add_argument("--eval-episodes", type=int, default=10, help="episodes of each periodic evaluation")
    p.add_argument("--threshold", type=float, help="the evaluation return of time to threshold "
                   f"(default: per env, {THRESHOLDS}; none for other envs)")
    p.add_argument("--wall-budget", type=float, help="also report each side's return at this training wall time (s)")
    p.add_argument("--env-steps", type=int, default=200_000, help="env-only: at most this many steps")
    p.add_argument("--env-seconds", type=float, default=5.0, help="env-only: at most this long")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    p.add_argument("--run-dir", help=argparse.SUPPRESS)  # worker ours: its run directory (resumed from a checkpoint)
    p.add_argument("--worker", choices=["env", "ours", "ours-mlp", "ours-sync", "ours-split", "peer"],
                   help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if not a.worker and a.peer in ("ppo", "a2c"):
        p.error("--peer ppo and a2c run as harness workers (benchmarks/harness.py, sides 'peer' of ppo and "
                "a2c suites); this comparison table pairs ours with sb3-contrib's TRPO or RecurrentPPO")
    if a.worker:
        import warnings
        warnings.filterwarnings("ignore")
        out = {"env": worker_env, "ours": worker_ours, "ours-mlp": worker_ours_mlp, "ours-sync": worker_ours_sync,
               "ours-split": worker_ours_split,
               "peer": worker_peer}[a.worker](a)
        print(json.dumps(out))
        return
    kinds = [k.strip() for k in a.only.split(",") if k.strip()]
    threshold = a.threshold if a.threshold is not None else THRESHOLDS.get(a.env)
    rows = []
    print(f"{a.env}, {a.steps} steps, seeds {a.seeds or [a.seed]}: {', '.join(kinds)} x {a.repeats}", file=sys.stderr)
    meta = {"env": a.env, "steps": a.steps, "peer": a.peer, "peer_steps": a.peer_steps or a.steps,
            "seed": a.seeds or a.seed, "repeats": a.repeats, "overrides": a.set or [],
            "peer_threads": a.peer_threads or "torch default", "threshold": threshold, "eval_every": a.eval_every,
            "eval_episodes": a.eval_episodes, "wall_budget_s": a.wall_budget,
            "equal_wall_time": "per seed, T = min(ours wall_s, peer wall_s); each side's return at T = its last "
                               "periodic evaluation at or before T",
            "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(), "git": git(),
                        "versions": versions(), "loadavg_at_start": os.getloadavg()},
            "command": " ".join([Path(sys.executable).name, *sys.argv]), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(a.out).mkdir(parents=True, exist_ok=True)
    path = Path(a.out) / f"{a.env.replace('/', '_')}-{a.steps}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    for seed in a.seeds or [a.seed]:
        for rep in range(a.repeats):
            for k in kinds:
                row = run_worker(k, argparse.Namespace(**{**vars(a), "seed": seed}))
                row["repeat"] = rep
                if "eval_curve" in row:
                    row["time_to_threshold_s"], row["steps_to_threshold"] = reached(row["eval_curve"], threshold)
                rows.append(row)
                path.write_text(json.dumps({**meta, "complete": False, "runs": rows}, indent=1))  # nothing lost on a crash
    md = table(a.env, a.steps, rows)
    ps = pairs(rows, threshold, a.wall_budget)
    if ps:
        md += "\n\n" + quality_table(a.env, a.steps, threshold, ps, a.wall_budget)
    if a.peer_steps and a.peer_steps != a.steps:
        md += f"\n\n(the peer, sb3-contrib's {meta['peer']}, ran {a.peer_steps:,} env steps; ours {a.steps:,})"
    load = os.getloadavg()
    meta["machine"]["loadavg_at_end"] = load
    path.write_text(json.dumps({**meta, "complete": True, "table": md, "pairs": ps, "runs": rows}, indent=1))
    print(md)
    print(f"\n(load average at the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on {os.cpu_count()} cores; "
          f"raw numbers in {path})")


def git() -> dict | None:
    """This tree's commit and whether src/ differs from it (the code the workers ran)."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "src"],
                               capture_output=True, text=True, check=True).stdout.strip() != ""
        return {"commit": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("trpo", "torch", "numpy", "gymnasium", "mujoco", "stable-baselines3", "sb3-contrib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


if __name__ == "__main__":
    main()
