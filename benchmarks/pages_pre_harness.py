"""The generated blocks of the pages whose raw records predate the harness (``make results``).

``benchmarks/pages.py`` merges ``BLOCKS`` into its own: each entry maps (page, block name) to a
function of committed raw files only that returns the Markdown between the page's
``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` markers.

Raw files read here (numpy and the standard library only; nothing is run):

* ``benchmarks/records/pre-harness/{minatar,pong}/``: ``trpo train`` run directories
  (``config.toml``, ``metrics.csv``, ``summary.json``) copied there by the pages' summarise scripts;
* ``benchmarks/records/random-policy/MinAtar_*.json``: ``harness.py random``'s records;
* ``benchmarks/results/*.json``: bench_trpo.py's, bench_ray.py's and bench_vec.py's records.

Blocks:
  docs/results/minatar.md  table-300k, table-1m, table-5m   the tables of final evaluations
                           reference                        TRPO against gymnax-blines' PPO at 10M
  docs/results/pong.md     summary, last-segment, kl        the run's numbers from its metrics.csv
  docs/scaling.md          layouts, per-iteration           bench_ray.py's training record
                           parts, predictions, paper        its parts records and ray-model.json
  docs/benchmarks.md       round4-cartpole, round4-cartpole-345, round4-hopper, round3-code,
                           quality, quality-summary, quality-8x256, split, vec, round3-seeds
  docs/results/recurrent.md cartpole-novelocity,     recurrent TRPO, our MLP policy and RecurrentPPO:
                           pendulum-novelocity       one bench_trpo.py record each (docs/results/recurrent/run.sh)
  docs/results/mujoco.md   peer                      sb3-contrib TRPO at 1M on seeds 0-4 (bench_trpo.py
                                                     ``--only peer`` records) beside ours on the same seeds
"""
from __future__ import annotations

import json
import os
import statistics as st
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pagelib import metrics_columns, tuning_runs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RECORDS = ROOT / "benchmarks" / "records"
PRE = RECORDS / "pre-harness"


def _rel(page: str, target: Path) -> str:
    """``target`` as a relative link from ``page`` (a path relative to the repository root)."""
    rel = os.path.relpath(target, (ROOT / page).parent).replace(os.sep, "/")
    return rel + "/" if target.is_dir() else rel


def _link(page: str, target: Path, text: str | None = None) -> str:
    return f"[{text or target.name}]({_rel(page, target)})"


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _cpu(s: str | None) -> str:
    if not s:
        return "a CPU the record does not name"
    return "an unnamed x86_64 CPU (lscpu not recorded)" if s == "x86_64" else s


def _made_on(m: dict) -> str:
    """'CPU, at commit abc1234' from a bench record's ``machine`` (the commit only where recorded)."""
    git = m.get("git") or {}
    commit = f", at commit {git['commit'][:7]}" + (" (src/ modified)" if git.get("dirty") else "") if git else ""
    return _cpu(m.get("cpu") or m.get("cpu_model")) + commit


# ================================================================================================
# docs/results/minatar.md
MINATAR_PAGE = "docs/results/minatar.md"
GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
ALGOS = ("trpo", "trpo-damping0.1", "ppo")  # trpo-damping0.1: the minatar preset before cg_damping 0.001
# gymnax-blines PPO at 10M steps (the reference of the MinAtar issue; docs/results/minatar/summarise.py)
PPO_10M = {"Asterix": 15, "Breakout": 28, "Freeway": 58, "SpaceInvaders": 131}


def minatar_runs(tag: str) -> dict[tuple[str, str], list[dict]]:
    """(game, algo) -> the finished runs' summary.json, by seed, from pre-harness/minatar/raw{tag}/."""
    out: dict[tuple[str, str], list[dict]] = {}
    for game in GAMES:
        for algo in ALGOS:
            for run in sorted((PRE / "minatar" / f"raw{tag}").glob(f"{game}_{algo}_s*")):
                s = _json(run / "summary.json")
                if s.get("interrupted") or s.get("final_eval_return_mean") is None:
                    continue
                out.setdefault((game, algo), []).append(s)
    return {k: sorted(v, key=lambda s: s["seed"]) for k, v in out.items()}


def minatar_random(game: str) -> dict:
    return _json(RECORDS / "random-policy" / f"MinAtar_{game}-v1.json")


def _minatar_table(tag: str) -> str:
    runs = minatar_runs(tag)
    L = ["| game | algo | final eval, mean ± std | seeds | per seed | best periodic eval (mean over seeds) | "
         "steps per run | wall per run (s) | steps/s | gymnax PPO at 10M, for scale |",
         "|---|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for game in GAMES:
        if not any((game, a) in runs for a in ALGOS):
            continue
        r = minatar_random(game)
        L.append(f"| {game} | random policy ({r['episodes']} episodes) | {r['mean']:.1f} ± {r['std']:.1f} "
                 "| | | | | | | |")
        for algo in ALGOS:
            rs = runs.get((game, algo))
            if not rs:
                continue
            fin = np.array([s["final_eval_return_mean"] for s in rs])
            spread = f" ± {fin.std(ddof=1):.1f}" if fin.size > 1 else ""  # one seed: no spread over seeds
            L.append(f"| {game} | {algo} | **{fin.mean():.1f}{spread}** | {fin.size} | "
                     f"{', '.join(f'{v:.1f}' for v in fin)} | {np.mean([s['best_eval_return'] for s in rs]):.1f} | "
                     f"{int(np.mean([s['total_steps'] for s in rs])):,} | {np.mean([s['wall_s'] for s in rs]):.0f} | "
                     f"{np.mean([s['steps_per_s'] for s in rs]):,.0f} | {PPO_10M.get(game, '-')} |")
    n = sum(len(v) for v in runs.values())
    cpus = sorted({s["machine"]["cpu"] for v in runs.values() for s in v if s.get("machine")})
    without = sum(1 for v in runs.values() for s in v if not s.get("machine"))
    versions = sorted({s.get("version", "?") for v in runs.values() for s in v})
    mj = ROOT / "docs" / "results" / "minatar" / "machine.json"
    m = _json(mj)
    named = (f"{m['cpu']}, {m['cpus']} vCPUs ({m['hypervisor']}), as "
             f"{_link(MINATAR_PAGE, mj, 'minatar/machine.json')} says")
    if not without:
        where = " and ".join(cpus)
    elif cpus:
        where = (f"{' and '.join(cpus)} (as {n - without} of the {n} summaries say; for the other {without}, "
                 f"{named})")
    else:
        where = f"{named} (the summaries name no CPU)"
    rnd = minatar_random(GAMES[0])["machine"]
    L += ["", f"Generated from the {n} run directories in "
              f"{_link(MINATAR_PAGE, PRE / 'minatar' / f'raw{tag}', f'raw{tag}/')} (summary.json: final "
              f"evaluation, best periodic evaluation, steps, wall time, steps/s; means over seeds, std over seeds "
              f"with ddof 1), made with trpo {', '.join(versions)} (no commit recorded) on {where}. Random policy: "
              f"`harness.py random` ({_link(MINATAR_PAGE, RECORDS / 'random-policy', 'random-policy/')}"
              f"MinAtar_GAME-v1.json, uniform random actions, env seeds 0-29; std over episodes), made on "
              f"{_made_on(rnd)}."]
    return "\n".join(L)


def block_minatar_300k() -> str:
    return _minatar_table("")


def block_minatar_1m() -> str:
    return _minatar_table("_1m")


def block_minatar_5m() -> str:
    return _minatar_table("_5m")


def block_minatar_reference() -> str:
    """TRPO's mean final evaluation as a share of gymnax-blines' PPO at 10M steps."""
    def part(tag: str) -> tuple[str, int]:
        runs = minatar_runs(tag)
        out, seeds = [], set()
        for g in GAMES:
            rs = runs.get((g, "trpo"))
            if not rs or g not in PPO_10M:
                continue
            m = float(np.mean([s["final_eval_return_mean"] for s in rs]))
            seeds |= {s["seed"] for s in rs}
            out.append(f"{g} {100 * m / PPO_10M[g]:.0f}% ({m:.1f} against {PPO_10M[g]})")
        return ", ".join(out), seeds

    t1, s1 = part("_1m")
    t5, s5 = part("_5m")
    seeds = lambda s: f"seed {min(s)}" if len(s) == 1 else f"seeds {min(s)}-{max(s)}"  # noqa: E731
    return (f"For scale, not comparable run for run (the protocols differ: above), TRPO's final evaluation "
            f"(`trpo` rows, mean over seeds) as a share of gymnax-blines' PPO at 10M "
            f"steps: at 1M steps ({seeds(s1)}) {t1}; at 5M steps ({seeds(s5)}) {t5}. Seaquest has no reference "
            f"number. From {_link(MINATAR_PAGE, PRE / 'minatar' / 'raw_1m', 'raw_1m/')} and "
            f"{_link(MINATAR_PAGE, PRE / 'minatar' / 'raw_5m', 'raw_5m/')}.")


# ================================================================================================
# docs/results/pong.md
PONG_PAGE = "docs/results/pong.md"
PONG = PRE / "pong" / "raw"
PONG_WINDOW = 25  # batches in the running mean (docs/results/pong/summarise.py)
PONG_THIRD_SEGMENT = 1_220_608  # the first env-step count of the run's third segment (resumed the next session)
PONG_KL_UPDATES = 299  # the updates of the first two segments' KL check (CG damping paragraph)


def _pong() -> dict[str, np.ndarray]:
    return metrics_columns(PONG / "metrics.csv",
                           ("env_steps", "wall_s", "episode_return_mean", "kl", "entropy", "step_accepted"))


def _pong_smooth(m: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ret = m["episode_return_mean"]
    ok = np.isfinite(ret)
    k = PONG_WINDOW
    return ok, np.convolve(ret[ok], np.ones(k) / k, mode="valid"), m["env_steps"][ok][k - 1:]


def block_pong_summary() -> str:
    m, s = _pong(), _json(PONG / "summary.json")
    ok, smooth, at = _pong_smooth(m)
    ret = m["episode_return_mean"][ok]
    k = PONG_WINDOW
    i12 = int(np.searchsorted(at, 1_200_000))
    acc = int(np.nansum(m["step_accepted"]))
    return (f"**{s['total_steps']:,} env steps ({s['iterations']} iterations) in {s['wall_s']:,.0f} s of training: "
            f"the training return rose from {ret[:k].mean():.1f} (mean of the first {k} batches) to "
            f"{smooth[i12]:.1f} (the running mean of {k} batches at {at[i12] / 1e6:.1f}M steps), and stayed there "
            f"to {s['total_steps'] / 1e6:.1f}M ({ret[-k:].mean():.1f} over the last {k} batches; best running mean "
            f"{smooth.max():.1f} at {at[smooth.argmax()] / 1e6:.2f}M).** {acc} of {len(m['kl'])} steps accepted by "
            f"the line search; the policy's entropy {m['entropy'][0]:.2f} at the first batch. From "
            f"{_link(PONG_PAGE, PONG / 'metrics.csv', 'raw/metrics.csv')} and summary.json "
            f"(trpo {s.get('version', '?')}, no commit recorded; {_cpu((s.get('machine') or {}).get('cpu'))}).")


def block_pong_last_segment() -> str:
    m = _pong()
    steps, wall, ret, kl = m["env_steps"], m["wall_s"], m["episode_return_mean"], m["kl"]
    i0 = int(np.searchsorted(steps, PONG_THIRD_SEGMENT))
    rate = (steps[-1] - steps[i0 - 1]) / (wall[-1] - wall[i0 - 1])
    e5, e95 = np.percentile(m["entropy"][i0:], [5, 95])
    means, kls = [], []
    lo = 1_200_000
    while lo < steps[-1]:
        sel = (steps > lo) & (steps <= lo + 100_000)
        if np.isfinite(ret[sel]).any():
            means.append(float(np.nanmean(ret[sel])))
            kls.append(float(np.median(kl[sel])))
        lo += 100_000
    return (f"The last segment ({steps[i0]:,.0f} to {steps[-1]:,.0f} env steps): {rate:,.0f} env steps/s of "
            f"training; per 100k steps from 1.2M, the mean training return {min(means):.1f} to {max(means):.1f} "
            f"and the median KL per update {min(kls):.4f} to {max(kls):.4f}; the policy's entropy "
            f"{e5:.2f}-{e95:.2f} (5th-95th percentile over the segment's updates; ln 6 = {np.log(6):.2f} is uniform) "
            f"({_link(PONG_PAGE, PONG / 'metrics.csv', 'raw/metrics.csv')}).")


def block_pong_kl() -> str:
    m = _pong()
    kl = m["kl"]
    first = kl[:PONG_KL_UPDATES]
    p10, p90 = np.percentile(first, [10, 90])
    q10, q90 = np.percentile(kl, [10, 90])
    return (f"Measured KL per update (max_kl 0.01): median {np.median(first):.4f} over the first "
            f"{PONG_KL_UPDATES} updates (10th-90th percentile {p10:.4f}-{p90:.4f}); over all {len(kl)}, median "
            f"{np.median(kl):.4f} ({q10:.4f}-{q90:.4f}); {int(np.nansum(m['step_accepted']))} of {len(kl)} steps "
            f"accepted (the `kl` and `step_accepted` columns of "
            f"{_link(PONG_PAGE, PONG / 'metrics.csv', 'raw/metrics.csv')}).")


# ================================================================================================
# docs/scaling.md
SCALING_PAGE = "docs/scaling.md"
RAY_TRAINING = RESULTS / "ray-Hopper-v5-20261201-073043.json"
RAY_PARTS = sorted(RESULTS.glob("ray-parts-*.json"))
RAY_MODEL = RESULTS / "ray-model.json"


def block_scaling_layouts() -> str:
    d = _json(RAY_TRAINING)
    tr, m = d["training"], d["machine"]
    labels = {"local": "local, `num_envs = 8`", "ray-1": "Ray, 1 worker x 8 envs",
              "ray-2": "Ray, 2 workers x 4 envs (the local run's batches, bit for bit)"}
    L = ["| layout | steps/s (median of 3) | / local (repeats 1, 2, 3) |", "|---|---|---|"]
    rate = {(r["layout"], r["repeat"]): r["steps_per_s"] for r in tr["runs"]}  # the record's per_repeat is sorted
    repeats = sorted({r["repeat"] for r in tr["runs"]})
    for k, lab in labels.items():
        ratio = "1" if k == "local" else ", ".join(f"{rate[k, i] / rate['local', i]:.2f}" for i in repeats)
        L.append(f"| {lab} | {tr['table'][k]['median_steps_per_s']:,.0f} | {ratio} |")
    L += ["", f"Raw record: {_link(SCALING_PAGE, RAY_TRAINING)} (`{d['command']}`, started {d['started']}), "
              f"{m['cpus']} vCPUs, {m['cpu_model']}, torch {m['torch']}, Ray {m['ray']} (no commit recorded); "
              f"load average {d['load_avg_start'][0]:.1f} at the start and {d['load_avg_end'][0]:.1f} at the end."]
    return "\n".join(L)


def block_scaling_per_iteration() -> str:
    tr = _json(RAY_TRAINING)["training"]
    B = tr["batch_steps"]

    def per_it(layout: str, key: str) -> np.ndarray:
        rs = [r for r in tr["runs"] if r["layout"] == layout]
        if key == "update_s":
            return np.array([r["update_s"] / r["iterations"] for r in rs])
        return np.array([r["ray_timing"][key] / r["ray_timing"]["iterations"] for r in rs])

    samp = per_it("ray-1", "worker_sample_mean_s")
    us = 1e6 * samp / B
    wait = per_it("ray-1", "wait_s") - per_it("ray-1", "worker_sample_max_s")
    two = per_it("ray-2", "worker_sample_max_s")
    return "\n".join([
        f"* Ray, 1 worker: the worker samples {B:,} steps in ~{1e3 * np.median(samp):.0f} ms "
        f"({us.min():.0f}-{us.max():.0f} us per step); putting the weights costs "
        f"~{1e3 * np.median(per_it('ray-1', 'broadcast_s')):.0f} ms; waiting beyond the worker's own sampling "
        f"~{1e3 * np.median(wait):.0f} ms (dispatch, {np.median(per_it('ray-1', 'result_bytes')) / 1e3:.0f} KB of "
        f"results, (de)serialisation); the merge ~{1e3 * np.median(per_it('ray-1', 'merge_s')):.0f} ms; the "
        f"update ~{1e3 * np.median(per_it('ray-1', 'update_s')):.0f} ms (the critic fit overlaps the next batch "
        "in its helper process).",
        f"* Ray, 2 workers: each worker's {B // 2:,} steps took ~{1e3 * np.median(two):.0f} ms (the slower of the "
        f"two, median over repeats), about as long as the single worker's {B:,}: no core was free for the second "
        "worker. The cost model below assumes one free core per worker; this machine cannot test that part.",
    ])


def _parts() -> list[dict]:
    return [_json(f)["parts"] for f in RAY_PARTS]


def _readings(vals: list[float], spec: str) -> str:
    return ", ".join(format(v, spec) for v in vals)


def block_scaling_parts() -> str:
    parts, mod = _parts(), _json(RAY_MODEL)
    inp = mod["inputs"]

    def samp(env: str, n: int) -> list[float]:
        return [e["us_per_step"] for p in parts for e in p["sampling"] if e["env"] == env and e["num_envs"] == n]

    def upd(env: str, batch: int, over: dict) -> list[float]:
        return [1e6 * e["update_s"] / e["batch_steps"] for p in parts for e in p["update"]
                if e["env"] == env and e["batch_steps"] == batch and e.get("overrides", {}) == over]

    def weights(kind: str) -> list[float]:
        out = []
        for p in parts:
            for e in p.get("weights", []):
                # by name: "mlp ...", "cnn trpo" (the paper's CNN; one run miscounted it as 33.5k parameters),
                # "cnn nature" / the first run's "cnn (Atari)" (1.7M parameters)
                name = e["net"]
                got = "mlp" if name.startswith("mlp") else "cnn-big" if e["params"] > 1_000_000 else "cnn-small"
                if got == kind:
                    out.append(1e3 * e["put_and_fetch_s"])
        return out

    rt = [1e3 * p["round_trip_s"] for p in parts]
    pong = [e["update_s"] / e["batch_steps"] * 1e3 for p in parts for e in p["update"] if e["env"] == "ALE/Pong-v5"]
    h2k = upd("Hopper-v5", 2048, {})
    w_mlp, w_small, w_big = weights("mlp"), weights("cnn-small"), weights("cnn-big")
    rng = lambda v: f"{min(v):.0f}-{max(v):.0f}" if f"{min(v):.0f}" != f"{max(v):.0f}" else f"{min(v):.0f}"  # noqa: E731
    L = ["| part | value | readings |", "|---|---|---|",
         f"| c_env, Hopper-v5, 8 envs per worker (numpy MLP policy) | {inp['c_env_hopper_us']:.0f} us / step | "
         f"in a Ray worker (parts: {_readings(samp('Hopper-v5', 8), '.0f')}) |",
         f"| c_env, ALE/Pong-v5, 8 envs, DQN preprocessing, CNN policy in torch | "
         f"{inp['c_env_pong_us']:,.0f} us / step | {_readings(samp('ALE/Pong-v5', 8), ',.0f')} |",
         f"| t_task: one actor task dispatched and gathered | {1e3 * inp['task_s']:.2f} ms | 2 empty tasks: "
         f"{min(rt):.2f}-{max(rt):.1f} ms |",
         f"| o_worker: per worker per iteration beyond its sampling | {1e3 * inp['worker_fixed_s']:.0f} ms | "
         "1-worker training runs |",
         f"| t_put: weights + statistics into the object store | {1e3 * inp['put_s']:.1f} ms | "
         "1-worker training runs |",
         f"| b: bytes per step returned, Hopper (raw obs, action, reward, flags) | "
         f"{inp['hopper_bytes_per_step']:.0f} B | 1-worker training runs |",
         f"| b: Atari (one 4 x 84 x 84 uint8 observation + the rest) | {(28_224 + 40) / 1e3:.1f} KB | computed |",
         f"| m: merge, float observations (join, normalise, statistics) | "
         f"{inp['merge_float_ns_per_byte']:.1f} ns / byte | |",
         f"| m: merge, uint8 frames (join) | {inp['merge_uint8_ns_per_byte']:.1f} ns / byte | |",
         f"| u: TRPO update, Hopper, `mujoco` preset (25 CG steps, 20 critic epochs), 32k batch | "
         f"{inp['update_hopper_us']:.0f} us / step | {_readings(upd('Hopper-v5', 32768, {}), '.0f')} (2k batch: "
         f"{_readings(h2k, '.0f')}) |",
         f"| u: same with `fvp_subsample = 0.1` | {min(upd('Hopper-v5', 32768, {'fvp_subsample': 0.1})):.0f} "
         f"us / step | {_readings(upd('Hopper-v5', 32768, {'fvp_subsample': 0.1}), '.0f')} |",
         f"| u: same with `critic_epochs = 5` | {min(upd('Hopper-v5', 32768, {'critic_epochs': 5})):.0f} us / step | "
         f"{_readings(upd('Hopper-v5', 32768, {'critic_epochs': 5}), '.0f')} |",
         f"| u: both | {inp['update_hopper_tuned_us']:.0f} us / step | "
         f"{_readings(upd('Hopper-v5', 32768, {'fvp_subsample': 0.1, 'critic_epochs': 5}), '.0f')} |",
         f"| u: TRPO update, Pong, `atari` preset (the paper's CNN, Fisher on 10%), one CPU core | "
         f"{inp['update_pong_cpu_us'] / 1e3:.1f} ms / frame | {_readings(pong, '.1f')} |",
         f"| weights put + fetched by 2 workers: MLP / CNN (121k) / CNN (1.7M parameters) | {min(w_mlp):.0f} / "
         f"{min(w_small):.0f} / {min(w_big):.0f} ms | {rng(w_mlp)} / {rng(w_small)} / {rng(w_big)} |"]
    loads = [_json(f)["load_avg_start"][0] for f in RAY_PARTS]
    m = _json(RAY_PARTS[0])["machine"]
    L += ["", "Raw records: " + ", ".join(_link(SCALING_PAGE, f) for f in RAY_PARTS) +
          f" (`bench_ray.py --parts`; {m['cpus']} vCPUs, {m['cpu_model']}, Ray {m['ray']}, no commit recorded; load "
          f"average {min(loads):.0f}-{max(loads):.0f} at their starts); the value column is "
          f"{_link(SCALING_PAGE, RAY_MODEL)}'s `inputs` (the smallest reading; o_worker, t_put and b: the medians "
          f"over the three 1-worker runs of {_link(SCALING_PAGE, RAY_TRAINING)}, whose per-step sampling time "
          f"gives c_env for Hopper)."]
    return "\n".join(L)


def _model() -> dict:
    return _json(RAY_MODEL)


SCENARIOS = (
    ("mujoco (Hopper), preset learner", "MuJoCo (Hopper), `mujoco` preset, CPU learner"),
    ("mujoco (Hopper), fvp_subsample 0.1 + critic_epochs 5",
     "MuJoCo, `fvp_subsample 0.1` + `critic_epochs 5`, CPU learner"),
    ("atari (Pong), CPU learner", "Atari (Pong), CPU learner (one core)"),
    ("atari (Pong), GPU learner (assumed)", "Atari (Pong), GPU learner (assumed 20 us/frame)"),
    ("atari (Pong), GPU learner, newest frame only",
     "Atari, GPU learner, only the newest frame sent (not implemented)"),
)


def _at(rows: list[dict], W: int) -> dict:
    return next(r for r in rows if r["W"] == W)


def _round_rate(x: float) -> str:
    return f"{round(x, -1):,.0f}" if x >= 1000 else f"{x:,.0f}"


def block_scaling_predictions() -> str:
    mod = _model()
    L = ["| scenario | W = 8 | W = 64 | W = 256 | learner-bound beyond | ceiling |", "|---|---|---|---|---|---|"]
    for key, label in SCENARIOS:
        rows = mod["scenarios"][key]
        one = _at(rows, 1)
        w_star = (one["sample_s"] - mod["inputs"]["worker_fixed_s"]) / one["learner_s"]  # B * c_env / t_learner
        ceiling = one["B"] / one["learner_s"]
        if one["learner_bound"]:
            bound = f"always (update: {one['update_s']:.0f} s)"
        else:
            bound = f"W ~ {w_star:.1f}" if w_star < 3 else f"W ~ {w_star:.0f}"
        ceil = f"~{round(ceiling, -2):,.0f}" if ceiling >= 1000 else f"~{ceiling:,.0f}"
        unit = " steps/s" if key == SCENARIOS[0][0] else ""
        L.append(f"| {label} | {_round_rate(_at(rows, 8)['steps_per_s'])}{unit} | "
                 f"{_round_rate(_at(rows, 64)['steps_per_s'])} | {_round_rate(_at(rows, 256)['steps_per_s'])} | "
                 f"{bound} | {ceil} |")
    g = _at(mod["scenarios"]["atari (Pong), GPU learner (assumed)"], 256)
    gb = g["transfer_s"] * mod["assumed"]["net_bytes_per_s"] / 1e9
    L += ["", f"Where the time goes at W = 256, Atari with a GPU learner: sampling {g['sample_s']:.2f} s, dispatch "
              f"{g['dispatch_s']:.2f} s, transfer {g['transfer_s']:.2f} s ({gb:.1f} GB over 10 GbE), merge "
              f"{g['merge_s']:.2f} s, update {g['update_s']:.2f} s. From {_link(SCALING_PAGE, RAY_MODEL)}."]
    return "\n".join(L)


def block_scaling_paper() -> str:
    """The TRPO paper's Atari run (500 iterations of ~100k steps) on the model."""
    mod = _model()
    sc = mod["scenarios"]
    g256 = _at(sc["atari (Pong), GPU learner (assumed)"], 256)
    g64 = _at(sc["atari (Pong), GPU learner (assumed)"], 64)
    cpu = mod["paper_atari_hours_256_workers"]["atari (Pong), CPU learner"]
    slow_us = 5 * mod["assumed"]["gpu_us_per_frame"]
    slow = g256["iter_s"] - g256["update_s"] + g256["B"] * slow_us * 1e-6  # the same iteration, the update 5x slower
    one = _at(sc["atari (Pong), GPU learner (assumed)"], 1)
    w_star = (one["sample_s"] - mod["inputs"]["worker_fixed_s"]) / one["learner_s"]
    return (f"500 iterations of 100k steps (`--preset atari-paper`). On a cluster of **8 rollout nodes x 32 vCPUs "
            f"(256 workers of 8 envs, B = {g256['B']:,} per iteration) and one learner node with a data-centre GPU, "
            f"on 10 GbE**, the model predicts {g256['iter_s']:.1f} s per iteration (sampling {g256['sample_s']:.1f} s, "
            f"dispatch {g256['dispatch_s']:.1f} s, transfer {g256['transfer_s']:.1f} s, merge {g256['merge_s']:.2f} s, "
            f"update {g256['update_s']:.1f} s), i.e. **about "
            f"{mod['paper_atari_hours_256_workers']['atari (Pong), GPU learner (assumed)']:.1f} hours for the 500 "
            f"iterations** (start-up and evaluations not included). The prediction rests on the assumed GPU speed: "
            f"at {slow_us:.0f} us per frame (5x slower than assumed) it becomes {500 * slow / 3600:.1f} hours; with "
            f"the update on one CPU core it would be about {cpu:.0f} hours ({cpu / 24:.0f} days; "
            f"{mod['inputs']['update_pong_cpu_us'] / 1e3:.1f} ms per frame, the fastest of three readings). For "
            f"comparison, the paper reports about 30 hours per game on its own hardware. On 64 workers (2 nodes) the "
            f"same run takes 500 x {g64['iter_s']:.1f} s = {500 * g64['iter_s'] / 3600:.1f} hours: beyond "
            f"~{w_star:.0f} workers the learner, not the cluster size, decides. From {_link(SCALING_PAGE, RAY_MODEL)}.")


# ================================================================================================
# docs/benchmarks.md
BENCH_PAGE = "docs/benchmarks.md"


def _bench(name: str) -> dict:
    return _json(RESULTS / name)


def _by(d: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in d["runs"]:
        out.setdefault(r["impl"], []).append(r)
    return out


def _med(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return st.median(vals) if vals else None


def _fmt(x, spec=".0f") -> str:
    return "-" if x is None else format(x, spec)


def _speed_table(d: dict, title: str, labels: dict[str, str]) -> list[str]:
    """bench_trpo.py's table (medians over seeds and repeats) with the page's column names."""
    by = _by(d)
    env, peer = _med(by["env-only"], "steps_per_s"), _med(by["sb3-contrib"], "steps_per_s")
    ts = "time_to_solve_s" if "time_to_solve_s" in d["runs"][-1] else "time_to_threshold_s"
    ss = "steps_to_solve" if ts == "time_to_solve_s" else "steps_to_threshold"
    L = [f"| {title} | steps/s | x peer | x env-only | final eval (10 ep, det.) | time to solve (s) | steps to solve | "
         "peak RSS (MB) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for impl, lab in labels.items():
        rows = by[impl]
        rate = _med(rows, "steps_per_s")
        L.append(f"| {lab} | {rate:.0f} | {rate / peer:.2f} | {rate / env:.2f} | "
                 f"{_fmt(_med(rows, 'final_eval_return'), '.1f')} | {_fmt(_med(rows, ts), '.1f')} | "
                 f"{_fmt(_med(rows, ss))} | {_med(rows, 'peak_rss_mb'):.0f} |")
    return L


def _j(rows: list[dict], key: str, spec: str) -> str:
    return ", ".join(format(r[key], spec) for r in rows)


def _ratios(o: list[dict], p: list[dict]) -> str:
    return ", ".join(f"{a['time_to_solve_s'] / b['time_to_solve_s']:.2f}" for a, b in zip(o, p))


def _k(steps: int) -> str:
    return f"{steps / 1000:.0f}k"


def _rr(v: list[float]) -> str:
    lo, hi = min(v), max(v)
    return f"{lo:.0f}" if f"{lo:.0f}" == f"{hi:.0f}" else f"{lo:.0f}-{hi:.0f}"


def _round4_table(name: str, middle) -> str:
    """A round-4 bench_trpo record: its speed table, then the final evaluations by seed, what
    ``middle(ours, peer)`` says, the peak memory and the raw file."""
    d = _bench(name)
    by = _by(d)
    L = _speed_table(d, f"{d['env']} ({d['steps']} steps)", {"ours": "ours", "sb3-contrib": "sb3-contrib",
                                                            "env-only": "env-only"})
    o, p = by["ours"], by["sb3-contrib"]
    L += ["", f"Final eval by seed: ours {_j(o, 'final_eval_return', '.0f')}; peer "
              f"{_j(p, 'final_eval_return', '.0f')}. {middle(o, p)}Peak RSS: main process "
              f"{_rr([r['main_rss_mb'] for r in o])} MB + helper {_rr([r['helper_private_mb'] for r in o])} MB. "
              f"Raw: {_link(BENCH_PAGE, RESULTS / name)} ({d['time']}, {_made_on(d['machine'])})."]
    return "\n".join(L)


def block_round4_cartpole() -> str:
    return _round4_table("CartPole-v1-100000-20261130-001838.json", lambda o, p: (
        f"Time to solve by seed: ours {_j(o, 'time_to_solve_s', '.2f')} s (at "
        f"{', '.join(_k(r['steps_to_solve']) for r in o)} steps); peer {_j(p, 'time_to_solve_s', '.2f')} s (at "
        f"{', '.join(_k(r['steps_to_solve']) for r in p)} steps): ratios {_ratios(o, p)}. "))


def block_round4_cartpole_345() -> str:
    name = "CartPole-v1-100000-20261130-002558.json"
    d = _bench(name)
    by = _by(d)
    o, p = by["ours"], by["sb3-contrib"]
    ro, rp = _med(o, "steps_per_s"), _med(p, "steps_per_s")
    to, tp = _med(o, "time_to_solve_s"), _med(p, "time_to_solve_s")
    fin = {r["final_eval_return"] for r in o}
    fin_o = f"final evals {fin.pop():.0f} on every seed" if len(fin) == 1 else \
        f"final evals {_j(o, 'final_eval_return', '.0f')}"
    return (f"The same command on seeds {', '.join(str(r['seed']) for r in o)}: **{ro:,.0f} vs {rp:,.0f} steps/s = "
            f"{ro / rp:.2f}x**, {fin_o} (the peer {_j(p, 'final_eval_return', '.0f')}), time to "
            f"solve {_j(o, 'time_to_solve_s', '.2f')} s vs "
            f"{_j(p, 'time_to_solve_s', '.2f')} s (ratios "
            f"{_ratios(o, p)}; medians "
            f"{to:.2f} s vs {tp:.2f} s = {to / tp:.2f}x), peak RSS {_med(o, 'peak_rss_mb'):.0f} vs "
            f"{_med(p, 'peak_rss_mb'):.0f} MB ({_link(BENCH_PAGE, RESULTS / name)}; {d['time']}, "
            f"{_made_on(d['machine'])}).")


def block_round4_hopper() -> str:
    return _round4_table("Hopper-v5-100000-20261130-002331.json", lambda o, p: (
        f"Ours: `vector_mode = \"{o[0]['config']['vector_mode']}\"`, {o[0]['config']['num_envs']} envs x batch "
        f"{o[0]['config']['batch_steps']:,}. "))


def block_round3_code() -> str:
    name = "CartPole-v1-100000-20261130-002908-round3-code.json"
    d = _bench(name)
    by = _by(d)
    o, p = by["ours"], by["sb3-contrib"]
    ro, rp = _med(o, "steps_per_s"), _med(p, "steps_per_s")
    return (f"The round-3 code (e7c960c) ran the CartPole command on the same host right after round 4's "
            f"({_link(BENCH_PAGE, RESULTS / name)}, {d['time']}): {ro:,.0f} vs {rp:,.0f} steps/s = "
            f"**{ro / rp:.2f}x**, peak RSS {_med(o, 'peak_rss_mb'):.0f} vs {_med(p, 'peak_rss_mb'):.0f} MB.")


QUALITY = "Hopper-v5-300000-20261201-075953.json"
QUALITY_8X256 = "Hopper-v5-300000-20261201-071341.json"


def _pairs(d: dict) -> list[dict]:
    """bench_trpo.py's per-seed pairs (stored in the record), ours against the peer."""
    return sorted(d["pairs"], key=lambda x: (x["seed"], x["repeat"]))


def _agg(ps: list[dict], key: str, how: str) -> float | None:
    vals = [x[key] for x in ps]
    if how == "median":  # not reached counts as infinitely late
        m = st.median([np.inf if v is None else v for v in vals])
        return None if np.isinf(m) else m
    got = [v for v in vals if v is not None]
    return st.mean(got) if got else None


def time_ratios(ps: list[dict]) -> list[float]:
    """Time to the threshold, ours over the peer's, per seed where both reached it."""
    return [x["ours_time_to_threshold_s"] / x["peer_time_to_threshold_s"] for x in ps
            if x["ours_time_to_threshold_s"] is not None and x["peer_time_to_threshold_s"] is not None]


def block_quality(path: Path = RESULTS / QUALITY, d: dict | None = None) -> str:
    """The per-seed time-to-quality table of a bench_trpo record (``d``: its contents, if read)."""
    d = d or _json(path)
    ps = _pairs(d)
    thr = f"{d['threshold']:,.0f}"
    nr = "not reached"

    def f(x, spec):
        return nr if x is None else format(x, spec)

    def pair(x, key, spec):
        return f"{f(x['ours_' + key], spec)} / {f(x['peer_' + key], spec)}"

    k = f"{d['steps'] // 1000}k"
    L = [f"| {d['env']}, {k} steps, seed | time to {thr} (s), ours / peer | steps to {thr}, ours / peer | "
         f"final eval at {k}, ours / peer | equal wall T (s) | return at T, ours / peer |",
         "|---|---:|---:|---:|---:|---:|"]
    for x in ps:
        L.append(f"| {x['seed']} | {pair(x, 'time_to_threshold_s', '.1f')} | "
                 f"{pair(x, 'steps_to_threshold', ',')} | {pair(x, 'final_eval', ',.0f')} | "
                 f"{x['equal_wall_s']:.1f} | {pair(x, 'return_at_equal_wall', ',.0f')} |")
    n = len(ps)
    for how in ("mean", "median"):
        def both(key, spec, how=how):
            return f"{f(_agg(ps, 'ours_' + key, how), spec)} / {f(_agg(ps, 'peer_' + key, how), spec)}"

        reached = ""
        if how == "mean":
            ko = sum(x["ours_time_to_threshold_s"] is not None for x in ps)
            kq = sum(x["peer_time_to_threshold_s"] is not None for x in ps)
            reached = f" ({ko} and {kq} of {n} reached)"
        walls = [x["equal_wall_s"] for x in ps]
        wall = st.mean(walls) if how == "mean" else st.median(walls)
        b = "**" if how == "mean" else ""
        L.append(f"| **{how}** | {both('time_to_threshold_s', '.1f')}{reached} | "
                 f"{both('steps_to_threshold', ',.0f')} | {b}{both('final_eval', ',.0f')}{b} | {wall:.1f} | "
                 f"{b}{both('return_at_equal_wall', ',.0f')}{b} |")
    return "\n".join(L)


def block_quality_summary(path: Path = RESULTS / QUALITY, d: dict | None = None) -> str:
    d = d or _json(path)
    ps = _pairs(d)
    by = _by(d)
    n = len(ps)
    fo, fq = (st.mean(x[f"{s}_final_eval"] for x in ps) for s in ("ours", "peer"))
    mo, mq = (st.median(x[f"{s}_final_eval"] for x in ps) for s in ("ours", "peer"))
    higher = sum(x["ours_final_eval"] > x["peer_final_eval"] for x in ps)
    ratios = time_ratios(ps)
    to, tq = _agg(ps, "ours_time_to_threshold_s", "median"), _agg(ps, "peer_time_to_threshold_s", "median")
    ro, rq = _med(by["ours"], "steps_per_s"), _med(by["sb3-contrib"], "steps_per_s")
    at_t = sum(x["ours_return_at_equal_wall"] > x["peer_return_at_equal_wall"] for x in ps)
    first = sum(x["peer_steps_to_threshold"] is not None and (x["ours_steps_to_threshold"] is None or
                x["peer_steps_to_threshold"] < x["ours_steps_to_threshold"]) for x in ps)
    so, sq = _agg(ps, "ours_steps_to_threshold", "median"), _agg(ps, "peer_steps_to_threshold", "median")
    seeds = [x["seed"] for x in ps]
    thr = f"{d['threshold']:,.0f}"
    return (f"**{d['env']} at {d['steps'] // 1000}k steps, shipped settings against the peer, mean over seeds "
            f"{min(seeds)}-{max(seeds)}: {fo:,.0f} vs {fq:,.0f} ({fo - fq:+,.0f}, {fo / fq:.2f}x)**; medians {mo:,.0f} "
            f"vs {mq:,.0f}. Per seed ours is higher on {higher} of {n}. Time to {thr}, ours / peer, per seed where "
            f"both reached it: {', '.join(f'{r:.2f}' for r in ratios)} (median {st.median(ratios):.2f}); ratio of "
            f"the medians {to / tq:.2f}. Throughput: {ro:,.0f} vs {rq:,.0f} steps/s (medians, **{ro / rq:.2f}x**); "
            f"peak RSS {_med(by['ours'], 'peak_rss_mb'):.0f} vs {_med(by['sb3-contrib'], 'peak_rss_mb'):.0f} MB. At "
            f"equal wall time ours is higher on {at_t} of {n} seeds. In env steps the peer touches {thr} first on "
            f"{first} of {n} seeds (median {sq / 1000:.0f}k vs {so / 1000:.0f}k steps). Raw numbers, both sides' "
            f"evaluation and training curves and configs: {_link(BENCH_PAGE, path, f'`{path.name}`')} "
            f"({d['time']}, {_made_on(d['machine'])}; load average {d['machine']['loadavg_at_start'][0]:.1f} at the "
            f"start, {d['machine']['loadavg_at_end'][0]:.1f} at the end).")


def block_quality_8x256() -> str:
    d = _bench(QUALITY_8X256)
    ps = _pairs(d)
    by = _by(d)
    c = by["ours"][0]["config"]
    fo, fq = (st.mean(x[f"{s}_final_eval"] for x in ps) for s in ("ours", "peer"))
    fins = [x["ours_final_eval"] for x in ps]
    ratios = time_ratios(ps)
    ro, rq = _med(by["ours"], "steps_per_s"), _med(by["sb3-contrib"], "steps_per_s")
    return (f"With {c['num_envs']} envs x {c['batch_steps'] // c['num_envs']} steps ({d['time']}): ours {fo:,.0f} "
            f"against the same peer's {fq:,.0f} at {d['steps'] // 1000}k (mean final eval; every seed "
            f"{min(fins):,.0f}-{max(fins):,.0f}), time to {d['threshold']:,.0f} a median {st.median(ratios):.2f} of "
            f"the peer's per seed, {ro / rq:.2f}x its steps/s "
            f"({_link(BENCH_PAGE, RESULTS / QUALITY_8X256, f'`{QUALITY_8X256}`')}).")


SPLIT = "Hopper-v5-40960-20261206-103723.json"


def block_split() -> str:
    d = _bench(SPLIT)
    by = _by(d)
    env, peer = _med(by["env-only"], "steps_per_s"), _med(by["sb3-contrib"], "steps_per_s")
    older = _med(_by(_bench(QUALITY))["env-only"], "steps_per_s")
    L = [f"| {d['env']}, {d['steps']:,} steps, shipped settings | steps/s | x sb3-contrib | x one `gym.make` env, "
         "random actions |", "|---|---:|---:|---:|"]
    for impl, lab in (("ours", "ours, `sync` (shipped)"), ("ours-split", "ours, `split`"),
                      ("sb3-contrib", "sb3-contrib TRPO (RL-Zoo settings)")):
        r = _med(by[impl], "steps_per_s")
        L.append(f"| {lab} | {r:,.0f} | {_fmt(r / peer, '.2f') if impl != 'sb3-contrib' else '1'} | {r / env:.2f} |")
    o, s = _med(by["ours"], "steps_per_s"), _med(by["ours-split"], "steps_per_s")
    seed = d["seed"][0] if isinstance(d["seed"], list) else d["seed"]
    L += ["", f"`split` / `sync`: {s / o:.2f}x. Medians over {d['repeats']} interleaved repeats of seed {seed} "
              f"(`{d['command'].split('bench_trpo.py ')[-1]}`); "
              f"{_link(BENCH_PAGE, RESULTS / SPLIT, 'raw record')}, {d['time']}, {_made_on(d['machine'])}, load "
              f"average {d['machine']['loadavg_at_start'][0]:.1f} at the start. The one-env random-action rate was "
              f"{env:,.0f} steps/s, against {older:,.0f} on 2026-12-01 ({_link(BENCH_PAGE, RESULTS / QUALITY)}): "
              f"the host ran {older / env:.1f}x slower, so compare only the ratios."]
    return "\n".join(L)


def _vec_table(res: dict, env: str, modes: tuple[str, ...], ns: list[int]) -> list[str]:
    L = ["| mode | " + " | ".join(f"{n} envs" for n in ns) + " |", "|---|" + "---:|" * len(ns)]
    for mode in modes:
        L.append(f"| {mode} | " + " | ".join(_fmt(res.get(f"{env}|{mode}|{n}")) for n in ns) + " |")
    return L


def block_vec() -> str:
    name = "vec-20261130-003101.json"
    d = _bench(name)
    res = d["results"]
    ns = sorted({int(k.split("|")[2]) for k in res})
    L = []
    for env in ("CartPole-v1", "Hopper-v5"):
        L += [env, "", *_vec_table(res, env, ("sync", "async", "envpool", "vector_entry_point"), ns), ""]
    r3 = _bench("vec-20261122-030653.json")["results"]
    r2 = _bench("vec-20261122-022704.json")["results"]
    L += [f"Raw: {_link(BENCH_PAGE, RESULTS / name)} (load average {d['loadavg'][0]:.1f}; no CPU or commit "
          f"recorded). (`vector_entry_point` exists for CartPole only.) Round 3's sweep on the slower host "
          f"({_link(BENCH_PAGE, RESULTS / 'vec-20261122-030653.json')}): CartPole sync "
          f"{r3['CartPole-v1|sync|8']:,.0f}, "
          f"EnvPool {r3['CartPole-v1|envpool|8']:,.0f} at 8 envs; Hopper sync {r3['Hopper-v5|sync|8']:,.0f}, EnvPool "
          f"{r3['Hopper-v5|envpool|8']:,.0f} at 8 envs. An earlier sweep on a quieter stretch "
          f"({_link(BENCH_PAGE, RESULTS / 'vec-20261122-022704.json')}, 1/2/8/16 envs) gave CartPole sync "
          f"{r2['CartPole-v1|sync|8'] / 1e3:.0f}k vs EnvPool {r2['CartPole-v1|envpool|8'] / 1e3:.0f}k at 8 envs and "
          f"Hopper sync {r2['Hopper-v5|sync|8'] / 1e3:.1f}k vs EnvPool {r2['Hopper-v5|envpool|8'] / 1e3:.1f}k at 8 "
          "envs."]
    return "\n".join(L)


# Round 3's learning check at 100k steps (bench_trpo.py records of 2026-11-22): which records hold which rows
ROUND3_SEEDS = (
    ("ours, minibatch 128 (default)", "ours", ("Hopper-v5-100000-20261122-054828.json",
                                               "Hopper-v5-100000-20261122-061053.json")),
    ("ours, minibatch 256", "ours", ("Hopper-v5-100000-20261122-053839.json", "Hopper-v5-100000-20261122-054321.json",
                                     "Hopper-v5-100000-20261122-060702.json")),
    ("sb3-contrib (RL Zoo)", "sb3-contrib", ("Hopper-v5-100000-20261122-030046.json",
                                             "Hopper-v5-100000-20261122-032043.json")),
)


def block_round3_seeds() -> str:
    L = ["| Hopper-v5, 100k steps | seeds | final evals | mean | median | raw records |", "|---|---|---|---:|---:|---|"]
    for label, impl, files in ROUND3_SEEDS:
        runs = sorted((r for f in files for r in _bench(f)["runs"] if r["impl"] == impl), key=lambda r: r["seed"])
        fin = [r["final_eval_return"] for r in runs]
        seeds = [r["seed"] for r in runs]
        mb = {r["config"]["critic_minibatch"] for r in runs if r.get("config")}
        assert impl != "ours" or len(mb) == 1, (label, mb)
        L.append(f"| {label} | {min(seeds)}-{max(seeds)} | {', '.join(f'{v:.0f}' for v in fin)} | "
                 f"{np.mean(fin):,.0f} | {np.median(fin):,.0f} | "
                 f"{', '.join(_link(BENCH_PAGE, RESULTS / f, f[len('Hopper-v5-100000-'):-5]) for f in files)} |")
    recs = [_bench(f) for _, _, files in ROUND3_SEEDS for f in files]
    days = sorted({r["time"][:10] for r in recs})
    L += ["", f"bench_trpo.py records of {', '.join(days)} (the links: their times), made on "
              f"{' and '.join(sorted({_made_on(r['machine']) for r in recs}))}"
              f"{'' if any((r['machine'].get('git')) for r in recs) else ', no commit recorded'}."]
    return "\n".join(L)


# ================================================================================================
# docs/results/recurrent.md
RECURRENT_PAGE = "docs/results/recurrent.md"
RECURRENT_CARTPOLE = RESULTS / "trpo_CartPoleNoVelocity-v1-300000-20261201-093312.json"
RECURRENT_PENDULUM = RESULTS / "trpo_PendulumNoVelocity-v1-300000-20261201-095814.json"
# the sides of docs/results/recurrent/run.sh's commands, in its summarise.py's order and words
RECURRENT_SIDES = (("ours", "trpo, policy = gru"), ("ours-mlp", "trpo, policy = mlp"),
                   ("sb3-contrib", "sb3-contrib RecurrentPPO (RL-Zoo)"))


def _recurrent_table(path: Path) -> str:
    """A bench_trpo.py record of recurrent.md (one env, three sides, seeds 0-2): the command, then per
    side the mean best and final evaluations, the steps to the threshold and steps/s against the peer's."""
    d = _json(path)
    m, thr = d["machine"], d["threshold"]
    load = lambda k: ", ".join(f"{x:.1f}" for x in m.get(k, []))  # noqa: E731
    L = [f"`{d['command']}` ({d['time']}; {_cpu(m.get('cpu'))}; load average {load('loadavg_at_start')} at the "
         f"start, {load('loadavg_at_end')} at the end)", "",
         "| side | seeds | steps | best periodic eval (mean) | final eval (mean, per seed) | "
         f"steps to {thr:g} (per seed) | steps/s (mean) | x peer |", "|---|---:|---:|---:|---|---|---:|---:|"]
    by = _by(d)
    peer_rate = st.mean(r["steps_per_s"] for r in by["sb3-contrib"])
    for impl, label in RECURRENT_SIDES:
        runs = sorted(by.get(impl, []), key=lambda r: r["seed"])
        if not runs:
            continue
        best = st.mean(max(c[2] for c in r["eval_curve"]) for r in runs)
        finals = [r["final_eval_return"] for r in runs]
        reach = [next((c[0] for c in r["eval_curve"] if c[2] >= thr), None) for r in runs]
        rate = st.mean(r["steps_per_s"] for r in runs)
        L.append(f"| {label} | {len(runs)} | {runs[0]['steps']:,} | {best:.0f} | {st.mean(finals):.0f} "
                 f"({', '.join(f'{f:.0f}' for f in finals)}) | "
                 f"{', '.join('-' if x is None else f'{x:,}' for x in reach)} | {rate:,.0f} | "
                 f"{rate / peer_rate:.1f} |")
    v = m.get("versions", {})
    L += ["", f"Raw record: {_link(RECURRENT_PAGE, path)} (bench_trpo.py; trpo {v.get('trpo', '?')}, torch "
              f"{v.get('torch', '?')}, sb3-contrib {v.get('sb3-contrib', '?')}; no commit recorded). Means over "
              f"seeds; best periodic eval: each seed's highest periodic deterministic evaluation (10 episodes); "
              f"steps to {thr:g}: the first periodic evaluation at or above it; x peer: the side's mean steps/s "
              f"over the peer's."]
    return "\n".join(L)


def block_recurrent_cartpole() -> str:
    return _recurrent_table(RECURRENT_CARTPOLE)


def block_recurrent_pendulum() -> str:
    return _recurrent_table(RECURRENT_PENDULUM)


# ================================================================================================
# docs/results/mujoco.md
MUJOCO_PAGE = "docs/results/mujoco.md"
MUJOCO_ENVS = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Swimmer-v5", "Ant-v5")  # pagelib.MUJOCO5's order


def _mujoco_peer_runs(env: str) -> list[tuple[Path, dict]]:
    """sb3-contrib TRPO at 1M steps on ``env``: (record, run) from bench_trpo.py's ``--only peer`` records."""
    out = []
    for path in sorted(RESULTS.glob(f"{env}-1000000-*.json")):
        d = _json(path)
        if not d.get("complete"):
            continue
        out += [(path, r) for r in d["runs"] if r["impl"] == "sb3-contrib"]
    return sorted(out, key=lambda x: x[1]["seed"])


def block_mujoco_peer() -> str:
    L = ["| env | sb3-contrib run here: mean ± std (final eval, 1M steps) | seeds | per seed | ours, same seeds | "
         "raw (benchmarks/results/) |", "|---|---:|---:|---|---:|---|"]
    vs, cpus, paths = [], set(), []
    for env in MUJOCO_ENVS:
        runs = _mujoco_peer_runs(env)
        if not runs:
            continue
        fin = np.array([r["final_eval_return"] for _, r in runs])
        seeds = [r["seed"] for _, r in runs]
        ours = {r["seed"]: r["final_eval_return_mean"] for r in tuning_runs(env)}  # seeds 0-4, the tuning table's
        assert all(s in ours for s in seeds), (env, seeds)
        o = float(np.mean([ours[s] for s in seeds]))
        spread = f" ± {fin.std(ddof=1):,.0f}**" if fin.size > 1 else "** (one seed: no spread)"
        L.append(f"| {env} | **{fin.mean():,.0f}{spread} | {fin.size} | {', '.join(f'{v:,.0f}' for v in fin)} | "
                 f"{o:,.0f} | " + ", ".join(_link(MUJOCO_PAGE, p, f"s{r['seed']}") for p, r in runs) + " |")
        on = f" (seed {seeds[0]})" if len(seeds) == 1 else ""
        vs.append(f"{env.split('-')[0]}{on} {o / fin.mean() - 1:+.0%}")
        cpus |= {_json(p)["machine"].get("cpu") for p, _ in runs}
        paths += [p for p, _ in runs]
    times = sorted(_json(p)["time"] for p in paths)
    L += ["", f"Ours against the peer, mean over the same seeds: {', '.join(vs)}. Std over seeds with ddof 1; ours: "
              f"the final evaluations of the tuning table's run directories "
              f"({_link(MUJOCO_PAGE, PRE / 'mujoco' / 'raw', 'pre-harness/mujoco/raw/')}). The peer's records: "
              f"bench_trpo.py `--only peer`, {times[0][:16]} to {times[-1][:16]}, on "
              f"{' and '.join(sorted(_cpu(c) for c in cpus))}, no commit recorded."]
    return "\n".join(L)


# ================================================================================================
BLOCKS: dict[tuple[str, str], Callable[[], str]] = {
    (MINATAR_PAGE, "table-300k"): block_minatar_300k,
    (MINATAR_PAGE, "table-1m"): block_minatar_1m,
    (MINATAR_PAGE, "table-5m"): block_minatar_5m,
    (MINATAR_PAGE, "reference"): block_minatar_reference,
    (PONG_PAGE, "summary"): block_pong_summary,
    (PONG_PAGE, "last-segment"): block_pong_last_segment,
    (PONG_PAGE, "kl"): block_pong_kl,
    (SCALING_PAGE, "layouts"): block_scaling_layouts,
    (SCALING_PAGE, "per-iteration"): block_scaling_per_iteration,
    (SCALING_PAGE, "parts"): block_scaling_parts,
    (SCALING_PAGE, "predictions"): block_scaling_predictions,
    (SCALING_PAGE, "paper"): block_scaling_paper,
    (BENCH_PAGE, "round4-cartpole"): block_round4_cartpole,
    (BENCH_PAGE, "round4-cartpole-345"): block_round4_cartpole_345,
    (BENCH_PAGE, "round4-hopper"): block_round4_hopper,
    (BENCH_PAGE, "round3-code"): block_round3_code,
    (BENCH_PAGE, "quality"): block_quality,
    (BENCH_PAGE, "quality-summary"): block_quality_summary,
    (BENCH_PAGE, "quality-8x256"): block_quality_8x256,
    (BENCH_PAGE, "split"): block_split,
    (BENCH_PAGE, "vec"): block_vec,
    (BENCH_PAGE, "round3-seeds"): block_round3_seeds,
    (RECURRENT_PAGE, "cartpole-novelocity"): block_recurrent_cartpole,
    (RECURRENT_PAGE, "pendulum-novelocity"): block_recurrent_pendulum,
    (MUJOCO_PAGE, "peer"): block_mujoco_peer,
}


if __name__ == "__main__":
    import sys

    for (page, name), fn in BLOCKS.items():
        if len(sys.argv) < 2 or name in sys.argv[1:]:
            print(f"--- {page} [{name}]\n{fn()}\n")
