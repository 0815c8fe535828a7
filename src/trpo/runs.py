"""The run directory (see CONTRACT.md): config.toml, metrics.csv, summary.json, TensorBoard
events in tb/, checkpoints/ — everything a person needs to inspect, plot and resume a run."""
from __future__ import annotations

import csv
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

from trpo.checkpoint import atomic_write
from trpo.config import Config
from trpo.errors import ConfigError

BASE_COLUMNS = ["iteration", "env_steps", "wall_s", "episode_return_mean", "episode_length_mean",
                "kl", "entropy", "value_loss", "fps"]


def default_run_dir(cfg: Config, root: str | Path = "runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    from trpo.envs.ids import safe_name

    safe_env = safe_name(cfg.env_id)
    return Path(root) / f"{safe_env}_{cfg.algo}_s{cfg.seed}_{stamp}"


class RunDir:
    def __init__(self, path: str | Path, fresh: bool = False, overwrite: bool = False):
        """``fresh``: a new run. It refuses a directory that already holds a run (checkpoints or
        metrics) unless ``overwrite``, which first removes that run's files."""
        self.path = Path(path)
        self.ckpt_dir = self.path / "checkpoints"
        if fresh and (self.ckpt_dir.exists() or (self.path / "metrics.csv").exists()):
            if not overwrite:
                raise ConfigError(f"run directory {self.path} already holds a run; continue it with "
                                  f"--resume {self.path}, or pass --overwrite, or choose another --run-dir")
            for name in ("checkpoints", "tb", "videos"):
                shutil.rmtree(self.path / name, ignore_errors=True)
            for name in ("metrics.csv", "summary.json", "config.toml", "learning_curve.png"):
                (self.path / name).unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        self._csv_file: Any = None
        self._writer: Any = None
        self._columns: list[str] | None = None
        self._tb: Any = None  # None: not opened; False: tensorboard unavailable

    # --- config and summary -------------------------------------------------------------------
    def write_config(self, cfg: Config) -> None:
        atomic_write(self.path / "config.toml", cfg.to_toml(provenance=cfg.provenance).encode())

    def write_summary(self, summary: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in summary.items()}
        atomic_write(self.path / "summary.json", (json.dumps(clean, indent=2) + "\n").encode())

    # --- metrics --------------------------------------------------------------------------------
    def open_metrics(self, keep_up_to_iteration: int | None = None) -> None:
        """Open metrics.csv for appending. On resume, rows after the checkpoint's iteration (written
        after the checkpoint, before an interruption) are dropped so the file has no duplicates."""
        path = self.path / "metrics.csv"
        if keep_up_to_iteration is not None and path.exists():
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            self._columns = list(rows[0].keys()) if rows else None
            rows = [r for r in rows if int(r["iteration"]) <= keep_up_to_iteration]
            with open(path, "w", newline="") as f:
                if self._columns:
                    w = csv.DictWriter(f, self._columns)
                    w.writeheader()
                    w.writerows(rows)
        elif path.exists():
            path.unlink()
        self._csv_file = open(path, "a", newline="")
        if self._columns:
            self._writer = csv.DictWriter(self._csv_file, self._columns, extrasaction="ignore")

    def log(self, row: dict[str, Any]) -> None:
        if self._writer is None:
            self._columns = BASE_COLUMNS + [k for k in row if k not in BASE_COLUMNS]
            self._writer = csv.DictWriter(self._csv_file, self._columns, extrasaction="ignore")
            self._writer.writeheader()
        self._writer.writerow({k: row.get(k, "") for k in self._columns})  # type: ignore[union-attr]  # set above
        self._csv_file.flush()
        tb = self.tensorboard()
        if tb is not None:
            step = int(row["env_steps"])
            for k, v in row.items():
                if k not in ("iteration", "env_steps") and isinstance(v, (int, float)) and math.isfinite(v):
                    tb.add_scalar(k, v, step)

    def tensorboard(self):
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is a dependency; tolerate a broken install
                self._tb = False
                return None
            self._tb = SummaryWriter(log_dir=str(self.path / "tb"))
        return self._tb or None

    def close(self) -> None:
        if self._csv_file:
            self._csv_file.close()
            self._csv_file = None
        if self._tb:
            self._tb.close()
            self._tb = None


# --- a run that ends without a word -------------------------------------------------------------
_WATCHER = r"""
import json, signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the trainer's to handle
if sys.stdin.buffer.read().endswith(b"ok"):  # EOF: the trainer closed the pipe, or died
    sys.exit(0)
run = Path(sys.argv[1])
ckpts = sorted(run.glob("checkpoints/ckpt-*.json"))
where = "no checkpoint was saved: start it again"
if ckpts:
    try:
        c = json.loads(ckpts[-1].read_text())["counters"]
        where = (f"the last checkpoint is iteration {c['iteration']} ({c['env_steps']:,} env steps): "
                 f"trpo train --resume {run}")
    except (OSError, ValueError, KeyError):
        where = f"resume from the newest valid checkpoint: trpo train --resume {run}"
print(f"error: the run in {run} ended without a word at {time.strftime('%H:%M:%S')} (process {sys.argv[2]}): "
      f"{sys.argv[3]}; {where}", file=sys.stderr, flush=True)
"""


class SilentExitWatch:
    """A small process that prints one line when the trainer's process ends without running its
    own exit path: Ray ends the driver from its C++ core, with exit status 1 and no Python code
    run, when the Ray node under the driver dies (a kill -9 and the out-of-memory killer look the
    same). The trainer holds a pipe to it; a normal end (return or exception) writes "ok" first."""

    def __init__(self, run_path: Path, why: str):
        import os
        import subprocess
        import sys

        self._proc: Any = subprocess.Popen(
            [sys.executable, "-c", _WATCHER, str(run_path), str(os.getpid()), why],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)

    def done(self) -> None:
        if self._proc is None:
            return
        try:
            self._proc.stdin.write(b"ok")
            self._proc.stdin.close()
            self._proc.wait(timeout=10)
        except (OSError, ValueError, Exception):  # noqa: BLE001 - the watcher is informational
            self._proc.kill()
        self._proc = None
