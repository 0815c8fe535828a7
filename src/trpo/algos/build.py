"""Building a run's learner from the registry (``trpo.algos.ALGOS``) and the agent's networks: kept
out of the registry module so that the registry imports nothing else of the package."""
from __future__ import annotations

from trpo.algos import get_learner
from trpo.algos.trust_region import effective_trust_region


def build_learner(cfg, agent, device):
    """The run's learner, built as every caller should: ``get_learner(cfg.algo)`` on the agent's
    networks, with the trust region the action space settles (``effective_trust_region``:
    ``kl_per_action_dim`` multiplies max_kl and cg_damping by the action dimensions)."""
    return get_learner(cfg.algo)(agent.actor, agent.critic, effective_trust_region(cfg, agent.act_space), device)
