"""Learning curves of run directories, read and resampled one way for every tool (``trpo report``,
``trpo compare``, ``trpo plot``): ``read_metrics`` (metrics.csv as float columns) and ``on_grid``
(a curve on a common x grid, for means and bands over runs)."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from trpo.errors import ConfigError

GRID_POINTS = 200
NAN = float("nan")


def read_metrics(run_dir: str | Path, label: str | None = None) -> dict[str, np.ndarray]:
    """``run_dir/metrics.csv`` as float columns (empty or malformed cells, e.g. a half-written last
    line of a running run, become NaN); no file or no rows: no columns. A file that cannot be read
    raises a one-line :class:`ConfigError` naming ``label`` (default: the directory)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return {}
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ConfigError(f"{label or run_dir}: cannot read metrics.csv ({e})") from None
    if not rows:
        return {}
    out: dict[str, np.ndarray] = {}
    for k in rows[0]:
        if not isinstance(k, str):  # cells beyond the header
            continue
        vals = []
        for r in rows:
            try:
                vals.append(float(r.get(k)))  # type: ignore[arg-type]  # None (a short row): TypeError, below
            except (TypeError, ValueError):
                vals.append(NAN)
        out[k] = np.asarray(vals, float)
    return out


def on_grid(x: np.ndarray, y: np.ndarray, grid: np.ndarray, hold: bool = False) -> np.ndarray:
    """The curve y(x), from its finite points, at ``grid``.

    ``hold=False``: linear interpolation inside the run's own range, NaN outside it (a shorter run,
    or steps before the first episode ended). ``hold=True``: a step function, the last value logged
    at or before each grid point (the first value before the first point). No finite point: NaN."""
    out = np.full(grid.shape, NAN)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return out
    order = np.argsort(x[ok], kind="stable")
    xs, ys = x[ok][order], y[ok][order]
    if hold:
        idx = np.searchsorted(xs, grid, side="right") - 1
        return ys[np.clip(idx, 0, None)]
    inside = (grid >= xs[0]) & (grid <= xs[-1])
    out[inside] = np.interp(grid[inside], xs, ys)
    return out


def common_grid(series: list[tuple[np.ndarray, np.ndarray]], points: int = GRID_POINTS) -> np.ndarray | None:
    """``points`` evenly spaced x values over the finite points of all ``series`` ((x, y) pairs);
    one point where they share one x; None where none has a finite point."""
    lo, hi = math.inf, -math.inf
    for x, y in series:
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any():
            lo, hi = min(lo, float(x[ok].min())), max(hi, float(x[ok].max()))
    if lo > hi:
        return None
    return np.linspace(lo, hi, points) if hi > lo else np.array([lo])
