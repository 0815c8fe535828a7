"""What the generated pages share: where the records are, the normalised scores (a random policy
is 0, the published TRPO number 1), rliable's interval estimates, and the block markers."""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEED = ROOT / "benchmarks" / "results"
RECORDS = ROOT / "benchmarks" / "records"
HELD_OUT = (100, 101, 102, 103, 104)
# "held": a held-out mean at least this share of the tuning seeds' mean (every generated reading)
HELD_SHARE = 0.9
MUJOCO5 = ("Hopper-v5", "Walker2d-v5", "HalfCheetah-v5", "Swimmer-v5", "Ant-v5")
BOOT_REPS, BOOT_SEED = 2_000, 0  # the bootstrap resamples of every interval (rliable suggests >= 2,000)


@functools.cache
def suite_records(folder: str) -> tuple[tuple[str, dict], ...]:
    """Every harness record in benchmarks/records/FOLDER as (file name, record), read once per
    process: several blocks read the same suites."""
    return tuple((f.name, json.loads(f.read_text())) for f in sorted((RECORDS / folder).glob("*.json")))


@functools.cache
def tuning_runs(env: str) -> tuple[dict, ...]:
    """The summary.json of each seeds-0-4 MuJoCo run (the seeds the presets were chosen on), by seed:
    the run directories docs/results/mujoco/summarise.py copied to records/pre-harness/mujoco/raw."""
    raw = RECORDS / "pre-harness" / "mujoco" / "raw"
    return tuple(sorted((json.loads((d / "summary.json").read_text()) for d in raw.glob(f"{env}_s*")),
                        key=lambda r: r["seed"]))


def random_policy(env: str) -> float:
    """The 0 of the normalised scores: the mean return of uniform random actions (its record,
    ``harness.py random``)."""
    return float(json.loads((RECORDS / "random-policy" / f"{env}.json").read_text())["mean"])


@functools.cache
def published() -> dict:
    """The 1 of the normalised scores: the best published TRPO number per env, with its protocol
    (one home: docs/results/mujoco/summarise.py's PUBLISHED)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("summarise", ROOT / "docs" / "results" / "mujoco" / "summarise.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.PUBLISHED


def normalised(env: str, x: np.ndarray) -> np.ndarray:
    """(score - random) / (published - random): 0 is a random policy, 1 the published TRPO number."""
    r = random_policy(env)
    return (x - r) / (published()[env][0] - r)


def _iqm(x: np.ndarray) -> float:
    """The interquartile mean over all runs (rliable's IQM: the mean of the middle 50%)."""
    from scipy.stats import trim_mean

    return float(trim_mean(x.ravel(), 0.25))


def cpu_short(s: str) -> str:
    """lscpu's model name, short: "Intel(R) Xeon(R) Processor" -> "Intel Xeon"."""
    if s == "x86_64":
        return "an unnamed x86_64 CPU (lscpu not recorded)"
    return " ".join(w for w in s.split(",")[0].replace("(R)", "").replace("(TM)", "").split() if w != "Processor")


def and_join(words: list[str]) -> str:
    """"a, b and c"."""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def made_on(machines: list[dict]) -> str:
    """"CPU at commit X, CPU at commit Y and ..." for records' ``machine`` dicts, first seen first
    (the commit with "+" where src/ had uncommitted changes)."""
    return and_join(list(dict.fromkeys(f"{cpu_short(m['cpu'])} at commit {short_commit(m, '+')}" for m in machines)))


def profile_records(pattern: str) -> list[dict]:
    """The records of ``harness.py profile`` whose file names match ``pattern`` (records/profile/),
    oldest first, each with its path under ``_file``."""
    return sorted((json.loads(f.read_text()) | {"_file": f} for f in (RECORDS / "profile").glob(pattern)),
                  key=lambda r: r["started"])


def short_commit(machine: dict, dirty: str = "") -> str:
    """A record's commit, 7 characters ("?" where none was recorded), then ``dirty`` where src/
    had uncommitted changes."""
    git = machine.get("git") or {}
    return (git.get("commit") or "?")[:7] + (dirty if git.get("dirty") else "")


def interval(scores: dict[str, np.ndarray], stat) -> dict[str, tuple[float, float, float]]:
    """rliable's stratified-bootstrap 95% interval of ``stat`` for each side (runs x tasks)."""
    from rliable import library as rly

    fn = lambda m: np.array([stat(m)])  # noqa: E731
    np.random.seed(BOOT_SEED)  # rliable draws from numpy's global generator
    point, ci = rly.get_interval_estimates(scores, fn, reps=BOOT_REPS)
    return {k: (float(point[k][0]), float(ci[k][0][0]), float(ci[k][1][0])) for k in scores}


def prob_improvement(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """P(X > Y) over tasks (Agarwal et al. 2021), with its stratified-bootstrap 95% interval."""
    from rliable import library as rly
    from rliable import metrics

    np.random.seed(BOOT_SEED)
    point, ci = rly.get_interval_estimates({"pair": (x, y)}, metrics.probability_of_improvement, reps=BOOT_REPS)
    lo, hi = np.ravel(ci["pair"])  # rliable gives the interval as (2, 1)
    return float(np.ravel(point["pair"])[0]), float(lo), float(hi)


def render(text: str, name: str, body: str) -> str:
    pat = re.compile(rf"(<!-- generated:{re.escape(name)} -->\n)(?:.*?\n)?(<!-- /generated:{re.escape(name)} -->)", re.S)
    if not pat.search(text):
        raise SystemExit(f"no <!-- generated:{name} --> block")
    return pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def metrics_columns(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """A run's metrics.csv as columns of floats (empty cells: NaN); ``keys``: only these."""
    import csv

    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows])
            for k in (keys or tuple(rows[0]))}
