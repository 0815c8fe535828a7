"""The seeds of a run's random streams, as offsets from the run's ``seed``, in one place.

Training seeds torch, numpy, Python's ``random``, the action sampler and the envs with ``seed``
itself (env i of the vector env: ``seed + i``). Evaluations use envs seeded apart from training
and from each other, so that no evaluation replays a training episode and every periodic
evaluation starts from the same states (the curve then compares policies, not luck):
"""
from __future__ import annotations

FINAL_EVAL = 10_000     # the final evaluation, ``trpo eval`` and ``Agent.evaluate``: episode i on seed + 10,000 + i
PERIODIC_EVAL = 20_000  # the periodic evaluations during training: episode i on seed + 20,000 + i
INITIAL_REPORT = 30_000  # the random-policy episodes of the report printed before training
