"""Experiment tracking beyond the run directory: ``track = "wandb"`` logs every metrics row, the
config and the final summary to Weights & Biases (optional extra ``trpo[wandb]``). TensorBoard
events are always written by the run directory itself. ``WANDB_MODE=offline`` keeps the run on
disk (``RUN/wandb``) for a later ``wandb sync``."""
from __future__ import annotations

import math
from pathlib import Path

from trpo.errors import ConfigError


class NullTracker:
    def log(self, row: dict) -> None:
        pass

    def finish(self, cfg, summary: dict) -> None:
        pass


class WandbTracker:
    def __init__(self, cfg, run_path: Path):
        try:
            import wandb
        except ImportError:
            raise ConfigError("track = 'wandb' needs Weights & Biases: pip install 'trpo[wandb]'") from None
        self.wandb = wandb
        self.run = wandb.init(project="trpo", name=run_path.name, dir=str(run_path), config=cfg.to_dict(),
                              group=f"{cfg.env_id}/{cfg.algo}", reinit="finish_previous")

    def log(self, row: dict) -> None:
        clean = {k: v for k, v in row.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        self.run.log(clean, step=int(row["env_steps"]))

    def finish(self, cfg, summary: dict) -> None:
        for k, v in summary.items():
            if isinstance(v, (int, float, str, bool)):
                self.run.summary[k] = v
        self.run.finish()


def make_tracker(cfg, run_path: Path):
    return WandbTracker(cfg, Path(run_path)) if cfg.track == "wandb" else NullTracker()
