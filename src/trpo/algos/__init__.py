"""The algorithm registry: ``--algo NAME`` -> the learner class that implements it, and what the
rest of the package needs to know about it (which samplers feed it, its default learning rate,
whether its critic fit may run in a helper process). Adding an algorithm is one file with a
``Learner`` and one line here; entries are imported lazily.

The Learner interface (``trpo.algos.base.Learner``): built as ``Learner(actor, critic, cfg,
device)`` (``build_learner`` does it for a run's agent); ``update(batch) -> dict of metrics``, ``sync()``, ``close()``, ``state_dict()``,
``load_state_dict(d)``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class AlgoEntry:
    path: str                                    # "module:Class" of the Learner
    samplers: tuple[str, ...] = ("single-path",)  # the samplers whose batches it can learn from
    default_lr: float = 0.0                      # ``lr = 0`` resolves to this (first-order methods)
    critic_helper: bool = False                  # its critic fit may run in a helper process
    recurrent: bool = False                      # it trains recurrent policies (policy gru/lstm)
    trust_region: bool = False                   # it steps within max_kl (natural gradient + CG)


ALGOS: dict[str, AlgoEntry] = {
    "trpo": AlgoEntry("trpo.algos.trpo:TRPO", ("single-path", "vine"), critic_helper=True, recurrent=True,
                      trust_region=True),
    "reinforce": AlgoEntry("trpo.algos.reinforce:Reinforce", default_lr=1e-3, recurrent=True),
    "a2c": AlgoEntry("trpo.algos.a2c:A2C", default_lr=1e-3, recurrent=True),
    "a3c": AlgoEntry("trpo.algos.a3c:A3C", ("async",), default_lr=1e-3),
    "pg-l2": AlgoEntry("trpo.algos.pg_l2:PGL2", recurrent=True),
    "npg": AlgoEntry("trpo.algos.npg:NPG", ("single-path", "vine"), critic_helper=True, recurrent=True,
                     trust_region=True),
    "ppo-kl": AlgoEntry("trpo.algos.ppo:PPOKL", default_lr=3e-4, recurrent=True),
    "ppo": AlgoEntry("trpo.algos.ppo:PPO", default_lr=3e-4, recurrent=True),
}


def get_learner(name: str):
    module, cls = ALGOS[name].path.split(":")
    return getattr(importlib.import_module(module), cls)


def build_learner(cfg, agent, device):
    """The run's learner, built as every caller should: ``get_learner(cfg.algo)`` on the agent's
    networks, with the trust region the action space settles (``effective_trust_region``:
    ``kl_per_action_dim`` multiplies max_kl and cg_damping by the action dimensions)."""
    from trpo.algos.trust_region import effective_trust_region

    return get_learner(cfg.algo)(agent.actor, agent.critic, effective_trust_region(cfg, agent.act_space), device)
