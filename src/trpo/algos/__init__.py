"""The algorithm registry: ``--algo NAME`` -> the learner class that implements it.

A learner is built as ``Learner(actor, critic, cfg, device)`` and offers
``update(batch) -> dict of metrics``, ``state_dict()`` and ``load_state_dict(d)`` (its optimisers
and schedules; the networks are saved by the trainer). Entries are imported lazily.
"""
from __future__ import annotations

import importlib

ALGOS: dict[str, str] = {
    "trpo": "trpo.algos.trpo:TRPO",
    "reinforce": "trpo.algos.reinforce:Reinforce",
    "a2c": "trpo.algos.a2c:A2C",
    "a3c": "trpo.algos.a3c:A3C",
    "pg-l2": "trpo.algos.pg_l2:PGL2",
    "npg": "trpo.algos.npg:NPG",
    "ppo-kl": "trpo.algos.ppo:PPOKL",
    "ppo": "trpo.algos.ppo:PPO",
}


def get_learner(name: str):
    module, cls = ALGOS[name].split(":")
    return getattr(importlib.import_module(module), cls)
