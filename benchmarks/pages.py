"""``make results``: the generated parts of the docs, written from the committed raw records.

    python benchmarks/pages.py            # rewrite every generated block
    python benchmarks/pages.py --check    # exit 1 naming each block that differs (tests/test_results_pages.py)

A generated block sits in a page between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``;
everything between the markers is this script's, everything around them is prose. Each block is a
function of the raw records only (``benchmarks/results/*.json``: bench_trpo.py's speed records;
``benchmarks/records/<suite>/*.json``: the harness's one record per run), so a page cannot drift
from its records: the test fails when a committed page differs from what this writes.

Blocks:
  README.md               speed       the speed sentence: ranges over every record of the shipped
                                      settings (CartPole-v1 100k, Hopper-v5), hosts named
  README.md               heldout     the MuJoCo held-out sentence (suite mujoco-heldout)
  docs/benchmarks.md      speed       the records behind the speed sentence, one row each
  docs/results/mujoco.md  heldout     the held-out table: per env and seed, ours and the peer,
                                      mean, IQM with 95% CIs, P(ours > peer), the published numbers
  docs/results/family.md  ppo-capg    Hopper PPO 1M, the Gaussian density against CAPG
  docs/benchmarks.md      ppo-update  PPO's update with the shared trunk: one pass against two
  docs/results/pong.md    pong-heldout  TRPO and PPO on Pong, seed 100 (suite pong-heldout): periodic
                                      evaluations, final evaluations both ways; figure pong/heldout.png
  ...                                 the other blocks of family.md: benchmarks/pages_family.py; of
                                      minatar.md, pong.md, scaling.md and benchmarks.md's older
                                      tables: benchmarks/pages_pre_harness.py (each module's BLOCKS)
"""
from __future__ import annotations

import argparse
import functools
import glob
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this tree's trpo (shipped settings)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pagelib, pages_* beside this file
import pages_family
import pages_pre_harness
from pagelib import (
    BOOT_REPS,
    HELD_OUT,
    HELD_SHARE,
    MUJOCO5,
    RECORDS,
    ROOT,
    SPEED,
    _iqm,
    interval,
    metrics_columns,
    normalised,
    prob_improvement,
    profile_records,
    published,
    render,
    short_commit,
    suite_records,
    tuning_runs,
)
from pagelib import and_join as _and
from pagelib import cpu_short as _cpu


# ------------------------------------------------------------------------------------------------
def shipped(env_id: str) -> dict:
    """The settings ``trpo train ENV`` runs today (layered and resolved): what a speed record must
    have measured to count for the shipped settings."""
    sys.path.insert(0, str(ROOT / "src"))
    from trpo.config import Config
    from trpo.resolve import layer, resolve_vector_mode

    cfg = layer(Config(env_id=env_id))
    return {"preset": cfg.preset, "num_envs": cfg.num_envs, "batch_steps": cfg.batch_steps,
            "vector_mode": resolve_vector_mode(env_id, cfg.vector_mode, num_envs=cfg.num_envs)}


def plain_trpo_record(d: dict) -> bool:
    """A finished bench_trpo record against sb3-contrib's TRPO with no overrides of ours."""
    return not d.get("overrides") and d.get("peer", "trpo") == "trpo" and d.get("complete") is not False


def side_runs(d: dict) -> dict[str, list[dict]]:
    """A speed record's runs by side (``impl``: ours, ours-sync, ours-split, sb3-contrib, env-only)."""
    out: dict[str, list[dict]] = {}
    for r in d["runs"]:
        out.setdefault(r["impl"], []).append(r)
    return out


def median_rate(runs: list[dict]) -> float:
    return float(np.median([r["steps_per_s"] for r in runs]))


def speed_records(env_id: str) -> list[dict]:
    """Every finished bench_trpo record of ``env_id`` with both sides, no overrides, whose ours ran
    the shipped settings: one row per record (medians over its seeds and repeats)."""
    want = shipped(env_id)
    rows = []
    for f in sorted(glob.glob(str(SPEED / f"{env_id.replace('/', '_')}-*.json"))
                    + glob.glob(str(RECORDS / "speed" / f"{env_id.replace('/', '_')}-*.json")), key=lambda f: Path(f).name):
        d = json.loads(Path(f).read_text())
        if not plain_trpo_record(d):
            continue  # other settings, another peer, or a command that did not finish
        by = side_runs(d)
        peer = by.get("sb3-contrib", [])
        ours = []
        for side in ("ours", "ours-split", "ours-sync"):  # every side that ran the shipped settings, pooled
            runs = by.get(side, [])
            c = runs[0]["config"] if runs else {}
            if runs and all(c.get(k) == v for k, v in want.items() if not (k == "preset" and not v and not c.get(k))):
                ours += runs
        if not ours or not peer:
            continue
        o, p = median_rate(ours), median_rate(peer)
        m = d.get("machine", {})
        rows.append({"file": Path(f).name, "link": Path(f).relative_to(ROOT).as_posix(),
                     "date": d.get("time", "?")[:10], "cpu": m.get("cpu", "?"),
                     "load": m.get("loadavg_at_start"), "steps": d["steps"], "seeds": d.get("seed"),
                     "ours": o, "peer": p, "ratio": o / p})
    return rows


def _range(vals: list[float]) -> str:
    lo, hi = min(vals), max(vals)
    return f"{lo:.1f}x" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}x-{hi:.1f}x"


def block_readme_speed() -> str:
    cp, hp = speed_records("CartPole-v1"), speed_records("Hopper-v5")
    hosts = sorted({_cpu(r["cpu"]) for r in cp + hp})

    def span(rows):
        return f"{rows[0]['date']} to {rows[-1]['date']}" if rows[0]["date"] != rows[-1]["date"] else rows[0]["date"]

    return (f"Side by side with sb3-contrib's TRPO (each pair measured in one command on one machine), "
            f"{_range([r['ratio'] for r in cp])} its env steps per second on CartPole-v1 "
            f"({len(cp)} measurement{'s' * (len(cp) != 1)}, {span(cp)}) and {_range([r['ratio'] for r in hp])} on Hopper-v5 with the "
            f"shipped MuJoCo settings ({len(hp)} measurement{'s' * (len(hp) != 1)}, {span(hp)}); the ranges are over every "
            f"committed measurement of the shipped settings, on {_and(hosts)} "
            f"([docs/benchmarks.md](docs/benchmarks.md#speed-records)).")


def block_benchmarks_speed() -> str:
    lines = ["| env | date | CPU | load at start | env steps | seeds | ours steps/s | peer steps/s | ours / peer | raw record |",
             "|---|---|---|---|---:|---|---:|---:|---:|---|"]
    for env in ("CartPole-v1", "Hopper-v5"):
        for r in speed_records(env):
            load = "-" if not r["load"] else f"{r['load'][0]:.1f}"
            seeds = ", ".join(map(str, r["seeds"])) if isinstance(r["seeds"], list) else str(r["seeds"])
            lines.append(f"| {env} | {r['date']} | {_cpu(r['cpu'])} | {load} | {r['steps']:,} | {seeds} | "
                         f"{r['ours']:,.0f} | {r['peer']:,.0f} | {r['ratio']:.2f}x | "
                         f"[{r['file']}](../{r['link']}) |")
    lines.append("")
    lines.append("Every record of the shipped settings is listed (the settings `trpo train ENV` resolves to "
                 "today: for Hopper-v5 the `mujoco` preset, 2 envs x 1,024 steps on Gymnasium's own envs; "
                 "for CartPole-v1 8 envs on Gymnasium's array-at-once CartPole); records of other settings "
                 "(EnvPool, the old 8 x 128 MuJoCo layout, overrides) are kept in benchmarks/results/ but "
                 "do not count. Medians over each record's seeds and repeats; the load average is the one "
                 "at the record's start (2 cores: above 2 means other work shared the machine).")
    return "\n".join(lines)


MUJOCO_SPEED = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Swimmer-v5", "Ant-v5", "Humanoid-v5",
                "InvertedPendulum-v5", "InvertedDoublePendulum-v5", "Reacher-v5", "Pusher-v5")


def speed_env_rows(env_id: str) -> list[dict]:
    """Harness speed records (records/speed/) of ``env_id`` that measured, in one command, ours
    with the shipped settings in both vector modes (``sync`` and ``split``), the peer and one
    ``gym.make`` env stepped with random actions: medians over each record's repeats."""
    want = shipped(env_id)
    rows = []
    for name, d in suite_records("speed"):
        if not name.startswith(f"{env_id.replace('/', '_')}-") or not plain_trpo_record(d):
            continue
        by = side_runs(d)
        modes: dict[str, list[dict]] = {}
        for side in ("ours", "ours-sync", "ours-split"):  # each ran the mode its settings resolved to
            for x in by.get(side, []):
                modes.setdefault(x["config"]["vector_mode"], []).append(x)
        by_mode = {mode: median_rate(v) for mode, v in modes.items()}  # every run of a mode, pooled
        if not {"sync", "split"} <= set(by_mode) or "sb3-contrib" not in by or "env-only" not in by:
            continue
        if any(by["ours"][0]["config"].get(k) != want[k] for k in ("num_envs", "batch_steps")):
            continue
        f = RECORDS / "speed" / name
        rows.append({"file": f.name, "link": f.relative_to(ROOT).as_posix(), "date": d.get("time", "?")[:10],
                     "commit": short_commit(d["machine"], " (dirty)"), "time": d.get("time", "?"),
                     "cpu": d["machine"].get("cpu", "?"), "load": d["machine"].get("loadavg_at_start"),
                     "sync": by_mode["sync"], "split": by_mode["split"],
                     "peer": median_rate(by["sb3-contrib"]), "env": median_rate(by["env-only"]),
                     "shipped": want["vector_mode"]})
    return rows


def block_benchmarks_speed_envs() -> str:
    lines = ["| env | shipped today | commit | date | CPU | load at start | `sync` | `split` | sb3-contrib | "
             "one env, random actions | `sync` / peer | `split` / peer | `split` / `sync` | `sync` / env | "
             "`split` / env | raw record |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for env in MUJOCO_SPEED:
        for r in speed_env_rows(env):
            load = "-" if not r["load"] else f"{r['load'][0]:.1f}"
            lines.append(f"| {env} | `{r['shipped']}` | {r['commit']} | {r['date']} | {_cpu(r['cpu'])} | {load} | "
                         f"{r['sync']:,.0f} | {r['split']:,.0f} | {r['peer']:,.0f} | {r['env']:,.0f} | "
                         f"{r['sync'] / r['peer']:.2f}x | {r['split'] / r['peer']:.2f}x | {r['split'] / r['sync']:.2f}x | "
                         f"{r['sync'] / r['env']:.2f}x | {r['split'] / r['env']:.2f}x | [{r['file']}](../{r['link']}) |")
    lines.append("")
    lines.append("Env steps per second, medians over each record's repeats (seed 0, 40,960 steps, the settings "
                 "`trpo train ENV` resolves to but for the vector mode, the peer with RL-Zoo's settings and one "
                 "torch thread); every number of a row comes from one command. Made by `benchmarks/harness.py "
                 "speed --env ENV --steps 40960 --only env,ours,ours-split,peer --repeats 2 --peer-threads 1 "
                 "--eval-every 1000000 --eval-episodes 1` (ours: the mode `auto` resolved to at that commit; from "
                 "commit 4e98a04 on also `ours-sync`, where `auto` resolves to `split`).")
    return "\n".join(lines)


def block_benchmarks_speed_targets() -> str:
    """The speed targets against the Hopper-v5 rows of ``speed-envs`` at the newest commit measured
    on each CPU model: every record of that commit there (a range where there are several)."""
    rows = speed_env_rows("Hopper-v5")
    if not rows:
        return "No harness speed record of Hopper-v5 yet."
    # the newest commit of each CPU model: the one first measured last (rows are oldest first, and
    # an interleaved before/after pair may end on the older commit's record)
    first_seen: dict[str, dict[str, int]] = {}
    for i, r in enumerate(rows):
        first_seen.setdefault(_cpu(r["cpu"]), {}).setdefault(r["commit"], i)
    newest = {cpu: max(seen, key=seen.__getitem__) for cpu, seen in first_seen.items()}
    out = ["Targets on Hopper-v5 with the shipped settings: at least 4x sb3-contrib's steps/s and at least 1.0x "
           "one `gym.make` env stepped with random actions. Every record of the newest commit measured on each "
           "CPU model:"]

    def span(xs: list[float]) -> str:
        lo, hi = f"{min(xs):.2f}", f"{max(xs):.2f}"
        return f"{lo}x" if lo == hi else f"{lo}-{hi}x"

    def verdict(ratios: list[float], goal: float) -> str:
        met = sum(x >= goal for x in ratios)
        if len(ratios) == 1:
            return "met" if met else f"missed, {ratios[0] / goal:.0%} of it"
        low = f" (the lowest {min(ratios) / goal:.0%} of it)" if met < len(ratios) else ""
        return f"met in {met} of {len(ratios)}{low}"

    for cpu, commit in newest.items():
        rs = [r for r in rows if _cpu(r["cpu"]) == cpu and r["commit"] == commit]
        best = [max(r["sync"], r["split"]) for r in rs]
        dates = sorted({r["date"] for r in rs})
        what = (" to ".join([dates[0], dates[-1]] if len(dates) > 1 else dates) + f", commit {commit}"
                + (f", {len(rs)} records" if len(rs) > 1 else ""))
        out.append(f"- {cpu} ({what}): `sync` {span([r['sync'] / r['peer'] for r in rs])} and "
                   f"{span([r['sync'] / r['env'] for r in rs])}, `split` {span([r['split'] / r['peer'] for r in rs])} "
                   f"and {span([r['split'] / r['env'] for r in rs])}: the 4x target "
                   f"{verdict([b / r['peer'] for b, r in zip(best, rs)], 4.0)}; the 1.0x target "
                   f"{verdict([b / r['env'] for b, r in zip(best, rs)], 1.0)}.")
    return "\n".join(out)


# 1be42a9: from this commit on each slice of ``split`` runs its whole batch (before: a hand-over per
# step); the history is linear, so a record made after its commit time ran code that contains it
WHOLE_BATCH = ("1be42a9", "2026-12-07 00:59:43")


def block_benchmarks_split_sync() -> str:
    """``split`` against ``sync`` on the envs whose presets keep ``sync``: every speed-envs record made
    since each slice runs its whole batch, by CPU model, and whether the CPU models agree."""
    commit, since = WHOLE_BATCH
    every = {env: [r for r in speed_env_rows(env) if r["time"] >= since] for env in MUJOCO_SPEED}
    cpus = list(dict.fromkeys(_cpu(r["cpu"]) for rs in every.values() for r in rs))
    rows = {env: rs for env, rs in every.items() if shipped(env)["vector_mode"] == "sync"}
    out = [f"`split` / `sync` on the envs whose presets keep `sync`, every record since {commit} (each slice "
           "runs its whole batch), by CPU model:"]
    ahead_everywhere, ahead_where_measured, unmeasured = [], [], []
    for env, rs in rows.items():
        if not rs:
            unmeasured.append(env)
            continue
        by_cpu = {c: [r for r in rs if _cpu(r["cpu"]) == c] for c in cpus}
        said = [f"{c} " + ", ".join(f"{r['split'] / r['sync']:.2f}x ({r['date']}, {r['commit']})" for r in v)
                for c, v in by_cpu.items() if v]
        missing = [c for c, v in by_cpu.items() if not v]
        ahead = [c for c, v in by_cpu.items() if v and all(r["split"] > r["sync"] for r in v)]
        behind = [c for c, v in by_cpu.items() if v and all(r["split"] <= r["sync"] for r in v)]
        mixed = [c for c, v in by_cpu.items() if v and c not in ahead and c not in behind]
        parts = [f"ahead on {_and(ahead)}" if ahead else "", f"behind on {_and(behind)}" if behind else "",
                 f"ahead on some records and behind on others on {_and(mixed)}" if mixed else "",
                 f"no record on {_and(missing)}" if missing else ""]
        out.append(f"- {env}: {'; '.join(said)}: `split` {', '.join(x for x in parts if x)}.")
        if len(ahead) == len(cpus):
            ahead_everywhere.append(env)
        elif ahead and len(ahead) + len(missing) == len(cpus):
            ahead_where_measured.append(f"{env} (no record on {_and(missing)})")
    if unmeasured:
        out.append(f"- {_and(unmeasured)}: no record since {commit}.")
    out.append("")
    out.append((f"`split` is ahead on every CPU model for {_and(ahead_everywhere)}. " if ahead_everywhere else
                "On no env is `split` ahead on every CPU model measured. ")
               + (f"Ahead on every CPU model with a record, but not measured on all: {_and(ahead_where_measured)}. "
                  if ahead_where_measured else "")
               + "The presets keep `sync` until `split` is ahead on every CPU model measured.")
    return "\n".join(out)


# Pure speed-ups measured by interleaved profile pairs: (the commit before, the commit after; "X+":
# commit X with the change uncommitted) and the speed records' commits before and after, if any
CHANGES = {
    "critic-fit": (("5b71c87", "5b71c87+"), ("5b71c87", "f3c4889")),  # FusedAdam.step_with (d78793b)
    "step-into": (("4e52477", "465cc2b"), ("4e52477", "465cc2b")),  # run_slice steps a lean env through step_into (4dd4bcb)
    "mujoco-lean": (("9899970", "162ea6a"), ("9899970", "162ea6a")),  # trpo.envs.mujoco_lean (d7c9e01)
    "loop-cuts": (("162ea6a", "a14f33d"), ("162ea6a", "a14f33d")),  # fewer calls per sampled step (a14f33d)
    "episode-scan": (("a14f33d", "f932f9f"), ("a14f33d", "f932f9f")),  # the episode counters scanned (f932f9f)
}


def _profile_pairs(before: str, after: str) -> list[tuple[dict, dict]]:
    """Interleaved (before, after) profile records of Hopper-v5: each ``after`` paired with the
    ``before`` run just ahead of it."""
    recs = [r for r in profile_records("Hopper-v5*.json") if "_family_" not in r["_file"].name]
    pairs, last = [], None
    for r in recs:
        c = short_commit(r["machine"], "+")
        if c == before:
            last = r
        elif c == after and last is not None:
            pairs.append((last, r))
            last = None
    return pairs


def block_change(name: str) -> str:
    (before, after), speed = CHANGES[name]
    pairs = _profile_pairs(before, after)
    out = []
    if pairs:
        cpu = _and(list(dict.fromkeys(_cpu(b["machine"]["cpu"]) for b, _ in pairs)))
        each = [f"{b['ms_per_iter']:.0f} -> {a['ms_per_iter']:.0f} ms ({a['ms_per_iter'] / b['ms_per_iter'] - 1:+.1%}; "
                f"the trainer's CPU {b['cpu_ms_per_iter']:.0f} -> {a['cpu_ms_per_iter']:.0f} ms)" for b, a in pairs]
        how = f"{before} with the change uncommitted" if after == before + "+" else after
        out.append(f"The profiles, {len(pairs)} interleaved pairs on {cpu} ({before}, then {how}; the table below): "
                   f"the iteration {_and(each)}.")
    rows = [r for r in speed_env_rows("Hopper-v5") if r["commit"] in speed]  # "X (dirty)" is not commit X
    if rows:
        each = [f"{r['commit']} ({_cpu(r['cpu'])}, {r['time'][11:16]}): `split` {r['split'] / r['peer']:.2f}x the peer "
                f"and {r['split'] / r['env']:.2f}x the one-env rate, `sync` {r['sync'] / r['peer']:.2f}x and "
                f"{r['sync'] / r['env']:.2f}x" for r in rows]
        out.append(f"The speed records of Hopper-v5 at {speed[0]} (before) and {speed[1]} (after), in the order made "
                   f"(rows of the table above): {'; '.join(each)}.")
    return "\n".join(out) if out else "No profile pair of this change yet."


def block_benchmarks_step_cost() -> str:
    """What one env step costs, layer by layer (``harness.py stepcost``): the newest record of each
    env on each CPU model, and the ceiling its sampler loop puts on two processes."""
    recs = suite_records("stepcost")
    if not recs:
        return "No step-cost record yet (`python benchmarks/harness.py stepcost --env Hopper-v5`)."
    newest = {(d["env"], _cpu(d["machine"]["cpu"])): (name, d) for name, d in recs}  # sorted by name: time
    out = []
    for (env, cpu), (name, d) in newest.items():
        med = d["median_us"]
        layers = list(med)
        out += [f"{env} on {cpu} ({d['started'][:16]}, commit {short_commit(d['machine'], '+')}, load "
                f"{d['machine']['loadavg_start'][0]:.1f} at the start; medians of {d['repeats']} alternating rounds of "
                f"{d['steps']:,} steps; [record](../benchmarks/records/stepcost/{name})):", "",
                "| layer | us per step | x one env |", "|---|---:|---:|"]
        out += [f"| {k} | {med[k]:.1f} | {med[k] / med['env']:.2f} |" for k in layers]
        loop = med["sampler loop"] / med["env"]
        sim = next((med[k] / med["env"] for k in layers if k.startswith("simulator")), None)
        pol = med.get("policy alone (no env)")
        out += ["", (f"The simulator is {sim:.0%} of one env's step; " if sim else "")
                + (f"the loop's policy work alone (normalise, forward, sample, clip) costs {pol / med['env']:.0%} of "
                   "that step; " if pol else "")
                + f"the sampler's loop costs {loop:.2f}x that step, so two processes each running it (`split`) "
                f"reach at most {2 / loop:.2f}x the one-env rate before the update and the critic fit take their "
                "share of the two cores."
                + (f" With a second process stepping an env on the other core, one env's step costs {two:.2f}x its "
                   "step alone: " + ("the two cores do not slow each other, so the ceiling of two processes is "
                                     "the loop's, not the machine's." if two < 1.1 else
                                     f"the cores slow each other, so two processes reach at most {2 / two:.2f}x "
                                     "even with nothing around the steps.")
                   if (two := med.get("env, a second process stepping beside it", 0) / med["env"]) else ""), ""]
    return "\n".join(out).rstrip()


def block_suite_times() -> str:
    """Each harness suite: how many of its runs have records, and how long a run took (the harness's
    process wall time), by side and CPU model, from the records themselves."""
    import harness

    L = ["| suite | runs with a record | time per run (process wall time), by side and CPU model |",
         "|---|---:|---|"]
    for name, suite in harness.SUITES.items():
        folder = harness.records_dir(name)
        recs = [json.loads(f.read_text()) for r in suite.runs() if (f := folder / f"{r['name']}.json").is_file()]
        by: dict[tuple[str, str], list[float]] = {}
        for d in recs:
            by.setdefault((d["run"]["side"], _cpu(d["machine"]["cpu"])), []).append(d["process_wall_s"] / 60)
        times = "; ".join(f"{side} on {cpu}: " + (f"{min(v):.0f}-{max(v):.0f} min" if len(v) > 1 else f"{v[0]:.0f} min")
                          + f" ({len(v)})" for (side, cpu), v in sorted(by.items())) or "not run yet"
        L.append(f"| `{name}` | {len(recs)} of {len(suite.runs())} | {times} |")
    L += ["", "Times are each run's process wall time as its record gives it (a run that was stopped and resumed: "
          "its last segment's only), the number of runs in brackets. Most runs shared the machine's two cores "
          "with another run or other work, and the hosts' speed differs by up to 2x from hour to hour: read them "
          "as orders of magnitude."]
    return "\n".join(L)


def _startup_tables(named: list) -> list[str]:
    """Each start-up record's table and the line that says how it was made."""
    L = []
    for name, r in named:
        m = r["machine"]
        L += [r["table"], "", f"`{r['command']}`: {r['repeats']} interleaved repeats, medians; {r['started']}, "
              f"{_cpu(m['cpu'])}, load average {m['loadavg_start'][0]:.1f} at the start, run from commit "
              f"{short_commit(m, ' (src/ modified)')}; "
              f"[raw record](../benchmarks/records/startup/{name}).", ""]
    return L


def startup_records(algo: str) -> list:
    """Pong's start-up records (records/startup, ``harness.py startup``) of ``algo``, oldest first
    (records made before ``--algo`` existed are trpo's)."""
    return sorted(((n, r) for n, r in suite_records("startup")
                   if r["env"] == "ALE/Pong-v5" and r.get("algo", "trpo") == algo), key=lambda nr: nr[1]["started"])


def block_benchmarks_startup_ppo() -> str:
    """PPO (atari-ppo) on Pong from a cold start and at the steady rate, commits side by side."""
    named = startup_records("ppo")
    if not named:
        return "No record yet (`python benchmarks/harness.py startup --algo ppo --tree before=8b81e44 --tree after=HEAD`)."
    return "\n".join(_startup_tables(named)).rstrip()


def block_benchmarks_startup() -> str:
    """TRPO on Pong from a cold start against the steady rate, commits side by side: every record's
    table, and the issue's target against the newest one."""
    named = startup_records("trpo")
    if not named:
        return ("No start-up record yet (`python benchmarks/harness.py startup --tree before=7452ef3 "
                "--tree after=HEAD`).")
    L = _startup_tables(named)
    newest = {_cpu(r["machine"]["cpu"]): r for _, r in named}  # the newest record of each CPU model
    verdicts = []
    for cpu, r in newest.items():
        labels = list(r["trees"])
        if "before" not in labels or len(labels) < 2:
            continue
        b, a = r["medians"]["before"], r["medians"][labels[-1]]
        cold = a["cold_steps_per_s"] / b["cold_steps_per_s"]
        verdicts.append(f"- {cpu} ({r['started'][:10]}): cold {cold:.2f}x "
                        f"({'met' if cold >= 3 else f'missed: {cold / 3:.0%} of it'}); start-up {a['startup_s']:.1f} s "
                        f"against {b['startup_s']:.1f} s, of which imports {a['imports_s']:.1f} s; the steady rate "
                        f"{a['steady_steps_per_s']:,.0f} steps/s, {a['steady_steps_per_s'] / b['steady_steps_per_s']:.2f}x "
                        "the commit before.")
    if verdicts:
        L += [f"Against the target (the {named[-1][1]['first']:,}-step run from a cold start at least 3x the commit "
              "before the Atari work, or the start-up shown apart and cut), the newest record on each CPU model:",
              *verdicts]
    return "\n".join(L).rstrip()


def quality_heldout_records() -> list[tuple[Path, dict]]:
    """The time-to-quality records of Hopper-v5 on held-out seeds 100-104 (records/speed), oldest first."""
    recs = dict(suite_records("speed"))
    found = sorted((r.get("time", ""), n) for n, r in recs.items()
                   if r.get("env") == "Hopper-v5" and r.get("pairs")
                   and sorted({x["seed"] for x in r["pairs"]}) == list(HELD_OUT))
    return [(RECORDS / "speed" / n, recs[n]) for _, n in found]


def quality_heldout_record() -> tuple[Path, dict] | None:
    """The newest of ``quality_heldout_records``."""
    found = quality_heldout_records()
    return found[-1] if found else None


def block_quality_heldout() -> str:
    rec = quality_heldout_record()
    return pages_pre_harness.block_quality(*rec) if rec else "Not run yet (the command above)."


def block_quality_heldout_summary() -> str:
    recs = quality_heldout_records()
    if not recs:
        return "Not run yet."
    lines = [pages_pre_harness.block_quality_summary(*recs[-1]), "",
             f"The target (time to {recs[-1][1]['threshold']:,.0f} at most 0.5x the peer's on every seed both "
             "reach), in every record of this command (one host each):"]
    for path, r in recs:
        ratios = pages_pre_harness.time_ratios(r["pairs"])
        worst = max(ratios) if ratios else None
        verdict = ("no seed where both reached it" if worst is None else
                   f"met on {sum(x <= 0.5 for x in ratios)} of the {len(ratios)} seeds both reached it (worst ratio "
                   f"{worst:.2f}: {'met' if worst <= 0.5 else 'missed'})")
        by = pages_pre_harness._by(r)
        rate = pages_pre_harness._med(by["ours"], "steps_per_s") / pages_pre_harness._med(by["sb3-contrib"], "steps_per_s")
        lines.append(f"- {_cpu(r['machine']['cpu'])}, {r.get('time', '?')[:10]}, commit {short_commit(r['machine'])}: "
                     f"{verdict}; throughput {rate:.2f}x the peer's "
                     f"([{path.name}](../{path.relative_to(ROOT).as_posix()}))")
    return "\n".join(lines)


def block_benchmarks_profile() -> str:
    """The profile records of Hopper-v5 (records/profile/, ``harness.py profile``) side by side:
    wall ms per iteration, part by part, one column per record (its commit and vector mode), one
    table per CPU model (milliseconds on two hosts are not comparable)."""
    # the family's cost table (family.md) has its own block
    recs = [r for r in profile_records("Hopper-v5*.json") if "_family_" not in r["_file"].name]
    if not recs:
        return "No profile record yet."
    out = []
    for cpu in dict.fromkeys(_cpu(r["machine"]["cpu"]) for r in recs):  # in the order first measured
        group = [r for r in recs if _cpu(r["machine"]["cpu"]) == cpu]
        out += [f"On {cpu}:", "", _profile_table(group), ""]
    out.append("Made by `benchmarks/harness.py profile "
               f"--env Hopper-v5 --iters {recs[-1]['iters']}` at each commit, in the order shown, with this project's "
               "background runs paused (a commit marked + had uncommitted changes in src/: the next commit's); "
               "in `split` the env step of the trainer's process includes waiting for the "
               "helper's slice before 1be42a9 (the lockstep); from it on each process runs its slice's whole batch "
               "and the wait for the helper is its own row. The parts are the trainer process's timers; the "
               "critic fit runs in its helper.")
    return "\n".join(out)


def _profile_table(recs: list[dict]) -> str:
    parts = sorted({k for r in recs for k in r["parts_ms"]}, key=lambda k: (not k.startswith("sampling"), k))
    head = [f"{short_commit(r['machine'], '+')}, `{r['resolved']['vector_mode']}`" for r in recs]
    lines = ["| wall ms per iteration of 2,048 steps | " + " | ".join(head) + " |",
             "|---|" + "---:|" * len(recs)]
    lines.append("| **the iteration** | " + " | ".join(f"**{r['ms_per_iter']:.0f}**" for r in recs) + " |")
    for k in parts:
        lines.append(f"| {k} | " + " | ".join(f"{r['parts_ms'].get(k, float('nan')):.1f}" for r in recs) + " |")
    lines.append("| steps/s | " + " | ".join(f"{r['steps_per_s']:,.0f}" for r in recs) + " |")
    lines.append("")
    lines.append("Raw: " + ", ".join(f"[{r['_file'].name}](../{r['_file'].relative_to(ROOT).as_posix()}) "
                                     f"({r['started']}, load {r['machine']['loadavg_start'][0]:.1f} at the start)"
                                     for r in recs) + ".")
    return "\n".join(lines)


def block_benchmarks_speed_family() -> str:
    """split against sync for the other algorithms (records/speed/ made with ``--set algo=X``)."""
    parts = []
    for name, d in suite_records("speed"):
        algo = [o.split("=", 1)[1] for o in d.get("overrides") or [] if o.startswith("algo=")]
        by = side_runs(d)
        if algo and "ours-sync" in by and "ours-split" in by and d.get("complete") is not False:
            commit = short_commit(d["machine"])
            parts.append(f"{algo[0]} on {d['env']} {median_rate(by['ours-split']) / median_rate(by['ours-sync']):.2f}x "
                         f"({d.get('time', '?')[:10]}, {commit}: [record](../benchmarks/records/speed/{name}))")
    return ("`split` against `sync`, the other algorithms with their presets, one command each (before "
            "2026-12-07 `split` handed over per step; from 1be42a9 on each slice runs its whole batch): "
            + "; ".join(parts) + "." if parts else "No record yet.")


# ------------------------------------------------------------------------------------------------
def heldout_records() -> dict[tuple[str, str], dict[int, dict]]:
    """(env, side) -> seed -> the record's result, from benchmarks/records/mujoco-heldout."""
    out: dict[tuple[str, str], dict[int, dict]] = {}
    for name, rec in suite_records("mujoco-heldout"):
        run = rec["run"]
        out.setdefault((run["env"], run["side"]), {})[run["seed"]] = {**rec["result"], "_file": name,
                                                                      "_machine": rec["machine"]}
    return out


def block_mujoco_heldout() -> str:
    recs = heldout_records()
    if not recs:
        return "No held-out records yet (`python benchmarks/harness.py run mujoco-heldout`)."
    L = ["| env | side | seeds | final eval per seed (100-104) | mean ± sd | IQM [95% CI] | stochastic mean | best periodic (mean) |",
         "|---|---|---:|---|---:|---:|---:|---:|"]
    complete = []  # envs where both sides have every held-out seed
    for env in MUJOCO5:
        for side, label in (("ours", "trpo (ours, shipped preset)"), ("peer", "sb3-contrib TRPO (RL-Zoo)")):
            runs = recs.get((env, side), {})
            if not runs:
                L.append(f"| {env} | {label} | 0 | not run yet | | | | |")
                continue
            fin = np.array([runs[s]["final_eval_return"] for s in sorted(runs)])
            per = ", ".join(f"{runs[s]['final_eval_return']:,.0f}" for s in sorted(runs))
            sd = f" ± {fin.std(ddof=1):,.0f}" if fin.size > 1 else ""
            if fin.size >= 2:
                (pt, lo, hi), = interval({"x": fin[:, None]}, _iqm).values()
                iqm = f"{pt:,.0f} [{lo:,.0f}, {hi:,.0f}]"
            else:
                iqm = "n = 1"
            sto = [runs[s].get("final_eval_stochastic_return") for s in sorted(runs)]
            sto_s = f"{np.mean(sto):,.0f}" if all(v is not None for v in sto) else "-"
            best = [max((e[2] for e in runs[s]["eval_curve"]), default=math.nan) for s in sorted(runs)]
            L.append(f"| {env} | {label} | {fin.size} | {per} | {fin.mean():,.0f}{sd} | {iqm} | {sto_s} | "
                     f"{np.nanmean(best):,.0f} |")
        if all(len(recs.get((env, s), {})) == len(HELD_OUT) for s in ("ours", "peer")):
            complete.append(env)
    pub = "; ".join(f"{e.split('-')[0]} {v[0]:,} ({v[1]}; {v[2]})" for e, v in published().items())
    L += ["", f"Published, for scale (other env versions and evaluations; not comparable run for run): {pub}."]
    n_ours = {e: len(recs.get((e, "ours"), {})) for e in MUJOCO5}
    envs = [e for e in MUJOCO5 if n_ours[e] == len(HELD_OUT)]
    if envs:
        ours = np.stack([normalised(e, np.array([recs[(e, "ours")][s]["final_eval_return"] for s in HELD_OUT]))
                         for e in envs], axis=1)  # runs x tasks
        scores = {"ours": ours}
        if complete == envs:
            scores["peer"] = np.stack([normalised(e, np.array([recs[(e, "peer")][s]["final_eval_return"]
                                                              for s in HELD_OUT])) for e in envs], axis=1)
        L += ["", f"Across {len(envs)} env(s) with all 5 held-out seeds ({', '.join(envs)}), scores normalised "
                  "by a random policy (0) and the published number (1):", "",
              "| side | IQM [95% CI] | mean [95% CI] |", "|---|---:|---:|"]
        iqm, mean = interval(scores, _iqm), interval(scores, lambda m: float(np.mean(m)))
        for k in scores:
            L.append(f"| {k} | {iqm[k][0]:.2f} [{iqm[k][1]:.2f}, {iqm[k][2]:.2f}] | "
                     f"{mean[k][0]:.2f} [{mean[k][1]:.2f}, {mean[k][2]:.2f}] |")
        if "peer" in scores:
            p, lo, hi = prob_improvement(scores["ours"], scores["peer"])
            L += ["", f"Probability that ours beats the peer on a run of a random task: {p:.2f} [{lo:.2f}, {hi:.2f}]. "
                  "The performance profiles of these runs: [family.md](family.md) (its aggregate, trpo against "
                  "sb3-contrib TRPO)."]
    L += ["", f"Intervals: stratified bootstrap over runs ({BOOT_REPS:,} resamples, rliable; Agarwal et al. 2021). "
              "With 5 runs per env they are wide: read them as such. Protocol of every number above: the final "
              "deterministic evaluation, 10 episodes on env seeds seed + 10,000 + i, after 1M env steps; the "
              "peer's observations through its training VecNormalize statistics. Raw records: "
              "[benchmarks/records/mujoco-heldout/](../../benchmarks/records/mujoco-heldout/)."]
    machines = sorted({(r["_machine"]["cpu"], short_commit(r["_machine"]))
                       for v in recs.values() for r in v.values()})
    L.append("Made on: " + "; ".join(f"{c} at commit {g}" for c, g in machines) + ".")
    return "\n".join(L)


@functools.cache
def tuning_finals(env: str) -> np.ndarray:
    """The final evaluations of seeds 0-4."""
    return np.array([r["final_eval_return_mean"] for r in tuning_runs(env)])


def block_mujoco_heldout_reading() -> str:
    """What the held-out table says against the tuning seeds' and the peer's, env by env: held
    (within 10% of the tuning-seed mean or above), fell; seeds far below the env's best seed (a
    local optimum); final well below the best periodic evaluation (not kept)."""
    recs = heldout_records()
    ours = {e: recs.get((e, "ours"), {}) for e in MUJOCO5}
    if not all(len(ours[e]) == len(HELD_OUT) for e in MUJOCO5):
        return "Reading: when ours has all five held-out seeds on every env."
    held, fell, notes = [], [], []
    for e in MUJOCO5:
        fin = np.array([ours[e][s]["final_eval_return"] for s in HELD_OUT])
        tun = tuning_finals(e)
        name = e.split("-")[0]
        (held if fin.mean() >= HELD_SHARE * tun.mean() else fell).append(
            f"{name} ({fin.mean():,.0f} against {tun.mean():,.0f})")
        stuck = [s for s in HELD_OUT if ours[e][s]["final_eval_return"] < 0.5 * fin.max()]
        if stuck:
            at = ", ".join(f"{ours[e][s]['final_eval_return']:,.0f}" for s in stuck)
            verb = "ends" if len(stuck) == 1 else "end"
            notes.append(f"{name}: {len(stuck)} of 5 seeds ({', '.join(map(str, stuck))}) {verb} below half of the best "
                         f"seed's {fin.max():,.0f} (at {at}), as {int((tun < 0.5 * tun.max()).sum())} of 5 tuning "
                         "seeds did")
        best = np.array([max(x[2] for x in ours[e][s]["eval_curve"]) for s in HELD_OUT])
        if fin.mean() < 0.8 * best.mean():
            notes.append(f"{name} does not keep what it learned: mean best periodic evaluation {best.mean():,.0f}, "
                         f"mean final {fin.mean():,.0f} (`checkpoints/best` keeps the best policy)")
    peer_n = {e: len(recs.get((e, "peer"), {})) for e in MUJOCO5}
    vs = []
    for e in MUJOCO5:
        if peer_n[e]:
            seeds = sorted(recs[(e, "peer")])
            o = np.mean([ours[e][s]["final_eval_return"] for s in seeds])
            q = np.mean([recs[(e, "peer")][s]["final_eval_return"] for s in seeds])
            vs.append(f"{e.split('-')[0]} {o:,.0f} against {q:,.0f} (seeds {', '.join(map(str, seeds))})")
    L = ["Reading (generated: \"held\" is a held-out mean at least 90% of the tuning seeds' mean): on held-out "
         "seeds the presets hold on " + (", ".join(held) or "no env") + "; they fall on "
         + (", ".join(fell) or "no env") + ", held-out against tuning-seed means."]
    if notes:
        L.append(" ".join(f"{n}." for n in notes))
    if fell:
        L.append("The tuning-seed table above overstated " + " and ".join(x.split(" (")[0] for x in fell)
                 + ": a table on the seeds the settings were chosen on is not a result to cite.")
    if vs:
        L.append("Ours against the peer on the seeds both have so far: " + "; ".join(vs)
                 + (" (the peer's other seeds are still to run)." if min(peer_n.values()) < len(HELD_OUT) else "."))
    return "\n".join(L)


def block_mujoco_tuning() -> str:
    """The seeds-0-4 table of mujoco.md (the seeds the presets were chosen on) and its verdicts, from
    the run directories docs/results/mujoco/summarise.py copied to records/pre-harness/mujoco/raw."""
    pub = published()
    lines = ["| env | ours: mean ± std (final eval, 1M steps) | seeds | per seed | best published TRPO | verdict | "
             "wall time per run (s) |", "|---|---:|---:|---|---:|---|---:|"]
    sentences = []
    for env in MUJOCO5:
        runs = tuning_runs(env)
        finals = tuning_finals(env)
        mean, std = finals.mean(), finals.std(ddof=1)
        gap = mean - pub[env][0]
        verdict = "at or above" if gap >= 0 else f"below by {-gap:,.0f} ({-gap / pub[env][0]:.0%})"
        lines.append(f"| {env} | **{mean:,.0f} ± {std:,.0f}** | {len(finals)} | {', '.join(f'{v:,.0f}' for v in finals)} "
                     f"| {pub[env][0]:,} ({pub[env][1]}; {pub[env][2]}) | {verdict} | "
                     f"{np.mean([r['wall_s'] for r in runs]):,.0f} |")
        sentences.append(f"* **{env}**: {mean:,.0f} ± {std:,.0f} over {len(finals)} seeds against {pub[env][0]:,} "
                         f"({pub[env][2]}): {verdict}.")
    return "\n".join(lines + ["", "Verdicts, env by env (the goal: the mean over 5 seeds at least the best "
                                   "published TRPO):", ""] + sentences)


def block_readme_heldout() -> str:
    recs = heldout_records()
    envs = [e for e in MUJOCO5 if len(recs.get((e, "ours"), {})) == len(HELD_OUT)]
    if not envs:
        return ("The MuJoCo table on held-out seeds 100-104 is being made (docs/results/mujoco.md, "
                "\"Held-out seeds\"); the numbers above were measured on the seeds the presets were chosen on.")
    parts = []
    for e in envs:
        fin = np.array([recs[(e, "ours")][s]["final_eval_return"] for s in HELD_OUT])
        peer = recs.get((e, "peer"), {})
        txt = f"{e.split('-')[0]} {fin.mean():,.0f} (published {published()[e][0]:,})"
        if len(peer) == len(HELD_OUT):
            txt = txt[:-1] + f"; sb3-contrib run here {np.mean([peer[s]['final_eval_return'] for s in HELD_OUT]):,.0f})"
        parts.append(txt)
    return ("On held-out seeds 100-104 (no setting was chosen on them), 1M steps, the final deterministic "
            f"evaluation, mean of 5 seeds: {'; '.join(parts)} (docs/results/mujoco.md, \"Held-out seeds\", "
            "with IQM and confidence intervals).")


def block_ppo_capg() -> str:
    """Hopper-v5 PPO 1M: the Gaussian density of the unclipped sample against the clipped-action
    log-probability (records/ppo-capg/)."""
    L = ["| seed | log-probability | best periodic (deterministic) | final deterministic (10 ep) | "
         "final stochastic (10 ep) | periodic evaluations, 700k-1M | raw record |",
         "|---:|---|---:|---:|---:|---|---|"]
    for f in sorted((RECORDS / "ppo-capg").glob("*.json"), key=lambda p: (p.stem[-1], p.stem)):
        r = json.loads(f.read_text())
        late = [f"{y:,.0f}" for x, y in r["eval_curve"] if x >= 700_000]
        kind = "clipped-action (CAPG)" if r["run"]["clipped_action_logprob"] else "Gaussian density"
        L.append(f"| {r['run']['seed']} | {kind} | {max(y for _, y in r['eval_curve']):,.0f} | "
                 f"**{r['final_eval']['deterministic_mean']:,.1f}** | {r['final_eval']['stochastic_mean']:,.1f} | "
                 f"{', '.join(late)} | [{f.name}](../../benchmarks/records/ppo-capg/{f.name}) |")
    return "\n".join(L)


def block_ppo_heldout() -> str:
    """The mujoco-ppo preset on held-out seeds (records/ppo-hopper-heldout/, the harness)."""
    recs = sorted((RECORDS / "ppo-hopper-heldout").glob("*.json"))
    if not recs:
        return "Not run yet (`python benchmarks/harness.py run ppo-hopper-heldout -j 2`)."
    L = ["| seed | best periodic (deterministic) | final deterministic (10 ep) | final stochastic (10 ep) | "
         "periodic evaluations, 700k-1M | raw record |", "|---:|---:|---:|---:|---|---|"]
    for f in recs:
        r = json.loads(f.read_text())
        res = r["result"]
        late = [f"{e[2]:,.0f}" for e in res["eval_curve"] if e[0] >= 700_000]
        L.append(f"| {r['run']['seed']} | {res['best_eval_return']:,.0f} | **{res['final_eval_return']:,.1f}** | "
                 f"{res['final_eval_stochastic_return']:,.1f} | {', '.join(late)} | "
                 f"[{f.name}](../../benchmarks/records/ppo-hopper-heldout/{f.name}) |")
    commits = sorted({short_commit(json.loads(f.read_text())["machine"]) for f in recs})
    L.append("")
    L.append(f"Made with the harness at commit {', '.join(commits)}; periodic evaluations every 50,000 steps, "
             "10 episodes each (the table above used the trainer's default, 5 episodes about every 50k steps).")
    return "\n".join(L)


# the rows of the Pong pages: (label, algo, preset, shared trunk, the suite whose records hold it)
PONG_ROWS = (("trpo", "trpo", "atari", False, "pong-heldout"),
             ("ppo, two CNNs", "ppo", "atari-ppo", False, "pong-heldout"),
             ("ppo, shared trunk", "ppo", "atari-ppo", True, "pong-ppo-shared"))


def pong_heldout_records() -> dict[str, tuple[Path, dict]]:
    """The Pong suites' records (seed 100), by row label (PONG_ROWS): pong-heldout's (trpo, and ppo
    with the separate actor and critic CNNs atari-ppo had then) and pong-ppo-shared's."""
    read = {suite: [(f, json.loads(f.read_text())) for f in sorted((RECORDS / suite).glob("*.json"))]
            for suite in dict.fromkeys(row[4] for row in PONG_ROWS)}  # each suite's records once
    out = {}
    for label, algo, _, shared, suite in PONG_ROWS:
        for f, r in read[suite]:
            if r["run"]["algo"] == algo and bool(r["result"]["config"].get("shared_trunk", False)) == shared:
                out[label] = (f, r)
    return out


def _record_link(folder: str, name: str) -> str:
    """A page's Markdown link to benchmarks/records/FOLDER/NAME (pages live in docs/results/)."""
    return f"[{name}](../../benchmarks/records/{folder}/{name})"


PONG_TRAIN_WINDOW = 100_000  # env steps: the training return's mean over a window of steps, not of batches
# (TRPO's batches are 4,096 steps, PPO's 1,024)


def _train_returns(curve: list) -> tuple[np.ndarray, np.ndarray]:
    """(env steps, training return) of the batches in which an episode ended."""
    c = np.array([(e[0], np.nan if e[2] is None else e[2]) for e in curve], dtype=float).reshape(-1, 2)
    c = c[np.isfinite(c[:, 1])]
    return c[:, 0], c[:, 1]


def _window_mean(steps: np.ndarray, ret: np.ndarray, end: float, width: int = PONG_TRAIN_WINDOW) -> float:
    """The mean training return of the batches in (end - width, end]; NaN where none ended an episode."""
    sel = (steps > end - width) & (steps <= end)
    return float(ret[sel].mean()) if sel.any() else float("nan")


def _pong_table(rows: list[tuple[str, str, str, tuple[Path, dict] | None]], per: int, fin: int) -> list[str]:
    """The held-out Pong table: one row per (label, preset, suite, record or None), then the periodic
    deterministic evaluations of the rows with a record, by env steps."""
    w = PONG_TRAIN_WINDOW
    L = [f"| algo (preset) | env steps | training wall time | steps/s | best periodic (deterministic, {per} ep) | "
         f"final deterministic ({fin} ep) | final stochastic ({fin} ep) | training return, mean over the last "
         f"{w:,} env steps | raw record |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for label, preset, suite, rec in rows:
        if rec is None:
            L.append(f"| {label} ({preset}) | no record yet (`python benchmarks/harness.py run {suite}`) | | | | | | | |")
            continue
        f, r = rec
        res = r["result"]
        steps, ret = _train_returns(res["train_curve"])
        L.append(f"| {label} ({res['summary'].get('preset') or preset}) | {res['steps']:,} | "
                 f"{res['wall_s'] / 60:,.0f} min | {res['steps_per_s']:,.0f} | {res['best_eval_return']:.1f} | "
                 f"**{res['final_eval_return']:.1f}** ± {res['final_eval_std']:.1f} | "
                 f"{res['final_eval_stochastic_return']:.1f} ± {res['final_eval_stochastic_std']:.1f} | "
                 f"{_window_mean(steps, ret, res['steps']):.1f} | {_record_link(f.parent.name, f.name)} |")
    have = [(label, rec) for label, _, _, rec in rows if rec is not None]
    if not have:
        return L
    proto = have[0][1][1]["protocol"]
    L += ["", f"Periodic deterministic evaluations ({per} episodes each, env seeds {proto['periodic']['env_seeds']}):",
          "", "| env steps | " + " | ".join(a for a, _ in have) + " |", "|---:|" + "---:|" * len(have)]
    curves = {a: {round(e[0], -4): e[2] for e in rec[1]["result"]["eval_curve"]} for a, rec in have}
    for step in sorted(set().union(*curves.values())):
        L.append(f"| {step:,.0f} | " + " | ".join(f"{curves[a][step]:.1f}" if step in curves[a] else "-"
                                                   for a, _ in have) + " |")
    return L


def _pong_made_with(have: list[tuple[str, tuple[Path, dict]]]) -> str:
    machines = [f"{a} on {_cpu(rec[1]['machine']['cpu'])} at commit {short_commit(rec[1]['machine'], ' (dirty)')}"
                for a, rec in have]
    suites = _and([f"`python benchmarks/harness.py run {x}`" for x in dict.fromkeys(rec[0].parent.name
                                                                                    for _, rec in have)])
    return (f"Made with {suites} ({_and(machines)}; each run beside another "
            "run on the machine's 2 cores, so the steps/s are under that load: docs/benchmarks.md has the speed).")


def block_pong_heldout() -> str:
    """TRPO and PPO on Pong through the harness (records/pong-heldout/): periodic deterministic
    evaluations, the final evaluations both ways, the training return beside the seed-0 run's."""
    recs = pong_heldout_records()
    if not recs:
        return "Not run yet (`python benchmarks/harness.py run pong-heldout`)."
    w = PONG_TRAIN_WINDOW
    proto = next(iter(recs.values()))[1]["protocol"]
    per, fin = proto["periodic"]["episodes"], proto["final"]["episodes"]
    L = _pong_table([(label, preset, suite, recs.get(label)) for label, _, preset, _, suite in PONG_ROWS], per, fin)
    have = [row[0] for row in PONG_ROWS if row[0] in recs]
    old = pages_pre_harness._pong()
    old_steps, old_ret = old["env_steps"], old["episode_return_mean"]
    ok = np.isfinite(old_ret)
    L.append("")
    reads = []
    for a in have:
        steps, ret = _train_returns(recs[a][1]["result"]["train_curve"])
        reads.append(f"{a} {_window_mean(steps, ret, 1_000_000):.1f}")
    L.append(f"The training return, mean over the batches from {1_000_000 - w:,} to 1,000,000 env steps: "
             f"{_and(reads)}; the seed-0 run below (trpo, the atari preset, a tuning seed, no periodic evaluations) "
             f"{_window_mean(old_steps[ok], old_ret[ok], 1_000_000):.1f}. Training returns are the sampling "
             "policy's, evaluations the mean action's (argmax): the two measure different policies.")
    L += ["", _pong_made_with([(a, recs[a]) for a in have])]
    L += ["", "![Pong, seed 100: deterministic evaluations and training returns](pong/heldout.png)"]
    return "\n".join(L)


# seed 101 (pong-heldout-101): (label, algo, preset)
PONG_101_ROWS = (("ppo, shared trunk", "ppo", "atari-ppo"), ("trpo", "trpo", "atari"))


def block_pong_heldout_101() -> str:
    """PPO (the shared trunk) and TRPO on Pong, seed 101 (records/pong-heldout-101/): held out for
    the shared trunk too; the table and periodic evaluations as for seed 100."""
    read = [(f, json.loads(f.read_text())) for f in sorted((RECORDS / "pong-heldout-101").glob("*.json"))]
    by_algo = {r["run"]["algo"]: (f, r) for f, r in read if r["run"]["seed"] == 101}
    rows = [(label, preset, "pong-heldout-101", by_algo.get(algo)) for label, algo, preset in PONG_101_ROWS]
    import harness

    per, fin = harness.SUITES["pong-heldout-101"].eval_episodes, harness.FINAL_EPISODES  # a record's own below
    if by_algo:
        proto = next(iter(by_algo.values()))[1]["protocol"]
        per, fin = proto["periodic"]["episodes"], proto["final"]["episodes"]
    L = _pong_table(rows, per, fin)
    have = [(label, rec) for label, _, _, rec in rows if rec is not None]
    if have:
        L += ["", _pong_made_with(have)]
    return "\n".join(L)


PONG_DEAD = RECORDS / "pong-ppo-small-cnn"


def block_pong_dead_units() -> str:
    """PPO with the small CNN on Pong: the actor's units fell silent (records/pong-ppo-small-cnn/)."""
    def link(name: str) -> str:
        return _record_link(PONG_DEAD.name, name)

    units = {f.stem: json.loads(f.read_text()) for f in PONG_DEAD.glob("*.json") if f.name != "runs.json"}
    small, nature = (metrics_columns(PONG_DEAD / "ppo_small_cnn_metrics.csv"),
                     metrics_columns(PONG_DEAD / "ppo_nature_metrics.csv"))
    # the first iteration from which the KL per update stays below 1e-4 to the end
    low = small["kl"] < 1e-4
    first = int(small["iteration"][max(i for i in range(len(low)) if not low[i]) + 1])
    tail = small["iteration"] >= first
    ent_min = int(np.argmin(small["entropy"]))
    frames = sorted({u["frames"] for u in units.values()})
    L = [f"| network | checkpoint | units of the actor's last layer firing on any of {_and([f'{n:,}' for n in frames])} "
         "frames | raw record |",
         "|---|---|---:|---|"]
    for n, net, when in (("ppo_small_cnn_fresh", "small (`trpo`)", "fresh (its config, seeded)"),
                         ("ppo_small_cnn_ckpt90", "small (`trpo`)", "PPO, iteration 90"),
                         ("ppo_small_cnn_ckpt102", "small (`trpo`)", "PPO, iteration 102"),
                         ("trpo_small_cnn", "small (`trpo`)", "TRPO (`atari`), iteration 50"),
                         ("trpo_small_cnn_final", "small (`trpo`)", "TRPO (`atari`), the run's last checkpoint"),
                         ("ppo_nature_fresh", "Nature", "fresh (its config, seeded)"),
                         ("ppo_nature_ckpt30", "Nature", "PPO, iteration 30"),
                         ("ppo_nature_heldout_ckpt610", "Nature", "PPO (`pong-heldout`), iteration 610"),
                         ("ppo_shared_heldout_ckpt60", "Nature, shared trunk", "PPO (`pong-ppo-shared`), iteration 60"),
                         ("ppo_shared_heldout_ckpt300", "Nature, shared trunk", "PPO (`pong-ppo-shared`), iteration 300")):
        if n not in units:
            continue
        u = units[n]
        L.append(f"| {net} | {when} | {u['units_firing_on_any_frame']} of {u['units']} | {link(n + '.json')} |")
    adam = units["ppo_small_cnn_ckpt102"]["actor_adam"]
    silent = [a for a in adam if a["max_abs_exp_avg"] < 1e-30]
    moving = _and([f"`{a['param']}`" for a in adam if a not in silent])
    L += ["", f"With the small network the KL per update fell below 1e-4 from iteration {first} and stayed there to "
          f"iteration {int(small['iteration'][-1])} (median {np.median(small['kl'][tail]):.1e}); the entropy, down to "
          f"{small['entropy'][ent_min]:.3f} at iteration {int(small['iteration'][ent_min])}, went back to "
          f"{small['entropy'][-1]:.4f} (ln 6 = {np.log(6):.4f}: uniform), the entropy bonus's pull with nothing "
          f"against it. At iteration {int(small['iteration'][-1])} Adam's first moment is below 1e-30 on {len(silent)} of the actor's "
          f"{len(adam)} tensors (all but {moving}: no gradient reaches the rest). With the Nature network, "
          f"over its {int(nature['iteration'][-1])} iterations the KL per update stayed at a median "
          f"{np.median(nature['kl']):.1e} and the entropy fell to {np.nanmin(nature['entropy']):.3f} "
          f"({link('ppo_small_cnn_metrics.csv')}, {link('ppo_nature_metrics.csv')}; how each was made: "
          f"{link('runs.json')}; `python benchmarks/diag_dead_units.py CHECKPOINT`)."]
    return "\n".join(L)


PONG_UNITS = RECORDS / "pong-ppo-units"
# the variants of the seed-0 experiment: (file prefix, what changed from atari-ppo with two CNNs)
PONG_UNIT_VARIANTS = (("base", "none (atari-ppo with two CNNs)"), ("noent", "`entropy_coef = 0`"),
                      ("noclip", "`max_grad_norm = 0` (no gradient clip)"),
                      ("shared", "`shared_trunk = true` (atari-ppo now: one trunk)"))


def block_pong_units() -> str:
    """Which setting silences PPO's actor units on Pong (seed 0, records/pong-ppo-units/): units
    firing at checkpoints 20, 40, 60 of each variant, beside the fresh network's count."""
    def link(name: str) -> str:
        return _record_link(PONG_UNITS.name, name)

    recs = {f.stem: json.loads(f.read_text()) for f in PONG_UNITS.glob("*_0000*.json")}
    fresh = json.loads((PONG_UNITS / "base_fresh.json").read_text())
    its = sorted({int(k.rsplit("_", 1)[1]) for k in recs})
    L = ["| what differs | " + " | ".join(f"units firing, update {i}" for i in its) + " | KL per update (median) | "
         "entropy at the last update | raw records |", "|---|" + "---:|" * (len(its) + 2) + "---|"]
    for name, what in PONG_UNIT_VARIANTS:
        at = {i: recs[f"{name}_{i:06d}"] for i in its if f"{name}_{i:06d}" in recs}  # update -> its record
        have = list(at)
        if not have:
            continue
        m = metrics_columns(PONG_UNITS / f"{name}_metrics.csv")
        m_it = m["iteration"] <= max(have)
        cells = [f"{at[i]['units_firing_on_any_frame']} of {at[i]['units']}" if i in at else "-" for i in its]
        L.append(f"| {what} | " + " | ".join(cells) + f" | {np.median(m['kl'][m_it]):.1e} | "
                 f"{m['entropy'][m_it][-1]:.3f} | " + ", ".join(link(f"{name}_{i:06d}.json") for i in have)
                 + f", {link(name + '_metrics.csv')} |")
    frames = _and(sorted({f"{r['frames']:,}" for r in recs.values()}))
    L += ["", f"Units of the actor's last layer (512, the Nature CNN) firing on any of {frames} frames; the fresh "
          f"network of the same config and seed has {fresh['units_firing_on_any_frame']} of {fresh['units']} "
          f"({link('base_fresh.json')}). Seed 0, a tuning "
          f"seed; each run stopped by hand after update {max(its)} of its 1M-step schedule. How they were made: "
          f"{link('runs.json')}."]
    return "\n".join(L)


def block_readme_pong() -> str:
    """The README's Pong sentence: each algorithm's final evaluations in pong-heldout."""
    recs = pong_heldout_records()
    if not recs:
        m = pages_pre_harness._pong()
        _, smooth, at = pages_pre_harness._pong_smooth(m)
        ret = m["episode_return_mean"]
        first = float(ret[np.isfinite(ret)][:pages_pre_harness.PONG_WINDOW].mean())
        return (f"TRPO learns (the training return from {first:.1f} to a best running mean of {smooth.max():.1f} in "
                f"{m['env_steps'][-1] / 1e6:.0f}M steps, seed 0, no periodic evaluations).")
    parts = []
    for label, _, preset, _, _ in PONG_ROWS:
        if label not in recs:
            parts.append(f"{label}: no record yet")
            continue
        res = recs[label][1]["result"]
        parts.append(f"{label} (`{res['summary'].get('preset') or preset}`) {res['final_eval_return']:.1f} with the mean "
                     f"action and {res['final_eval_stochastic_return']:.1f} sampling (best periodic "
                     f"{res['best_eval_return']:.1f})")
    steps = max(r["result"]["steps"] for _, r in recs.values())
    fin = next(iter(recs.values()))[1]["protocol"]["final"]["episodes"]
    return (f"after {steps / 1e6:.1f}M env steps on seed 100, the final evaluations ({fin} episodes; -21 loses every "
            f"point) are {_and(parts)}.")


def pong_figure() -> list[str]:
    """docs/results/pong/heldout.png: the periodic evaluations and training returns of pong-heldout."""
    recs = pong_heldout_records()
    if not recs:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = PONG_TRAIN_WINDOW
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 3.4))
    per = None
    for label, _, preset, _, _ in PONG_ROWS:
        if label not in recs:
            continue
        r = recs[label][1]
        res, per = r["result"], r["protocol"]["periodic"]["episodes"]
        ev = np.array(res["eval_curve"], dtype=float)
        a0.plot(ev[:, 0], ev[:, 2], marker="o", label=f"{label} ({preset})")
        steps, ret = _train_returns(res["train_curve"])
        at = steps[steps >= w]
        a1.plot(at, [_window_mean(steps, ret, x) for x in at], label=f"{label} ({preset})")
    a0.set_title(f"ALE/Pong-v5, seed 100: deterministic evaluations ({per} ep)")
    a1.set_title(f"training return, mean over the last {w:,} env steps")
    for ax in (a0, a1):
        ax.set_xlabel("env steps")
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = ROOT / "docs" / "results" / "pong" / "heldout.png"
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return ["docs/results/pong/heldout.png"]


RECURRENT_KEEP = (("recurrent-keep", "default (seeds 0-4)"), ("recurrent-keep-ent", "entropy_coef = 0.01 (seeds 0-4)"),
                  ("recurrent-keep-heldout", "the preset, entropy_coef = 0.01 (held-out seeds 100-104)"))


def recurrent_kept(suite: str) -> tuple[int, int]:
    """(seeds that keep what they learned by the family issue's rule, records) of one recurrent suite."""
    recs = [r["result"] for _, r in suite_records(suite)]
    return sum(pages_family.keeps(r["final_eval_return"], r["best_eval_return"]) for r in recs), len(recs)


def block_recurrent_keep() -> str:
    """Recurrent TRPO keeps what it learned? (records/recurrent-keep[-ent]/: seeds 0-4, 300k steps,
    default settings against an entropy bonus of 0.01; the family issue's 90% check)."""
    L = ["| settings | seed | best periodic (deterministic, 10 ep) | final deterministic (10 ep) | final / best | "
         "raw record |", "|---|---:|---:|---:|---:|---|"]
    for suite, label in RECURRENT_KEEP:
        for name, r in suite_records(suite):
            best, final = r["result"]["best_eval_return"], r["result"]["final_eval_return"]
            L.append(f"| {label} | {r['run']['seed']} | {best:,.1f} | {final:,.1f} | {final / best:.2f}"
                     f"{'' if pages_family.keeps(final, best) else ' (misses 0.9)'} | "
                     f"[{name}](../../benchmarks/records/{suite}/{name}) |")
    counts = {label: recurrent_kept(suite) for suite, label in RECURRENT_KEEP if suite_records(suite)}
    if not counts:
        return ("Not run yet (`python benchmarks/harness.py run recurrent-keep -j 1` and "
                "`... run recurrent-keep-ent -j 1`).")
    if not suite_records("recurrent-keep-heldout"):
        L.append("| the preset, entropy_coef = 0.01 (held-out seeds 100-104) | - | not run yet | | | |")
    L.append("")
    L.append("Final at least 90% of the best periodic evaluation: " + "; ".join(
        f"{label}: {k} of {n} seeds" for label, (k, n) in counts.items()) + " (5 seeds each when complete).")
    return "\n".join(L)


MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")


def block_minatar_heldout(algo: str = "trpo") -> str:
    """``algo`` with its shipped MinAtar preset (trpo: minatar, suite minatar-heldout; ppo:
    minatar-ppo, suite minatar-ppo-heldout) at 300k steps on held-out seeds 100-102, beside the
    same settings' runs on seeds 0-2 (for trpo the seeds its CG damping was chosen on; both:
    records/pre-harness/minatar/raw/, the algorithm's rows)."""
    suite = "minatar-heldout" if algo == "trpo" else f"minatar-{algo}-heldout"
    recs = {(r["run"]["env"], r["run"]["seed"]): (n, r) for n, r in suite_records(suite)}
    if not recs:
        return f"Not run yet (`python benchmarks/harness.py run {suite} -j 1`)."
    raw = RECORDS / "pre-harness" / "minatar" / "raw"
    L = ["| game | held-out seeds run | final eval per seed (100-102) | mean ± sd | stochastic mean | best periodic "
         "(mean) | seeds 0-2 (tuning): mean final eval | raw records |", "|---|---:|---|---:|---:|---:|---:|---|"]

    def tuning_mean(game: str, arm: str) -> float:  # the 300k table's mean final eval, seeds 0-2
        return float(np.mean([json.loads((raw / f"{game}_{arm}_s{s}" / "summary.json").read_text())
                              ["final_eval_return_mean"] for s in (0, 1, 2)]))

    held, below, damp, unrated = [], [], [], []
    for g in MINATAR_GAMES:
        env = f"MinAtar/{g}-v1"
        have = [recs[(env, s)] for s in (100, 101, 102) if (env, s) in recs]
        tuning = tuning_mean(g, algo)
        if not have:
            L.append(f"| {g} | 0 | not run yet | | | | {tuning:.1f} | |")
            continue
        final = np.array([r["result"]["final_eval_return"] for _, r in have])
        stoch = [r["result"].get("final_eval_stochastic_return") for _, r in have]
        best = np.array([r["result"]["best_eval_return"] for _, r in have])
        links = ", ".join(f"[s{r['run']['seed']}](../../benchmarks/records/{suite}/{n})" for n, r in have)
        sd = f" ± {final.std(ddof=1):.1f}" if len(final) > 1 else ""
        L.append(f"| {g} | {len(have)} | {', '.join(f'{x:.1f}' for x in final)} | **{final.mean():.1f}**{sd} | "
                 f"{np.mean([x for x in stoch if x is not None]):.1f} | {best.mean():.1f} | {tuning:.1f} | "
                 f"{links} |")
        if len(have) == 3 and tuning <= 0:  # a share of a non-positive mean says nothing
            unrated.append(g)
        elif len(have) == 3:  # the reading takes games with every held-out seed
            share = final.mean() / tuning
            (held if share >= HELD_SHARE else below).append(f"{g} ({share:.0%})")
            if algo == "trpo":
                damp.append(f"{g} {tuning_mean(g, 'trpo-damping0.1'):.1f} -> {tuning:.1f} on seeds 0-2, "
                            f"{final.mean():.1f} held-out")
    if held or below or unrated:
        L += ["", "Reading (generated; \"held\" is a held-out mean at least 90% of the tuning seeds' mean, as for "
              "MuJoCo): " + "; ".join(x for x in (f"held on {_and(held)}" if held else "",
                                                 f"below on {_and(below)}" if below else "",
                                                 f"not rated on {_and(unrated)} (a tuning mean of 0 or less)"
                                                 if unrated else "") if x) + "."]
        if damp:
            L[-1] += (" The CG damping was chosen on seeds 0-2 against 0.1 (the `trpo-damping0.1` rows of the 300k "
                      "table): 0.1's mean there, the shipped 0.001's there, and the shipped one's held-out mean: "
                      + "; ".join(damp) + ".")
    machines = sorted({(_cpu(r["machine"]["cpu"]), short_commit(r["machine"]))
                       for _, r in recs.values()})
    L += ["", "Protocol: the final deterministic evaluation, 10 episodes on env seeds seed + 10,000 + i, after "
          "300k env steps (the table above's); the stochastic mean is the same episodes sampling the policy. "
          f"The tuning-seed column is the {algo} rows of the 300k table above (the preset's settings, seeds 0-2). "
          "Made on " + "; ".join(f"{c} at commit {g}" for c, g in machines) + " by `python benchmarks/harness.py "
          f"run {suite} -j 1 --shared` (one run at a time beside this project's other runs)."]
    return "\n".join(L)


ISSUE_GRU_FINAL = 298.6  # the family issue's measured final evaluation of this run (its text, not a record)


def block_recurrent_kl() -> str:
    """Why recurrent TRPO (GRU, default settings, seed 0) did not keep what it learned: the KL the
    trust region bounds (16-step chunks) against the KL over whole episodes, the entropy, the
    per-state KL (records/recurrent-kl/, benchmarks/diag_recurrent_kl.py); then the remedy's
    5-seed check (records/recurrent-keep and recurrent-keep-ent)."""
    d = RECORDS / "recurrent-kl"
    rows = [json.loads(line) for line in (d / "CartPoleNoVelocity_gru_s0.jsonl").read_text().splitlines() if line]
    meta = json.loads((d / "CartPoleNoVelocity_gru_s0.meta.json").read_text())
    late = [r for r in rows if r["steps"] > 150_000]
    kl_full, kl_chunk = np.mean([r["kl_full"] for r in late]), np.mean([r["kl_chunk"] for r in late])
    ent = [r["entropy"] for r in late]
    kmax = np.array([r["kl_full_max"] for r in late])
    q1, med, q3 = np.percentile(kmax, [25, 50, 75])
    dips = [r for r in late if r["det_ret"] < 500]
    final = meta["run_summary"]["final_eval_return_mean"]
    hide = ("so the chunks do not hide a larger change" if kl_full <= kl_chunk else
            f"so the whole episode moves {kl_full / kl_chunk:.2f}x what the chunks show")
    L = [f"Measured on seed 0 with the default settings (every 5th iteration, on one deterministic episode; "
         f"`benchmarks/diag_recurrent_kl.py`, raw record "
         f"[recurrent-kl/](../../benchmarks/records/recurrent-kl/CartPoleNoVelocity_gru_s0.jsonl) with its "
         f"[command and commit](../../benchmarks/records/recurrent-kl/CartPoleNoVelocity_gru_s0.meta.json), "
         f"{meta['date']}, {meta['cpu'].split(',')[0]}): over the {len(late)} measured updates after 150k steps the "
         f"whole-episode KL averages {kl_full:.4f} and the chunked KL {kl_chunk:.4f}, {hide}. What moves the policy "
         f"is the constraint's own shape: the entropy falls to {min(ent):.3f}-{max(ent):.3f} nats (two actions: the "
         f"policy is nearly deterministic), and a mean KL of 0.01 then allows single states a KL of "
         f"{med:.2f} at the median update (the largest per-state KL of the episode; quartiles "
         f"{q1:.2f}-{q3:.2f}, once {kmax.max():.1f}): a few states flip their action."]
    if dips:
        full = sum(r["train_ret"] >= 500 for r in late)
        L[0] += (f" With most training episodes at 500 steps (the batch's mean training return is 500 in {full} of "
                 f"the {len(late)} measurements) the advantages carry little signal about which flips are bad, so "
                 f"the deterministic episode's dips ({min(r['det_ret'] for r in dips):.0f}-"
                 f"{max(r['det_ret'] for r in dips):.0f} in {len(dips)} of the {len(late)} measurements, between "
                 f"{dips[0]['steps'] / 1000:.0f}k and {dips[-1]['steps'] / 1000:.0f}k steps) come and go")
    L[0] += (f"; the run's final evaluation is {final:.1f}"
             + (", the issue's number exactly." if final == ISSUE_GRU_FINAL else f" (the issue measured {ISSUE_GRU_FINAL}).")
             )
    (ke, ne), (kd, nd) = recurrent_kept("recurrent-keep-ent"), recurrent_kept("recurrent-keep")
    L.append("")
    L.append(f"The remedy tried on one seed on 2026-12-01, an entropy bonus of 0.01, keeps the entropy up; on seeds "
             f"0-4 it kept {ke} of {ne} seeds (final at least 90% of the best periodic evaluation) against {kd} of {nd} "
             f"with the default (the table below; harness suites `recurrent-keep` and `recurrent-keep-ent`).")
    return "\n".join(L)


def block_benchmarks_ppo_update() -> str:
    """PPO's update with the shared trunk, one pass per minibatch against two (bench_ppo_update.py):
    every record, one row each, then the newest record's protocol and command."""
    rows = ["| date | CPU | commit | load average at the start | one trunk pass (s per update) | two passes | speed-up | raw record |",
            "|---|---|---|---:|---:|---:|---:|---|"]
    d: dict = {}
    for path in sorted(SPEED.glob("ppo-update-*.json")):
        d, day = json.loads(path.read_text()), path.stem.split("-")[2]
        med = d["median_s"]
        rows.append(f"| {day[:4]}-{day[4:6]}-{day[6:]} | {_cpu(d['cpu'])} | {d['commit'][:7]}{'+' if d['dirty'] else ''} "
                    f"| {d['loadavg_1min']:.1f} of {d['cores']} cores | {med['one trunk pass']:.2f} "
                    f"| {med['two trunk passes']:.2f} | {d['speedup']:.2f}x | [{path.name}](../benchmarks/results/{path.name}) |")
    if not d:
        return "No record yet."
    return "\n".join(rows) + f"\n\nProtocol: {d['protocol']}; `{d['command']}`."


BLOCKS = {
    ("README.md", "speed"): block_readme_speed,
    ("README.md", "heldout"): block_readme_heldout,
    ("docs/benchmarks.md", "speed"): block_benchmarks_speed,
    ("docs/benchmarks.md", "speed-envs"): block_benchmarks_speed_envs,
    ("docs/benchmarks.md", "speed-targets"): block_benchmarks_speed_targets,
    ("docs/benchmarks.md", "split-sync"): block_benchmarks_split_sync,
    ("docs/benchmarks.md", "critic-fit"): functools.partial(block_change, "critic-fit"),
    ("docs/benchmarks.md", "step-into"): functools.partial(block_change, "step-into"),
    ("docs/benchmarks.md", "mujoco-lean"): functools.partial(block_change, "mujoco-lean"),
    ("docs/benchmarks.md", "loop-cuts"): functools.partial(block_change, "loop-cuts"),
    ("docs/benchmarks.md", "episode-scan"): functools.partial(block_change, "episode-scan"),
    ("docs/benchmarks.md", "step-cost"): block_benchmarks_step_cost,
    ("docs/results/README.md", "suite-times"): block_suite_times,
    ("docs/benchmarks.md", "profile-hopper"): block_benchmarks_profile,
    ("docs/benchmarks.md", "speed-family"): block_benchmarks_speed_family,
    ("docs/benchmarks.md", "startup-pong"): block_benchmarks_startup,
    ("docs/benchmarks.md", "startup-pong-ppo"): block_benchmarks_startup_ppo,
    ("docs/benchmarks.md", "ppo-update"): block_benchmarks_ppo_update,
    ("docs/benchmarks.md", "quality-heldout"): block_quality_heldout,
    ("docs/benchmarks.md", "quality-heldout-summary"): block_quality_heldout_summary,
    ("docs/results/mujoco.md", "heldout"): block_mujoco_heldout,
    ("docs/results/mujoco.md", "heldout-reading"): block_mujoco_heldout_reading,
    ("docs/results/mujoco.md", "tuning"): block_mujoco_tuning,
    ("docs/results/family.md", "ppo-capg"): block_ppo_capg,
    ("docs/results/family.md", "ppo-heldout"): block_ppo_heldout,
    ("docs/results/recurrent.md", "recurrent-keep"): block_recurrent_keep,
    ("docs/results/minatar.md", "minatar-heldout"): block_minatar_heldout,
    ("docs/results/minatar.md", "minatar-ppo-heldout"): lambda: block_minatar_heldout("ppo"),
    ("docs/results/recurrent.md", "recurrent-kl"): block_recurrent_kl,
    ("docs/results/pong.md", "pong-heldout"): block_pong_heldout,
    ("docs/results/pong.md", "pong-heldout-101"): block_pong_heldout_101,
    ("docs/results/pong.md", "pong-dead-units"): block_pong_dead_units,
    ("docs/results/pong.md", "pong-units-seed0"): block_pong_units,
    ("README.md", "pong"): block_readme_pong,
}
BLOCKS.update(pages_family.BLOCKS)
BLOCKS.update(pages_pre_harness.BLOCKS)
FIGURES = [pages_family.figures, pong_figure]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a committed page differs")
    a = p.parse_args(argv)
    stale = []
    for (page, name), fn in BLOCKS.items():
        path = ROOT / page
        old = path.read_text()
        new = render(old, name, fn())
        if new != old:
            stale.append(f"{page} [{name}]")
            if not a.check:
                path.write_text(new)
    if a.check and stale:
        print("generated blocks differ from what `make results` writes: " + ", ".join(stale))
        return 1
    print(("rewrote: " + ", ".join(stale)) if stale else "every generated block is current")
    if not a.check:
        for fn in FIGURES:
            print("figures: " + ", ".join(fn()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
