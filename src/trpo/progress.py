"""A rich progress bar for training (steps, speed, recent return); silent when disabled."""
from __future__ import annotations

import math

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainingProgress:
    def __init__(self, cfg, start: int, enabled: bool = True):
        self.enabled = enabled
        self.total = cfg.total_steps
        self.start = start
        self.desc = f"{cfg.algo} {cfg.env_id}"

    def __enter__(self):
        if self.enabled:
            self.p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TextColumn("steps"), TextColumn("{task.fields[ret]}"),
                              TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
            self.p.__enter__()
            self.task = self.p.add_task(self.desc, total=self.total, completed=self.start, ret="")
        return self

    def update(self, steps: int, ret: float) -> None:
        if self.enabled:
            text = f"return {ret:8.1f}" if math.isfinite(ret) else ""
            self.p.update(self.task, completed=min(steps, self.total), ret=text)

    def print(self, text: str) -> None:
        """A line above the bar (or plain stdout when the bar is off)."""
        if self.enabled:
            self.p.console.print(text, markup=False, highlight=False)
        else:
            print(text)

    def __exit__(self, *exc):
        if self.enabled:
            self.p.__exit__(*exc)
