"""``trpo report RUN_DIR... [-o DIR]``: the debugging and results report of finished or running runs.

    trpo report runs/CartPole-v1_trpo_s* runs/CartPole-v1_ppo_s* -o report/

Runs are grouped by (env_id, algo), read from each run's ``config.toml``. Per group it writes

* ``DIR/<env>_<algo>.png``: six panels, 2 x 3 --
  (a) training return vs env steps (mean over seeds, min-max band over seeds) and the periodic
      evaluation return (``eval_return_mean``) where the runs logged one;
  (b) mean KL per update, with delta (``max_kl``; trpo/npg) or ``kl_target`` (ppo-kl) as a line;
  (c) line-search acceptance: rolling mean of ``step_accepted`` (trpo/npg only);
  (d) policy entropy;  (e) explained variance of the critic;  (f) env steps per second.
  Every per-update curve is put on a common 200-point env-step grid by linear interpolation inside
  each run's own range (never extrapolated); the solid line is the mean over all runs, dashed where
  only some runs have data (runs of different lengths, or no episode ended yet in some). A panel
  whose column is absent says so in its title.
* ``DIR/<env>_<algo>.md``: the runs and their status, the final deterministic evaluation per seed
  with mean +- std over seeds, the best periodic evaluation per seed, the figure, and short readings.

matplotlib is imported inside the plotting function only (``import trpo`` does not load it).
"""
from __future__ import annotations

import json
import math
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trpo.errors import ConfigError
from trpo.tools.curves import NAN, common_grid, on_grid, read_metrics

LAST_FRACTION = 0.2  # "the last 20% of the run" in the readings


# --- reading runs ------------------------------------------------------------------------------
@dataclass
class Run:
    path: Path
    label: str  # the path as the user wrote it
    config: dict[str, Any]
    metrics: dict[str, np.ndarray]
    summary: dict[str, Any] | None
    summary_note: str = ""

    @property
    def env_id(self) -> str:
        return str(self.config["env_id"])

    @property
    def algo(self) -> str:
        return str(self.config["algo"])

    @property
    def seed(self) -> Any:
        return self.config.get("seed", "?")

    @property
    def state(self) -> str:
        """finished, interrupted or unfinished (no summary.json)."""
        if self.summary is None:
            return "unfinished"
        return "interrupted" if self.summary.get("interrupted") else "finished"

    @property
    def status(self) -> str:
        if self.summary is None:
            return "unfinished" + (f" ({self.summary_note})" if self.summary_note else "")
        return "interrupted" if self.summary.get("interrupted") else "finished"

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.metrics.values()))) if self.metrics else 0

    def col(self, name: str) -> np.ndarray | None:
        return self.metrics.get(name)

    @property
    def x(self) -> np.ndarray:
        for name in ("env_steps", "iteration"):
            if name in self.metrics:
                return self.metrics[name]
        return np.arange(1, self.n_rows + 1, dtype=float)

    @property
    def steps(self) -> float:
        if self.summary and isinstance(self.summary.get("total_steps"), (int, float)):
            return float(self.summary["total_steps"])
        return _last_finite(self.col("env_steps"))

    @property
    def wall_s(self) -> float:
        if self.summary and isinstance(self.summary.get("wall_s"), (int, float)):
            return float(self.summary["wall_s"])
        return _last_finite(self.col("wall_s"))

    def final_eval(self) -> tuple[float, float, Any]:
        s = self.summary or {}
        return _num(s.get("final_eval_return_mean")), _num(s.get("final_eval_return_std")), s.get("final_eval_episodes")


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else NAN


def _last_finite(a: np.ndarray | None) -> float:
    if a is None:
        return NAN
    f = a[np.isfinite(a)]
    return float(f[-1]) if f.size else NAN


def _first_finite(a: np.ndarray | None) -> float:
    if a is None:
        return NAN
    f = a[np.isfinite(a)]
    return float(f[0]) if f.size else NAN


def _not_a_run(path: Path, label: str, why: str) -> ConfigError:
    hint = ""
    if path.is_dir():
        inner = sorted(p.parent.name for p in path.glob("*/config.toml"))
        if inner:
            hint = f"; it holds {len(inner)} run directories: pass them, e.g. {label.rstrip('/')}/*"
    return ConfigError(f"{label} is not a run directory ({why}){hint}")


def load_run(run_dir: str | Path) -> Run:
    label = str(run_dir)
    path = Path(run_dir)
    if not path.exists():
        raise ConfigError(f"{label}: no such run directory")
    if not path.is_dir():
        raise _not_a_run(path, label, "not a directory")
    cfg_path = path / "config.toml"
    if not cfg_path.is_file():
        raise _not_a_run(path, label, "no config.toml")
    try:
        config = tomllib.loads(cfg_path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        raise ConfigError(f"{label}/config.toml is not valid TOML ({e})") from None
    missing = [k for k in ("env_id", "algo") if not isinstance(config.get(k), str)]
    if missing:
        raise ConfigError(f"{label}/config.toml has no {' or '.join(missing)}: is this a trpo run directory?")
    summary, note = None, ""
    s_path = path / "summary.json"
    if s_path.exists():
        try:
            summary = json.loads(s_path.read_text())
            if not isinstance(summary, dict):
                summary, note = None, "summary.json unreadable"
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            note = "summary.json unreadable"
    metrics = read_metrics(path, label)
    if not metrics and not note:
        note = "no iteration logged yet"
    return Run(path, label, config, metrics, summary, note)


def group_runs(run_dirs: list[str | Path]) -> dict[tuple[str, str], list[Run]]:
    """{(env_id, algo): runs}, in the order first seen; the same directory twice counts once."""
    if not run_dirs:
        raise ConfigError("report needs at least one run directory")
    groups: dict[tuple[str, str], list[Run]] = {}
    seen: set[Path] = set()
    for rd in run_dirs:
        run = load_run(rd)
        key = run.path.resolve()
        if key in seen:
            continue
        seen.add(key)
        groups.setdefault((run.env_id, run.algo), []).append(run)
    for runs in groups.values():
        runs.sort(key=lambda r: (str(r.seed), r.label))
    return groups


def _stem(env_id: str, algo: str) -> str:
    from trpo.envs.ids import safe_name

    return safe_name(f"{env_id}_{algo}")


# --- numerics -----------------------------------------------------------------------------------
def _nanstats(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = np.isfinite(Y).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: NaN is the answer
        return np.nanmean(Y, axis=0), np.nanmin(Y, axis=0), np.nanmax(Y, axis=0), n


def _rolling_mean(a: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` finite values (fewer at the start); NaN where none."""
    out = np.full(a.shape, NAN)
    ok = np.isfinite(a)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, a, 0.0))])
    k = np.concatenate([[0], np.cumsum(ok)])
    for i in range(len(a)):
        j = max(0, i + 1 - window)
        cnt = k[i + 1] - k[j]
        if cnt:
            out[i] = (c[i + 1] - c[j]) / cnt
    return out


def _accept_window(runs: list[Run]) -> int:
    n = max((r.n_rows for r in runs), default=0)
    return int(min(10, max(1, n // 4)))


def _last_part(a: np.ndarray) -> np.ndarray:
    """The last LAST_FRACTION of a run's rows (at least one)."""
    if a.size == 0:
        return a
    k = max(1, math.ceil(LAST_FRACTION * a.size))
    return a[-k:]


def _mean_std(vals: list[float]) -> tuple[float, float, int]:
    v = np.asarray([x for x in vals if math.isfinite(x)], float)
    if v.size == 0:
        return NAN, NAN, 0
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else NAN), int(v.size)


def _action_dims(config: dict) -> int | None:
    """The trust-region scale of a kl_per_action_dim run (``trust_region_scale``) that predates
    summary.json's ``trust_region``, from its env id and env_kwargs; None when the env cannot be
    made here."""
    try:
        import gymnasium as gym

        from trpo.algos.trust_region import trust_region_scale
        from trpo.config import from_dict
        from trpo.envs.ids import lookup

        env = gym.make(lookup(config["env_id"]), **(config.get("env_kwargs") or {}))
        try:
            return trust_region_scale(from_dict(config), env.action_space)
        finally:
            env.close()
    except Exception:  # noqa: BLE001 - an env only the run's own factory could make
        return None


def _kl_reference(run: Run) -> tuple[str, float] | None:
    """The KL bound a run's algorithm works against (its registry entry's ``kl_bound``): delta for
    trpo/npg, kl_target for ppo-kl."""
    bound = _entry(run.algo).kl_bound if _entry(run.algo) else ""
    if bound == "max_kl":
        delta = _num(run.config.get("max_kl"))
        if not run.config.get("kl_per_action_dim"):
            return "δ = max_kl", delta
        recorded = (run.summary or {}).get("trust_region")  # older runs lack it: build their env
        d = recorded.get("scale") if isinstance(recorded, dict) else _action_dims(run.config)
        d = d if isinstance(d, int) and d >= 1 else None
        return (f"δ = max_kl × {d} action dims", delta * d) if d else ("δ (max_kl per action dim)", delta)
    if bound:
        return bound, _num(run.config.get(bound))
    return None


def _entry(algo: str):
    """The algorithm's registry entry (None for a name this version does not know)."""
    from trpo.algos import ALGOS

    return ALGOS.get(algo)


# --- the figure ---------------------------------------------------------------------------------
PANELS = [
    ("a", "return vs env steps"),
    ("b", "mean KL per update"),
    ("c", "line-search acceptance"),
    ("d", "policy entropy"),
    ("e", "explained variance (critic)"),
    ("f", "env steps per second"),
]


def _series(runs: list[Run], column: str, transform=None) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for r in runs:
        y = r.col(column)
        if y is not None:
            out.append((r.x, transform(y) if transform else y))
    return out


def _plot_band(ax, series, color: str, label: str) -> bool:
    """Mean over runs (solid where every run has data, dashed where only some do) and the min-max
    band over runs; each run faintly. False when there is nothing finite to draw."""
    grid = common_grid(series)
    if grid is None:
        return False
    Y = np.stack([on_grid(x, y, grid) for x, y in series])
    mean, lo, hi, n = _nanstats(Y)
    for x, y in series:  # each run, faintly (a single point as a dot)
        ok = np.isfinite(x) & np.isfinite(y)
        ax.plot(x[ok], y[ok], color=color, lw=0.6, alpha=0.3, marker="." if ok.sum() <= 3 else None)
    if len(series) > 1:
        ax.fill_between(grid, lo, hi, where=n > 0, color=color, alpha=0.18, lw=0, label="min-max over seeds")
    full = n == len(series)
    if not full.all():
        ax.plot(grid, np.where(n > 0, mean, NAN), color=color, lw=1.2, ls="--",
                label="mean of the runs with data here (not all)")
    ax.plot(grid, np.where(full, mean, NAN), color=color, lw=1.8,
            label=f"{label} (mean of {_runs(len(series))})")
    return True


def _na(ax, letter: str, name: str, why: str) -> str:
    title = f"({letter}) {name}: n/a ({why})"
    ax.set_title(title, fontsize=9)
    ax.text(0.5, 0.5, f"n/a\n{why}", ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.35")
    ax.set_xticks([])
    ax.set_yticks([])
    return title


def _panel(ax, letter, name, runs, column, color, why_absent=None, transform=None, note="") -> str:
    series = _series(runs, column, transform)
    if why_absent:
        return _na(ax, letter, name, why_absent)
    if not series:
        return _na(ax, letter, name, f"no '{column}' column")
    if not _plot_band(ax, series, color, column):
        return _na(ax, letter, name, f"'{column}' has no values yet")
    title = f"({letter}) {name}" + (f" [{note}]" if note else "")
    missing = len(runs) - len(series)
    if missing:
        title += f" ({missing} run{'s' * (missing != 1)} without '{column}')"
    ax.set_title(title, fontsize=9)
    return title


def make_figure(runs: list[Run], png: Path) -> list[str]:  # noqa: C901 - six panels, each with its optional series
    """Write the 2 x 3 panel figure of one (env, algo) group; return the panel titles."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    env_id, algo = runs[0].env_id, runs[0].algo
    fig = Figure(figsize=(15, 8.4), dpi=100, layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    fig.suptitle(f"{env_id} — {algo} ({_runs(len(runs))}; "
                 "band: min-max over seeds after linear interpolation onto a common env-step grid)", fontsize=11)
    titles = []

    # (a) training return and periodic evaluation
    ax = axes[0]
    drew = _plot_band(ax, _series(runs, "episode_return_mean"), "C0", "training return")
    evals = [(r.x, y) for r in runs if (y := r.col("eval_return_mean")) is not None]
    has_eval = any(np.isfinite(y).any() for _, y in evals)
    if has_eval:
        grid = common_grid(evals)
        Y = np.stack([on_grid(x, y, grid) for x, y in evals])  # type: ignore[arg-type]  # has_eval: a grid
        mean, _, _, _ = _nanstats(Y)
        ax.plot(grid, mean, color="C3", lw=1.6, label=f"evaluation (mean of {_runs(len(evals))})")
        for x, y in evals:
            ok = np.isfinite(x) & np.isfinite(y)
            ax.plot(x[ok], y[ok], ls="none", marker="o", ms=3, color="C3", alpha=0.45)
        drew = True
    if drew:
        title = "(a) return vs env steps" + ("" if has_eval else " (no periodic evaluation logged)")
        if not any("episode_return_mean" in r.metrics for r in runs):
            title += " (no 'episode_return_mean' column)"
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("episode return")
        titles.append(title)
    else:
        titles.append(_na(ax, "a", "return vs env steps", "no episode has ended yet"))

    # (b) KL per update against its bound
    ax = axes[1]
    titles.append(_panel(ax, "b", "mean KL per update", runs, "kl", "C1"))
    refs: dict[float, str] = {}
    for r in runs:
        ref = _kl_reference(r)
        if ref and math.isfinite(ref[1]) and "kl" in r.metrics:
            refs.setdefault(ref[1], ref[0])
    if "n/a" not in titles[-1]:
        for v, name in sorted(refs.items()):
            ax.axhline(v, color="k", ls=":", lw=1.2, label=f"{name} = {v:g}")
        if not refs:
            titles[-1] += f" [no KL bound in {algo}]"
            ax.set_title(titles[-1], fontsize=9)
        ax.set_ylim(bottom=0)

    # (c) line-search acceptance
    ax = axes[2]
    w = _accept_window(runs)
    entry = _entry(algo)
    why = None if entry and entry.line_search else f"no line search in {algo}"
    note = f"rolling mean, window {w}"
    titles.append(_panel(ax, "c", "line-search acceptance", runs, "step_accepted", "C2", why,
                         transform=lambda a: _rolling_mean(a, w), note=note))
    if why is None and "n/a" not in titles[-1]:
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("fraction of steps accepted")

    # (d)-(f)
    titles.append(_panel(axes[3], "d", "policy entropy", runs, "entropy", "C4"))
    titles.append(_panel(axes[4], "e", "explained variance (critic)", runs, "explained_variance", "C6"))
    if "n/a" not in titles[-1]:
        axes[4].axhline(0.0, color="0.5", lw=0.8, ls=":")
    titles.append(_panel(axes[5], "f", "env steps per second", runs, "fps", "C9"))

    x_max = max((float(np.nanmax(r.x)) for r in runs if r.x.size and np.isfinite(r.x).any()), default=None)
    for ax, t in zip(axes, titles):
        if "n/a" not in t:
            if x_max:  # every panel on the run's x-axis, also where a column stops early (NaN)
                ax.set_xlim(0, x_max * 1.02)
            ax.set_xlabel("env steps")
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="best")
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    return titles


# --- the page -----------------------------------------------------------------------------------
def _f(v: float, nd: int = 1) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:,.{nd}f}"


def _duration(s: float) -> str:
    if not math.isfinite(s):
        return "n/a"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def _runs(n: int) -> str:
    return f"{n} run" + "s" * (n != 1)


def _cell(s: Any) -> str:
    return str(s).replace("|", "\\|")


def _readings(runs: list[Run]) -> list[str]:  # noqa: C901 - a flat list of independent diagnostic checks
    algo = runs[0].algo
    out: list[str] = []
    n = len(runs)
    not_done = [r for r in runs if r.state != "finished"]
    if not_done:
        out.append(f"{len(not_done)} of {n} runs not finished ("
                   + ", ".join(f"seed {r.seed}: {r.status}" for r in not_done) + "): no final evaluation for them.")

    # return
    firsts, lasts = [], []
    for r in runs:
        y = r.col("episode_return_mean")
        if r.n_rows == 0:
            out.append(f"seed {r.seed}: no iteration logged yet.")
            continue
        if y is None or not np.isfinite(y).any():
            out.append(f"seed {r.seed}: no episode ended in {r.n_rows} logged iterations "
                       "(the return is NaN throughout).")
            continue
        lead = int(np.argmax(np.isfinite(y)))
        if lead:
            out.append(f"seed {r.seed}: no episode ended before env step {_f(r.x[lead], 0)} ({lead} iterations).")
        firsts.append(_first_finite(y))
        lasts.append(_last_finite(y))
    if firsts:
        out.append(f"training return went from {_f(np.mean(firsts))} to {_f(np.mean(lasts))} "  # type: ignore[arg-type]  # np.float64 is a float
                   f"(first and last logged value, mean of {_runs(len(firsts))}).")
    lengths = sorted({int(r.steps) for r in runs if math.isfinite(r.steps)})
    if len(lengths) > 1:
        out.append(f"runs have different lengths ({_f(lengths[0], 0)} to {_f(lengths[-1], 0)} env steps): "
                   "curves beyond the shortest run are dashed.")

    # KL
    above = total = 0
    kls, refs = [], set()
    for r in runs:
        kl, ref = r.col("kl"), _kl_reference(r)
        if kl is None:
            continue
        kls.append(kl[np.isfinite(kl)])
        if ref and math.isfinite(ref[1]):
            ok = np.isfinite(kl)
            above += int((kl[ok] > ref[1]).sum())
            total += int(ok.sum())
            refs.add((ref[0], ref[1]))
    if kls and np.concatenate(kls).size:
        allkl = np.concatenate(kls)
        text = f"mean KL per update {allkl.mean():.3g} (max {allkl.max():.3g})"
        if total:
            bound = ", ".join(f"{name} = {v:g}" for name, v in sorted(refs, key=lambda t: t[1]))
            text += f"; KL above the bound ({bound}) on {100 * above / total:.0f}% of updates ({above} of {total})"
            if _entry(algo) and _entry(algo).line_search:
                text += " (a rejected step logs KL 0)"
        out.append(text + ".")

    # line search
    if _entry(algo) and _entry(algo).line_search:
        rej = tot = rej_last = tot_last = 0
        for r in runs:
            a = r.col("step_accepted")
            if a is None:
                continue
            a = a[np.isfinite(a)]
            rej += int((a < 0.5).sum())
            tot += a.size
            tail = _last_part(a)
            rej_last += int((tail < 0.5).sum())
            tot_last += tail.size
        if tot:
            out.append(f"line search rejected {100 * rej_last / tot_last:.0f}% of steps in the last "
                       f"{100 * LAST_FRACTION:.0f}% of the run ({rej_last} of {tot_last}; "
                       f"{100 * rej / tot:.0f}% over the whole run).")

    # entropy
    e0 = [_first_finite(r.col("entropy")) for r in runs if r.col("entropy") is not None]
    e1 = [_last_finite(r.col("entropy")) for r in runs if r.col("entropy") is not None]
    pairs = [(a, b) for a, b in zip(e0, e1) if math.isfinite(a) and math.isfinite(b)]
    if pairs:
        e_a, e_b = float(np.mean([p[0] for p in pairs])), float(np.mean([p[1] for p in pairs]))
        if e_a > 0:
            out.append(f"entropy {'fell' if e_b <= e_a else 'rose'} to {100 * e_b / e_a:.0f}% of its initial value "
                       f"({e_a:.3g} → {e_b:.3g}, mean of {_runs(len(pairs))}).")
        else:
            out.append(f"entropy went from {e_a:.3g} to {e_b:.3g} (mean of {_runs(len(pairs))}; "
                       "a differential entropy at or below 0, so no ratio).")

    # explained variance, over the last part of each run's rows; NaN rows are updates whose targets
    # hardly varied (e.g. a solved task where every episode scores the same): not measurable there
    tails = [_last_part(y) for r in runs if (y := r.col("explained_variance")) is not None and y.size]
    ev = [float(np.mean(t[np.isfinite(t)])) for t in tails if np.isfinite(t).mean() >= 0.5]
    unmeasurable = sum(np.isfinite(t).mean() < 0.5 for t in tails)
    if ev:
        m = float(np.mean(ev))
        verdict = ("the critic is no better than a constant" if m < 0 else
                   "the critic explains the returns well" if m > 0.8 else "the critic explains part of the returns")
        out.append(f"explained variance {m:.2f} over the last {100 * LAST_FRACTION:.0f}% of the run "
                   f"(mean of {_runs(len(ev))}): {verdict}.")
    if unmeasurable:
        out.append(f"explained variance not measurable over the last {100 * LAST_FRACTION:.0f}% of "
                   f"{_runs(unmeasurable)} (mostly NaN: the critic's targets hardly vary, as when every "
                   "episode scores the same); no verdict on the critic there.")

    # throughput
    fps = [float(np.nanmedian(y)) for r in runs if (y := r.col("fps")) is not None and np.isfinite(y).any()]
    if fps:
        out.append(f"median throughput {_f(float(np.mean(fps)), 0)} env steps/s per update "
                   f"(mean of {_runs(len(fps))}; min {_f(min(fps), 0)}, max {_f(max(fps), 0)}).")

    # config differences (besides the seed)
    skip = {"seed"}
    keys = sorted(set().union(*(r.config.keys() for r in runs)) - skip)
    diffs = []
    for k in keys:
        vals = {json.dumps(r.config.get(k), sort_keys=True, default=str) for r in runs}
        if len(vals) > 1:
            diffs.append(f"{k} ({', '.join(sorted(vals))})")
    if diffs:
        out.append("the configs differ beyond the seed: " + "; ".join(diffs) + ".")
    return out


def make_page(runs: list[Run], md: Path, png: Path, titles: list[str]) -> None:
    env_id, algo = runs[0].env_id, runs[0].algo
    L = [f"# {env_id} — {algo}: run report", "",
         f"{_runs(len(runs))}, grouped by (env_id, algo) from each run's config.toml.", "",
         "## Runs", "",
         "| seed | run | env steps | wall time | status |",
         "|---:|---|---:|---:|---|"]
    for r in runs:
        target = _num(r.config.get("total_steps"))
        steps = _f(r.steps, 0) + (f" / {_f(target, 0)}" if math.isfinite(target) else "")
        L.append(f"| {_cell(r.seed)} | `{_cell(r.label)}` | {steps} | {_duration(r.wall_s)} | {_cell(r.status)} |")

    L += ["", "## Final evaluation (deterministic policy)", "",
          "| seed | run | return | std over episodes | episodes |",
          "|---:|---|---:|---:|---:|"]
    finals = []
    for r in runs:
        m, s, k = r.final_eval()
        finals.append(m)
        ret = _f(m) if math.isfinite(m) else f"n/a ({r.state})"
        L.append(f"| {_cell(r.seed)} | `{_cell(r.label)}` | {ret} | {_f(s)} | {k if k is not None else 'n/a'} |")
    mean, std, k = _mean_std(finals)
    both = "n/a" if k == 0 else f"{_f(mean)} ± {_f(std)}"
    L.append(f"| **mean ± std over seeds** | {k} of {_runs(len(runs))} | **{both}** | | |")
    L += ["", "std over seeds: sample standard deviation (n − 1); n/a with fewer than two runs."]

    L += ["", "## Best periodic evaluation", ""]
    rows = []
    for r in runs:
        y, ys = r.col("eval_return_mean"), r.col("eval_return_std")
        if y is None or not np.isfinite(y).any():
            continue
        i = int(np.nanargmax(y))
        sd = ys[i] if ys is not None else NAN
        rows.append(f"| {_cell(r.seed)} | `{_cell(r.label)}` | {_f(y[i])} | {_f(sd)} | {_f(r.x[i], 0)} | "
                    f"{_f(_last_finite(y))} | {int(np.isfinite(y).sum())} |")
    if rows:
        L += ["| seed | run | best eval return | std | at env step | last eval return | evaluations |",
              "|---:|---|---:|---:|---:|---:|---:|", *rows]
        if len(rows) < len(runs):
            L += ["", f"{len(runs) - len(rows)} run(s) logged no periodic evaluation."]
    else:
        L.append("No periodic evaluation in these runs (no values in an `eval_return_mean` column).")

    L += ["", "## Figure", "", f"![{env_id} {algo}]({png.name})", "",
          "Solid: mean over all runs after linear interpolation onto a common 200-point env-step grid "
          "(inside each run's range, never extrapolated); dashed: mean of only the runs that have data "
          "at that step (runs of different lengths, or no episode ended yet); "
          "band: min-max over seeds; faint lines: each run.", ""]
    L += [f"- {t}" for t in titles]
    L += ["", "## Readings", ""]
    L += [f"- {t}" for t in _readings(runs)] or ["- nothing logged yet."]
    md.write_text("\n".join(L) + "\n")


def make_report(run_dirs: list[str | Path], out_dir: str | Path) -> list[Path]:
    """One PNG and one Markdown page per (env_id, algo) group of ``run_dirs`` under ``out_dir``;
    returns the written paths (PNG, then page, per group). A directory that is not a run raises a
    one-line :class:`ConfigError` before anything is written."""
    groups = group_runs(list(run_dirs))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for (env_id, algo), runs in groups.items():
        stem = _stem(env_id, algo)
        png, md = out / f"{stem}.png", out / f"{stem}.md"
        titles = make_figure(runs, png)
        make_page(runs, md, png, titles)
        written += [png, md]
    return written


# --- the command ------------------------------------------------------------------------------
def cmd_report(args) -> int:
    for p in make_report(args.run_dirs, args.output):
        print(p)
    return 0


def register(subparsers) -> None:
    r = subparsers.add_parser("report", help="debugging and results report of runs: a figure and a "
                                             "Markdown page per (env, algo)")
    r.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories (any mix of envs and algorithms)")
    r.add_argument("-o", "--output", default="report", help="directory for the report (default: report)")
    r.set_defaults(func=cmd_report)
