"""What one env step costs, layer by layer, in one process: the simulator call alone, one ``gym.make``
env, the product's vector env of that one env (and EnvPool's port of it, where installed), the
sampler's whole per-step loop around it, and the loop's policy work alone (no env)
(``trpo.rollout.single_path.run_slice``: normalise, the policy's forward and sample, the env step,
the checks and stores). The speed target "1.0x one env stepped with random actions" asks the
trainer to beat the second of these with two cores; the gaps between the layers say what each
costs (``harness.py stepcost`` writes them as a raw record in records/stepcost/).

Every layer steps the same pre-drawn uniform random actions (``action_space.sample``, seeded) for
``steps`` steps, resetting at an episode's end; the layers alternate over ``repeats`` rounds and
each reports its median microseconds per step. The simulator layer goes through the env layer's
very states (the same seed and actions, reset where the env's episodes ended, off its clock). The sampler's loop acts with a fresh actor of the env's resolved settings
(its actions are the policy's, not the pre-drawn ones, so its episodes differ; the record counts
each layer's ended episodes, as a reset costs more than a step).
"""
from __future__ import annotations

import time

import numpy as np


def _timed(fn, steps: int) -> float:
    """Microseconds per step of ``fn``: its own clock where it returns one (seconds), else the call's."""
    t = time.perf_counter()
    own = fn()
    return (own if own is not None else time.perf_counter() - t) / steps * 1e6


def _env_layer(env, acts: np.ndarray, resets: dict, name: str, ends: list | None = None):
    """A layer that steps one ``gym.make`` env through ``acts``, resetting at episode ends (their
    steps into ``ends``, when given: the round's, for the simulator layer to replay)."""
    def run() -> None:
        ended = []
        for t in range(len(acts)):
            _, _, te, tr, _ = env.step(acts[t])
            if te or tr:
                env.reset()
                ended.append(t)
        resets[name] = len(ended)
        if ends is not None:
            ends[:] = ended
    return run


def _simulator_layer(sim_env, acts: np.ndarray, ends: list):
    """``mj_step`` alone on its own copy of a MuJoCo env, through the same states as the env layer:
    the same actions from the same seed, reset (off the clock) where the env layer's episodes ended
    in the same round (the env's step adds nothing to the state but ``mj_step``)."""
    import mujoco

    u = sim_env.unwrapped
    model, data, n = u.model, u.data, u.frame_skip

    def run() -> float:
        at = set(ends)
        total, t0 = 0.0, time.perf_counter()
        for t in range(len(acts)):
            data.ctrl[:] = acts[t]
            mujoco.mj_step(model, data, nstep=n)
            if t in at:
                total += time.perf_counter() - t0
                sim_env.reset()
                t0 = time.perf_counter()
        return total + time.perf_counter() - t0
    return run


def _vector_layer(venv, acts: np.ndarray, resets: dict, name: str):
    """A layer that steps the vector env of one ``venv`` through ``acts``, counting ended episodes."""
    def run() -> None:
        ended = 0
        for t in range(len(acts)):
            _, _, te, tr, _ = venv.step(acts[t:t + 1])
            ended += int(te[0] or tr[0])
        resets[name] = ended
    return run


def _spin_env(env_id: str, acts: np.ndarray, seed: int, ready, stop) -> None:
    """A second process: steps its own env through ``acts`` (over and over) until ``stop``, having
    set ``ready`` once it steps."""
    import gymnasium as gym

    import trpo  # noqa: F401  (the package's env ids)

    env = gym.make(env_id)
    env.reset(seed=seed + 1)
    ready.set()
    t = 0
    while not stop.is_set():
        for _ in range(64):
            _, _, te, tr, _ = env.step(acts[t % len(acts)])
            t += 1
            if te or tr:
                env.reset()
    env.close()


def _beside_a_second_process(env_id: str, acts: np.ndarray, seed: int, fn):
    """``fn`` as a layer run while a second process steps its own env on the other core: what one
    process's steps cost when both cores step an env (the two-core ceiling is 2 / this)."""
    import multiprocessing as mp

    def run() -> float:
        ctx = mp.get_context("fork")
        ready, stop = ctx.Event(), ctx.Event()
        child = ctx.Process(target=_spin_env, args=(env_id, acts, seed, ready, stop), daemon=True)
        child.start()
        if not ready.wait(60):
            raise RuntimeError("the second process did not start stepping")
        try:
            t = time.perf_counter()
            fn()
            return time.perf_counter() - t  # the fork, the wait and the join are not counted
        finally:
            stop.set()
            child.join()
    return run


def measure(env_id: str, steps: int = 2048, repeats: int = 7, seed: int = 0) -> dict:
    """{"layers": {name: [us per step of each round]}, "median_us": {name: median}, "resolved": the
    settings the sampler's layer used, "resets": {name: episodes ended in the last round}}."""
    import gymnasium as gym
    import torch

    import trpo  # noqa: F401  (the package's env ids)
    from trpo.config import Config
    from trpo.envs.make import make_vector_env
    from trpo.nets.factory import make_networks
    from trpo.nets.policy_runner import NumpyPolicy
    from trpo.resolve import resolve_run
    from trpo.rollout.single_path import action_to_env, run_slice
    from trpo.system import usable_cores

    torch.manual_seed(seed)
    cfg, _ = resolve_run(Config(env_id=env_id, seed=seed))
    env = gym.make(env_id)
    env.reset(seed=seed)
    space = env.action_space
    rng = np.random.default_rng(seed)
    space.seed(seed)
    acts = np.stack([space.sample() for _ in range(steps)])  # uniform random actions, drawn before the clock
    venv = make_vector_env(env_id, 1, "sync")
    venv.reset(seed=seed)
    loop_env = make_vector_env(env_id, 1, "sync")  # its own: the policy's actions must not move venv's state
    raw, _ = loop_env.reset(seed=seed)
    actor, _, obs_norm = make_networks(cfg, loop_env.single_observation_space, loop_env.single_action_space,
                                       torch.device("cpu"))
    # frozen statistics, as after a batch: those of the pre-drawn actions' observations on another copy
    stats_env = gym.make(env_id)
    seen = [stats_env.reset(seed=seed)[0]]
    for t in range(steps):
        o, _, te, tr, _ = stats_env.step(acts[t])
        seen.append(stats_env.reset()[0] if te or tr else o)
    stats_env.close()
    obs_norm.rms.update(np.asarray(seen, np.float64))
    policy = NumpyPolicy(actor)
    resets = {"env": 0, "vector env": 0, "sampler loop": 0}

    state = {"raw": raw}

    def sampler_loop() -> None:
        noise = policy.noise(rng, steps, 1)
        out, state["raw"] = run_slice(loop_env, 0, 1, 1, state["raw"], policy, obs_norm, noise, True)
        resets["sampler loop"] = int((out["term"] | out["trunc"]).sum())

    x = np.zeros((1, *raw.shape[1:]), obs_norm.dtype)

    def policy_alone() -> None:  # the loop's policy work with no env: normalise, forward, sample, clip
        scaled = policy.scale_noise(policy.noise(rng, steps, 1))
        obs, space = state["raw"], loop_env.single_action_space
        for t in range(steps):
            obs_norm(obs, out=x)
            action_to_env(space, policy.act_scaled(x, scaled[t]))

    ends: list[int] = []  # where the env layer's episodes ended this round (the simulator replays them)
    layers = {"env": _env_layer(env, acts, resets, "env", ends),
              "vector env": _vector_layer(venv, acts, resets, "vector env"),
              "sampler loop": sampler_loop, "policy alone (no env)": policy_alone}
    env2 = None
    if usable_cores() >= 2:
        env2 = gym.make(env_id)  # its own: the one env's episodes stay the vector env's
        env2.reset(seed=seed)
        name = "env, a second process stepping beside it"
        layers[name] = _beside_a_second_process(env_id, acts, seed, _env_layer(env2, acts, resets, name))
    try:  # EnvPool's C++ port of the env, where installed and ported (the ``envpool`` vector mode)
        pool = make_vector_env(env_id, 1, "envpool")
        pool.reset(seed=seed)
    except Exception:  # noqa: BLE001  (not installed, or no port of this env: the layer is left out)
        pool = None
    if pool is not None:
        layers["envpool vector env"] = _vector_layer(pool, acts, resets, "envpool vector env")
    unwrapped, sim_env = env.unwrapped, None
    if hasattr(unwrapped, "model") and hasattr(unwrapped, "frame_skip"):  # a MuJoCo env: its simulator alone
        sim_env = gym.make(env_id)  # its own copy, stepped through the env layer's states
        sim_env.reset(seed=seed)
        sim = _simulator_layer(sim_env, acts, ends)
        # run right after the env layer (it replays that round's episode ends); shown first
        layers = {"env": layers.pop("env"), "simulator (mj_step)": sim, **layers}
    times: dict[str, list[float]] = {k: [] for k in layers}
    for _ in range(repeats):
        for name, fn in layers.items():
            times[name].append(_timed(fn, steps))
    if sim_env is not None and not (np.array_equal(sim_env.unwrapped.data.qpos, unwrapped.data.qpos)
                                    and np.array_equal(sim_env.unwrapped.data.qvel, unwrapped.data.qvel)):
        raise RuntimeError("the simulator layer left the env layer's states")  # it must time the same physics
    for e in (env, env2, venv, loop_env, pool, sim_env):
        if e is not None:
            e.close()
    shown = sorted(times, key=lambda k: not k.startswith("simulator"))  # the simulator first, the rest as run
    return {"layers": {k: times[k] for k in shown}, "median_us": {k: float(np.median(times[k])) for k in shown},
            "resolved": cfg.to_dict(), "resets": resets, "steps": steps, "repeats": repeats, "seed": seed}


def table(m: dict) -> str:
    med = m["median_us"]
    base = med["env"]
    lines = [f"{'layer':24s} {'us/step':>8s} {'x env':>6s}"]
    for k, v in med.items():
        lines.append(f"{k:24s} {v:8.1f} {v / base:6.2f}")
    return "\n".join(lines)
