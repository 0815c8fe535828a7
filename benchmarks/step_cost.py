"""What one env step costs, layer by layer, in one process: the simulator call alone, one ``gym.make``
env, the product's vector env of that one env (and EnvPool's port of it, where installed), the
sampler's whole per-step loop around it, and the loop's policy work alone (no env)
(``trpo.rollout.single_path.run_slice``: normalise, the policy's forward and sample, the env step,
the checks and stores). The speed target "1.0x one env stepped with random actions" asks the
trainer to beat the second of these with two cores; the gaps between the layers say what each
costs (``harness.py stepcost`` writes them as a raw record in records/stepcost/).

Every layer steps the same pre-drawn uniform random actions (``action_space.sample``, seeded) for ``steps`` steps, resetting
at an episode's end; the layers alternate over ``repeats`` rounds and each reports its median
microseconds per step. The sampler's loop acts with a fresh actor of the env's resolved settings
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


def _env_layer(env, acts: np.ndarray, resets: dict, name: str):
    """A layer that steps one ``gym.make`` env through ``acts``, resetting at episode ends."""
    def run() -> None:
        ended = 0
        for t in range(len(acts)):
            _, _, te, tr, _ = env.step(acts[t])
            if te or tr:
                env.reset()
                ended += 1
        resets[name] = ended
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


def _spin_env(env_id: str, acts: np.ndarray, seed: int, go, stop) -> None:
    """A second process: steps its own env through ``acts`` (over and over) from ``go`` until ``stop``."""
    import gymnasium as gym

    import trpo  # noqa: F401  (the package's env ids)

    env = gym.make(env_id)
    env.reset(seed=seed + 1)
    go.wait()
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
        go, stop = ctx.Event(), ctx.Event()
        child = ctx.Process(target=_spin_env, args=(env_id, acts, seed, go, stop), daemon=True)
        child.start()
        go.set()
        time.sleep(0.05)  # the child is stepping before the clock starts
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
    obs_norm.rms.update(np.asarray(raw, np.float64).repeat(2, 0))  # frozen statistics, as after a batch
    policy = NumpyPolicy(actor)
    resets = {"env": 0, "vector env": 0, "sampler loop": 0}

    state = {"raw": raw}

    def sampler_loop() -> None:
        noise = policy.noise(rng, steps, 1)
        out, state["raw"] = run_slice(loop_env, 0, 1, 1, state["raw"], policy, obs_norm, noise, True)
        resets["sampler loop"] = int((out["term"] | out["trunc"]).sum())

    x = np.zeros((1, *raw.shape[1:]), obs_norm.dtype)

    def policy_alone() -> None:  # the loop's policy work with no env: normalise, forward, sample, clip
        noise = policy.noise(rng, steps, 1)
        obs, space = state["raw"], loop_env.single_action_space
        for t in range(steps):
            obs_norm(obs, out=x)
            action_to_env(space, policy.act_with(x, noise[t]))

    layers = {"env": _env_layer(env, acts, resets, "env"), "vector env": _vector_layer(venv, acts, resets, "vector env"),
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
        import mujoco

        sim_env = gym.make(env_id)  # its own copy: the one env's state is left alone
        sim_env.reset(seed=seed)
        sim = sim_env.unwrapped
        model, data, n = sim.model, sim.data, unwrapped.frame_skip

        def simulator() -> None:
            for t in range(steps):
                data.ctrl[:] = acts[t]
                mujoco.mj_step(model, data, nstep=n)

        layers = {"simulator (mj_step)": simulator, **layers}
    times: dict[str, list[float]] = {k: [] for k in layers}
    for _ in range(repeats):
        for name, fn in layers.items():
            times[name].append(_timed(fn, steps))
    for e in (env, env2, venv, loop_env, pool, sim_env):
        if e is not None:
            e.close()
    return {"layers": times, "median_us": {k: float(np.median(v)) for k, v in times.items()},
            "resolved": cfg.to_dict(), "resets": resets, "steps": steps, "repeats": repeats, "seed": seed}


def table(m: dict) -> str:
    med = m["median_us"]
    base = med["env"]
    lines = [f"{'layer':24s} {'us/step':>8s} {'x env':>6s}"]
    for k, v in med.items():
        lines.append(f"{k:24s} {v:8.1f} {v / base:6.2f}")
    return "\n".join(lines)
