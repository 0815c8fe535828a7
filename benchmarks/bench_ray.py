"""The Ray backend against the local sampler: training steps/s, and the parts of docs/scaling.md's
cost model.

    python benchmarks/bench_ray.py --env Hopper-v5 --iterations 10 --repeats 3   # steps/s (~4 min)
    python benchmarks/bench_ray.py --parts                                       # cost-model parts (~2 min)

Steps/s: ``trpo train ENV`` (its preset: for Hopper-v5 ``mujoco``, 2,048-step batches) for
``--iterations`` iterations in three layouts of the same 8 envs, each run in its own subprocess,
interleaved per repeat (this machine's speed drifts between minutes, so only ratios within one
repeat mean much):

  local     num_envs = 8, this process                         (the reference)
  ray-1     backend = ray, workers = 1, num_envs = 8
  ray-2     backend = ray, workers = 2, num_envs = 4            (the same batches as local, bit for bit)

steps/s is the trainer's: env steps / training wall time (sampling + updates; setup, Ray start-up
and evaluations not counted). Each run also reports where its iteration time went: sampling
(``collect``) and the update; for Ray the sampler's own split (weights put, waiting for the
workers, each worker's sampling time, the merge).

Parts (``--parts``): per-env-step sampling cost (Hopper-v5 with the numpy MLP policy; Pong with
the Atari preprocessing and the CNN policy in torch), a Ray task round trip, object transfer
from a worker to the driver against size, the weights' put + fetch, and the TRPO update against
batch size (Hopper MLP; Atari CNN on a small batch, scaled linearly).

Results: benchmarks/results/ray-*.json (with the CPU model from lscpu and the load average).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from trpo.system import cpu_model

RESULTS = Path(__file__).parent / "results"
LAYOUTS = {"local": {"backend": "local", "num_envs": 8},
           "ray-1": {"backend": "ray", "workers": 1, "num_envs": 8},
           "ray-2": {"backend": "ray", "workers": 2, "num_envs": 4}}


def machine() -> dict:
    import gymnasium
    import torch
    try:
        import ray
        ray_version = ray.__version__
    except ImportError:
        ray_version = None
    return {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "torch": torch.__version__, "gymnasium": gymnasium.__version__,
            "ray": ray_version}


# --- one training run (in a subprocess) ------------------------------------------------------------
def _child_train(spec: dict) -> dict:
    """Train in this process; time the local sampler's collect() too."""
    import trpo.rollout.single_path as sp
    from trpo import Config
    from trpo.trainer import train

    spent = {"collect_s": 0.0}
    collect = sp.SinglePathSampler.collect

    def timed(self):
        t = time.perf_counter()
        try:
            return collect(self)
        finally:
            spent["collect_s"] += time.perf_counter() - t

    sp.SinglePathSampler.collect = timed
    cfg = Config(env_id=spec["env"], seed=spec["seed"], total_steps=spec["steps"], eval_periodic_episodes=0,
                 eval_episodes=1, checkpoint_every=10**6, check_env=False, **spec["layout"])
    t0 = time.perf_counter()
    res = train(cfg, spec["run_dir"], progress=False, overwrite=True)
    s = res.summary
    out = {"steps_per_s": s["steps_per_s"], "wall_s": s["wall_s"], "iterations": s["iterations"],
           "total_steps": s["total_steps"], "process_s": time.perf_counter() - t0}
    if "ray_timing" in s:
        out["ray_timing"] = s["ray_timing"]
        out["collect_s"] = s["ray_timing"]["collect_s"]
        out["worker_restarts"] = s["worker_restarts"]
    else:
        out["collect_s"] = spent["collect_s"]
    out["update_s"] = s["wall_s"] - out["collect_s"]
    return out


def run_training(env: str, iterations: int, repeats: int, layouts: list[str], seed: int) -> dict:
    from trpo import Config
    from trpo.resolve import layer

    batch = layer(Config(env_id=env)).batch_steps
    steps = iterations * batch
    runs = []
    for rep in range(repeats):
        for name in layouts:
            spec = {"env": env, "seed": seed, "steps": steps, "layout": LAYOUTS[name],
                    "run_dir": f"/tmp/bench_ray/{name}"}
            load = os.getloadavg()[0]
            r = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
            if r.returncode:
                raise SystemExit(f"{name}: {r.stderr[-3000:]}")
            out = json.loads(r.stdout.strip().splitlines()[-1])
            out.update(layout=name, repeat=rep, load_before=round(load, 2))
            runs.append(out)
            print(f"repeat {rep} {name:6s} {out['steps_per_s']:8.0f} steps/s  collect {out['collect_s']:.2f} s  "
                  f"update {out['update_s']:.2f} s  (load {load:.1f})", flush=True)
    table = {}
    for name in layouts:
        rates = sorted(r["steps_per_s"] for r in runs if r["layout"] == name)
        table[name] = {"median_steps_per_s": rates[len(rates) // 2], "all": rates}
    ratios = {}
    for name in layouts:
        if name != "local" and "local" in layouts:
            per_rep = sorted(next(r for r in runs if r["layout"] == name and r["repeat"] == k)["steps_per_s"]
                             / next(r for r in runs if r["layout"] == "local" and r["repeat"] == k)["steps_per_s"]
                             for k in range(repeats))
            ratios[f"{name}/local"] = {"median": per_rep[len(per_rep) // 2], "per_repeat": per_rep}
    return {"env": env, "batch_steps": batch, "iterations": iterations, "runs": runs, "table": table, "ratios": ratios}


# --- the cost model's parts ------------------------------------------------------------------------
def _rate_sampling(env_id: str, n: int, seconds: float) -> dict:
    """Env steps/s of one SinglePathSampler (policy + env + bookkeeping) in this process."""
    import torch

    from trpo import Config
    from trpo.nets.normalize import RewardScaler
    from trpo.nets.factory import make_networks
    from trpo.resolve import resolve_run
    from trpo.rollout.base import SamplerContext
    from trpo.rollout.single_path import SinglePathSampler

    torch.set_num_threads(1)
    cfg, env = resolve_run(Config(env_id=env_id, num_envs=n, batch_steps=n * 64, vector_mode="sync", check_env=False))
    o, a = env.spaces()
    actor, critic, norm = make_networks(cfg, o, a, torch.device("cpu"))
    s = SinglePathSampler.build(SamplerContext(cfg, env, actor, critic, norm, RewardScaler(n, 0.99, True),
                                               torch.device("cpu")))
    s.collect()
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        steps += s.collect().env_steps
    dt = time.perf_counter() - t0
    s.close()
    return {"env": env_id, "num_envs": n, "steps_per_s": steps / dt, "us_per_step": 1e6 * dt / steps,
            "obs_bytes_per_step": int(norm.dtype.itemsize * __import__("numpy").prod(o.shape))}


def _update_time(env_id: str, batch: int, repeats: int = 2, **overrides) -> dict:
    """One TRPO update (policy step + critic fit, inline) on a batch of ``batch`` steps, with the
    env's preset (and ``overrides``)."""
    import numpy as np
    import torch

    from trpo import Config
    from trpo.agent import Agent
    from trpo.algos.build import build_learner
    from trpo.nets.normalize import RewardScaler
    from trpo.resolve import resolve_run
    from trpo.rollout.base import SamplerContext
    from trpo.rollout.single_path import SinglePathSampler

    torch.set_num_threads(1)
    n = 8
    cfg, env = resolve_run(Config(env_id=env_id, num_envs=n, batch_steps=batch, vector_mode="sync", check_env=False,
                                  critic_fit="inline", **overrides))
    o, a = env.spaces()
    agent = Agent(cfg, o, a, torch.device("cpu"), env=env)
    s = SinglePathSampler.build(SamplerContext(cfg, env, agent.actor, agent.critic, agent.obs_norm,
                                               RewardScaler(n, cfg.gamma, cfg.normalize_rewards), torch.device("cpu")))
    b = s.collect()
    s.close()
    learner = build_learner(cfg, agent, torch.device("cpu"))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        learner.update(b)
        learner.sync()
        times.append(time.perf_counter() - t)
    learner.close()
    return {"env": env_id, "batch_steps": batch, "update_s": float(np.median(times)),
            "us_per_step": 1e6 * float(np.median(times)) / batch, "cg_iters": cfg.cg_iters,
            "critic_epochs": cfg.critic_epochs, "fvp_subsample": cfg.fvp_subsample, "cnn": cfg.cnn,
            "preset": cfg.preset, "overrides": overrides}


def _merge_time(batch: int, obs_shape: tuple, dtype, workers: int = 8) -> dict:
    """The driver's merge of ``workers`` slices of a batch (RaySampler._merge's array work:
    concatenation along the env axis, normalisation of float observations, statistics update)."""
    import numpy as np

    from trpo.nets.normalize import ObsNormalizer

    T, n = batch // (workers * 8), 8
    parts = [np.random.default_rng(k).random((T, n, *obs_shape)).astype(dtype) for k in range(workers)]
    norm = ObsNormalizer(obs_shape, dtype == np.float32)
    t = time.perf_counter()
    x = np.concatenate(parts, axis=1)
    if norm.enabled:
        norm(x)
        norm.rms.update(x.reshape(-1, *obs_shape))
    dt = time.perf_counter() - t
    return {"batch_steps": batch, "obs_shape": list(obs_shape), "dtype": np.dtype(dtype).name, "s": dt,
            "ns_per_byte": 1e9 * dt / x.nbytes}


def run_parts(seconds: float) -> dict:
    import numpy as np
    import ray

    from trpo.nets.factory import make_networks  # noqa: F401  (import cost outside the timings)

    parts: dict = {"sampling": [], "update": []}
    for env_id, n in (("Hopper-v5", 8), ("Hopper-v5", 1), ("ALE/Pong-v5", 8)):
        try:
            parts["sampling"].append(_rate_sampling(env_id, n, seconds))
            print("sampling", parts["sampling"][-1], flush=True)
        except Exception as e:  # noqa: BLE001 - e.g. ale-py missing
            print(f"sampling {env_id}: skipped ({e})")
    for env_id, batch, kw in (("Hopper-v5", 2048, {}), ("Hopper-v5", 8192, {}), ("Hopper-v5", 32768, {}),
                              ("Hopper-v5", 32768, {"fvp_subsample": 0.1}), ("Hopper-v5", 32768, {"critic_epochs": 5}),
                              ("Hopper-v5", 32768, {"fvp_subsample": 0.1, "critic_epochs": 5}),
                              ("ALE/Pong-v5", 512, {})):
        try:
            parts["update"].append(_update_time(env_id, batch, 1 if "ALE" in env_id else 2, **kw))
            print("update", parts["update"][-1], flush=True)
        except Exception as e:  # noqa: BLE001
            print(f"update {env_id} {batch}: skipped ({e})")
    parts["merge"] = [_merge_time(*a) for a in ((2048, (11,), np.float32), (32768, (11,), np.float32),
                                                 (8192, (4, 84, 84), np.uint8))]
    print("merge", parts["merge"], flush=True)

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")

    @ray.remote(num_cpus=1)
    class Echo:
        def noop(self, x=None):
            return None

        def make(self, nbytes: int):
            return np.ones(nbytes, np.uint8)

        def fetch(self, x):
            return len(x)

    import torch

    workers = [Echo.remote() for _ in range(2)]
    ray.get([w.fetch.remote(ray.put({"w": torch.zeros(1)})) for w in workers])  # warm: torch imported there
    reps = 200
    t = time.perf_counter()
    for _ in range(reps):
        ray.get([w.noop.remote() for w in workers])
    parts["round_trip_s"] = (time.perf_counter() - t) / reps  # 2 tasks dispatched and gathered
    parts["transfer"] = []
    for nbytes in (10**4, 10**5, 10**6, 10**7, 10**8):
        ray.get(workers[0].make.remote(nbytes))
        r = max(1, min(20, 10**8 // nbytes))
        t = time.perf_counter()
        for _ in range(r):
            x = ray.get(workers[0].make.remote(nbytes))
            x.sum() if nbytes <= 10**6 else x[:: 4096].sum()  # touch it
        dt = (time.perf_counter() - t) / r
        parts["transfer"].append({"bytes": nbytes, "s": dt, "MB_per_s": nbytes / dt / 1e6,
                                  "note": "same node: Ray's shared-memory object store (large objects mapped)"})
        print("transfer", parts["transfer"][-1], flush=True)
    parts["weights"] = []
    nets = (("mlp 64x64 (Hopper)", 5_000), ("cnn trpo (Atari)", 120_818), ("cnn nature (Atari)", 1_687_206))
    for name, nparams in nets:
        w = {"w": torch.zeros(nparams)}
        t = time.perf_counter()
        for _ in range(20):
            ref = ray.put(w)
            ray.get([k.fetch.remote(ref) for k in workers])
        parts["weights"].append({"net": name, "params": nparams, "put_and_fetch_s": (time.perf_counter() - t) / 20})
        print("weights", parts["weights"][-1], flush=True)
    ray.shutdown()
    return parts


# --- the cost model (docs/scaling.md) --------------------------------------------------------------
NET_BYTES_PER_S = 1.1e9     # assumed: the learner's 10 GbE link, effective
CORES_PER_NODE = 32         # assumed: rollout nodes of 32 vCPUs, one worker per vCPU
GPU_US_PER_FRAME = 20.0     # assumed: ~200 MFLOP per frame for an Atari TRPO update (about 30 forward
#                             passes' worth of the 3.3M-MAC actor and critic) at a sustained 10 TFLOP/s


def model_inputs(parts_files: list[str], training_file: str) -> dict:
    """The model's measured inputs: per quantity the least contended (smallest) of the parts
    runs (this machine is shared: the same quantity reads up to 2x apart between runs)."""
    import numpy as np

    parts = [json.loads(Path(f).read_text())["parts"] for f in parts_files]
    tr = json.loads(Path(training_file).read_text())["training"]

    def smallest(section, key, **match):
        vals = [e[key] for p in parts for e in p.get(section, [])
                if all(e.get(k, {} if k == "overrides" else None) == v for k, v in match.items())]
        return min(vals) if vals else None

    one = [r for r in tr["runs"] if r["layout"] == "ray-1"]
    B = tr["batch_steps"]
    it = np.array([r["iterations"] for r in one], float)
    tm = {k: np.array([r["ray_timing"][k] for r in one]) / it for k in one[0]["ray_timing"] if k != "iterations"}
    return {
        "c_env_hopper_us": min(smallest("sampling", "us_per_step", env="Hopper-v5", num_envs=8),
                               1e6 * float(np.min(tm["worker_sample_mean_s"])) / B),
        "c_env_pong_us": smallest("sampling", "us_per_step", env="ALE/Pong-v5", num_envs=8),
        "task_s": min(p["round_trip_s"] for p in parts) / 2,          # 2 tasks per round trip
        "worker_fixed_s": float(np.median(tm["wait_s"] - tm["worker_sample_max_s"])),
        "put_s": float(np.median(tm["broadcast_s"])),
        "hopper_bytes_per_step": float(np.median(tm["result_bytes"])) / B,
        "merge_float_ns_per_byte": smallest("merge", "ns_per_byte", dtype="float32", batch_steps=32768),
        "merge_uint8_ns_per_byte": smallest("merge", "ns_per_byte", dtype="uint8"),
        "update_hopper_us": smallest("update", "update_s", env="Hopper-v5", batch_steps=32768,
                                     overrides={}) / 32768 * 1e6,
        "update_hopper_tuned_us": (smallest("update", "update_s", env="Hopper-v5", batch_steps=32768,
                                            overrides={"fvp_subsample": 0.1, "critic_epochs": 5}) or float("nan"))
        / 32768 * 1e6,
        "update_pong_cpu_us": min(e["update_s"] / e["batch_steps"] * 1e6 for p in parts for e in p["update"]
                                  if e["env"] == "ALE/Pong-v5"),
        "local_2core": {k: v["median_steps_per_s"] for k, v in tr["table"].items()},
    }


def predict(m: dict, B: int, W: int, n: int, c_env_us: float, bytes_per_step: float, merge_ns_per_byte: float,
            update_us: float, weight_bytes: float) -> dict:
    """One synchronous iteration: the workers sample in parallel, then the learner alone puts the
    weights, gathers W results, ingests and merges the batch and updates."""
    nodes = -(-W // CORES_PER_NODE)
    sample = B / W * c_env_us * 1e-6 + m["worker_fixed_s"]
    learner = {"put+broadcast": m["put_s"] + nodes * weight_bytes / NET_BYTES_PER_S, "dispatch": W * m["task_s"],
               "transfer": B * bytes_per_step / NET_BYTES_PER_S, "merge": B * bytes_per_step * merge_ns_per_byte * 1e-9,
               "update": B * update_us * 1e-6}
    total = sample + sum(learner.values())
    return {"W": W, "B": B, "sample_s": sample, **{f"{k}_s": v for k, v in learner.items()},
            "learner_s": sum(learner.values()), "iter_s": total, "steps_per_s": B / total,
            "learner_bound": sum(learner.values()) > sample}


def run_model(parts_files: list[str], training_file: str) -> dict:
    m = model_inputs(parts_files, training_file)
    print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in m.items()}, indent=1))
    scen = {
        "mujoco (Hopper), preset learner": dict(B=49_152, c_env_us=m["c_env_hopper_us"],
                                                bytes_per_step=m["hopper_bytes_per_step"],
                                                merge_ns_per_byte=m["merge_float_ns_per_byte"],
                                                update_us=m["update_hopper_us"], weight_bytes=4 * 5_000),
        "mujoco (Hopper), fvp_subsample 0.1 + critic_epochs 5": dict(
            B=49_152, c_env_us=m["c_env_hopper_us"], bytes_per_step=m["hopper_bytes_per_step"],
            merge_ns_per_byte=m["merge_float_ns_per_byte"], update_us=m["update_hopper_tuned_us"],
            weight_bytes=4 * 5_000),
        "atari (Pong), CPU learner": dict(B=98_304, c_env_us=m["c_env_pong_us"], bytes_per_step=28_224 + 40,
                                          merge_ns_per_byte=m["merge_uint8_ns_per_byte"],
                                          update_us=m["update_pong_cpu_us"], weight_bytes=4 * 120_818),
        "atari (Pong), GPU learner (assumed)": dict(B=98_304, c_env_us=m["c_env_pong_us"], bytes_per_step=28_224 + 40,
                                                    merge_ns_per_byte=m["merge_uint8_ns_per_byte"],
                                                    update_us=GPU_US_PER_FRAME, weight_bytes=4 * 120_818),
        "atari (Pong), GPU learner, newest frame only": dict(
            B=98_304, c_env_us=m["c_env_pong_us"], bytes_per_step=7_056 + 40,
            merge_ns_per_byte=m["merge_uint8_ns_per_byte"], update_us=GPU_US_PER_FRAME, weight_bytes=4 * 120_818),
    }
    out = {"inputs": m, "assumed": {"net_bytes_per_s": NET_BYTES_PER_S, "cores_per_node": CORES_PER_NODE,
                                    "gpu_us_per_frame": GPU_US_PER_FRAME}, "scenarios": {}}
    for name, kw in scen.items():
        rows = [predict(m, W=W, n=8, **kw) for W in (1, 2, 8, 64, 256)]
        out["scenarios"][name] = rows
        print(f"\n{name} (B = {kw['B']:,})")
        print("   W   sample_s  learner_s (transfer  merge  update)  steps/s   bound")
        for r in rows:
            bound = "learner" if r["learner_bound"] else "sampling"
            print(f"{r['W']:4d} {r['sample_s']:9.3f} {r['learner_s']:9.3f}  ({r['transfer_s']:7.3f} "
                  f"{r['merge_s']:6.3f} {r['update_s']:7.3f}) {r['steps_per_s']:9.0f}   {bound}")
    a = out["scenarios"]["atari (Pong), GPU learner (assumed)"][-1]
    out["paper_atari_hours_256_workers"] = {k: 500 * rows[-1]["iter_s"] / 3600 for k, rows in out["scenarios"].items()
                                if k.startswith("atari")}
    print(f"\nTRPO paper's Atari run (500 x ~100k steps), 256 workers on 8 x 32-vCPU nodes + GPU learner: "
          f"{500 * a['iter_s'] / 3600:.1f} h")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env", default="Hopper-v5")
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parts", action="store_true", help="measure the cost model's parts instead")
    p.add_argument("--seconds", type=float, default=3.0, help="--parts: seconds per sampling rate")
    p.add_argument("--model", nargs="+", metavar="JSON",
                   help="print docs/scaling.md's predictions from parts results (ray-parts-*.json) and one "
                        "training result (ray-ENV-*.json, last)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        print(json.dumps(_child_train(json.loads(a.child))))
        return
    if a.model:
        out = run_model(a.model[:-1], a.model[-1])
        (RESULTS / "ray-model.json").write_text(json.dumps(out, indent=1))
        print(f"wrote {RESULTS / 'ray-model.json'}")
        return
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": machine(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
           "started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_avg_start": os.getloadavg()}
    if a.parts:
        out["parts"] = run_parts(a.seconds)
        name = f"ray-parts-{time.strftime('%Y%m%d-%H%M%S')}.json"
    else:
        out["training"] = run_training(a.env, a.iterations, a.repeats, a.layouts, a.seed)
        name = f"ray-{a.env.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        for k, v in out["training"]["table"].items():
            print(f"{k:6s} median {v['median_steps_per_s']:8.0f} steps/s")
        for k, v in out["training"]["ratios"].items():
            print(f"{k}: median {v['median']:.2f} (per repeat {', '.join(f'{x:.2f}' for x in v['per_repeat'])})")
    out["load_avg_end"] = os.getloadavg()
    (RESULTS / name).write_text(json.dumps(out, indent=1))
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
