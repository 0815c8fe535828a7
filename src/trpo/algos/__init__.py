"""The algorithm registry: ``--algo NAME`` -> the learner class that implements it, and every fact
the rest of the package needs about it (which samplers feed it, its default learning rate, its trust
region and line search, whether its critic fit may run in a helper process, recurrent support,
whether one loss trains actor and critic (``shared_trunk``), ``trpo tune``'s search space, the
metrics it reports). Config, tune, report and the diagnostics read these entries and keep no tables
of their own, so adding an algorithm is one file with a ``Learner`` and one entry here; learners are
imported lazily. This module imports nothing else of the package.

The Learner interface (``trpo.algos.base.Learner``): built as ``Learner(actor, critic, cfg,
device)`` (``trpo.algos.build.build_learner`` does it for a run's agent); ``update(batch) -> dict
of metrics``, ``sync()``, ``close()``, ``state_dict()``, ``load_state_dict(d)``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

# --- trpo tune's search spaces: ("log", low, high) log-uniform float, ("float", low, high) uniform
# float, ("cat", choices) categorical (docs/tuning.md)
GAMMAS = (0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)
LAMBDAS = (0.8, 0.9, 0.92, 0.95, 0.98, 0.99, 1.0)
HIDDEN = ("64,64", "128,128", "256,256")  # layer sizes as "64,64" strings (also for actor_/critic_hidden)
ACTIVATIONS = ("tanh", "relu")
GRAD_NORMS = (0.3, 0.5, 0.7, 1.0, 2.0, 5.0)
SPACE_TRUST_REGION = {
    "max_kl": ("log", 1e-3, 0.1), "gamma": ("cat", GAMMAS), "gae_lambda": ("cat", LAMBDAS),
    "batch_steps": ("cat", (512, 1024, 2048, 4096, 8192)), "cg_damping": ("log", 1e-3, 0.5),
    "cg_iters": ("cat", (5, 10, 20, 30)), "critic_lr": ("log", 1e-4, 1e-2), "critic_epochs": ("cat", (5, 10, 20, 40)),
    "hidden": ("cat", HIDDEN), "activation": ("cat", ACTIVATIONS)}
SPACE_PPO = {
    "lr": ("log", 1e-5, 3e-3), "gamma": ("cat", GAMMAS), "gae_lambda": ("cat", LAMBDAS),
    "batch_steps": ("cat", (256, 512, 1024, 2048, 4096, 8192)), "minibatch_size": ("cat", (32, 64, 128, 256, 512)),
    "epochs": ("cat", (1, 5, 10, 20)), "entropy_coef": ("log", 1e-8, 0.1), "vf_coef": ("float", 0.1, 1.0),
    "max_grad_norm": ("cat", GRAD_NORMS), "hidden": ("cat", HIDDEN), "activation": ("cat", ACTIVATIONS)}
SPACE_ACTOR_CRITIC = {
    "lr": ("log", 1e-5, 1e-2), "gamma": ("cat", GAMMAS), "gae_lambda": ("cat", LAMBDAS),
    "batch_steps": ("cat", (256, 512, 1024, 2048, 4096, 8192)), "critic_lr": ("log", 1e-4, 1e-2),
    "critic_epochs": ("cat", (1, 5, 10, 20)), "entropy_coef": ("log", 1e-8, 0.1),
    "max_grad_norm": ("cat", GRAD_NORMS), "hidden": ("cat", HIDDEN)}
SPACE_PG_L2 = {
    "pg_l2_eps": ("log", 1e-4, 1.0), "gamma": ("cat", GAMMAS), "gae_lambda": ("cat", LAMBDAS),
    "batch_steps": ("cat", (512, 1024, 2048, 4096, 8192)), "critic_lr": ("log", 1e-4, 1e-2),
    "critic_epochs": ("cat", (5, 10, 20, 40)), "hidden": ("cat", HIDDEN)}


def _without(space: dict, *keys: str, **extra: tuple) -> dict:
    return {**{k: v for k, v in space.items() if k not in keys}, **extra}


# --- the metrics contract: every learner with a critic reports these (algos.common.update_stats)
CRITIC_METRICS = ("kl", "entropy", "value_loss", "explained_variance")


@dataclass(frozen=True)
class AlgoEntry:
    path: str                                    # "module:Class" of the Learner
    samplers: tuple[str, ...] = ("single-path",)  # the samplers whose batches it can learn from
    default_lr: float = 0.0                      # ``lr = 0`` resolves to this (first-order methods)
    critic_helper: bool = False                  # its critic fit may run in a helper process
    recurrent: bool = False                      # it trains recurrent policies (policy gru/lstm)
    joint_loss: bool = False                     # one loss trains actor and critic (shared_trunk)
    trust_region: bool = False                   # it steps within max_kl (natural gradient + CG)
    line_search: bool = False                    # its steps are accepted or rejected (step_accepted)
    kl_bound: str = ""                           # the config key of the KL its updates work against
    search_space: dict = field(default_factory=dict)  # what ``trpo tune`` searches
    metrics: tuple[str, ...] = CRITIC_METRICS    # the metrics.csv columns it always writes


ALGOS: dict[str, AlgoEntry] = {
    "trpo": AlgoEntry("trpo.algos.trpo:TRPO", ("single-path", "vine"), critic_helper=True, recurrent=True,
                      trust_region=True, line_search=True, kl_bound="max_kl", search_space=SPACE_TRUST_REGION,
                      metrics=(*CRITIC_METRICS, "surrogate_gain", "step_accepted")),
    # reward-to-go minus a baseline: no lambda
    "reinforce": AlgoEntry("trpo.algos.reinforce:Reinforce", default_lr=1e-3, recurrent=True,
                           search_space=_without(SPACE_ACTOR_CRITIC, "gae_lambda")),
    "a2c": AlgoEntry("trpo.algos.a2c:A2C", default_lr=1e-3, recurrent=True, search_space=SPACE_ACTOR_CRITIC),
    # one gradient per worker batch, no critic epochs
    "a3c": AlgoEntry("trpo.algos.a3c:A3C", ("async",), default_lr=1e-3,
                     search_space=_without(SPACE_ACTOR_CRITIC, "critic_epochs")),
    "pg-l2": AlgoEntry("trpo.algos.pg_l2:PGL2", recurrent=True, search_space=SPACE_PG_L2),
    # no line search: NPG takes every step
    "npg": AlgoEntry("trpo.algos.npg:NPG", ("single-path", "vine"), critic_helper=True, recurrent=True,
                     trust_region=True, kl_bound="max_kl", search_space=SPACE_TRUST_REGION),
    "ppo-kl": AlgoEntry("trpo.algos.ppo:PPOKL", default_lr=3e-4, recurrent=True, joint_loss=True, kl_bound="kl_target",
                        search_space=_without(SPACE_PPO, kl_target=("log", 3e-3, 5e-2))),
    "ppo": AlgoEntry("trpo.algos.ppo:PPO", default_lr=3e-4, recurrent=True, joint_loss=True,
                     search_space=_without(SPACE_PPO, clip_range=("cat", (0.1, 0.2, 0.3, 0.4)))),
}


# --- config keys that only some learners read -------------------------------------------------------
# key -> the algorithms whose learner (or its sampler's workers, for a3c) reads it. A key the caller
# gave that the run's algorithm does not read changes nothing in that run: the trainer says so in one
# line (``trpo.resolve.unread_keys``). Checked against the reads of short runs of every algorithm
# (tests/test_unread_keys.py). Keys every learner or the sampler reads are not listed.
_TRUST = ("trpo", "npg")
_FIRST_ORDER = ("reinforce", "a2c", "a3c", "ppo-kl", "ppo")
_PPO = ("ppo-kl", "ppo")
_CRITIC_FIT = ("trpo", "npg", "reinforce", "a2c", "pg-l2")  # a separate critic fitted in epochs
LEARNER_KEYS: dict[str, tuple[str, ...]] = {
    "max_kl": _TRUST, "cg_iters": _TRUST, "cg_damping": _TRUST, "fvp": _TRUST, "fvp_subsample": _TRUST,
    "critic_fit": _TRUST, "ls_max_backtracks": ("trpo",), "ls_shrink": ("trpo",),
    "critic_lr": (*_CRITIC_FIT, "a3c"), "critic_epochs": _CRITIC_FIT, "critic_minibatch": _CRITIC_FIT,
    "lr": _FIRST_ORDER, "anneal_lr": _FIRST_ORDER, "max_grad_norm": _FIRST_ORDER,
    "gae_lambda": ("trpo", "npg", "a2c", "a3c", "pg-l2", "ppo-kl", "ppo"),  # reinforce: reward-to-go
    "baseline": ("reinforce",), "advantage_estimator": ("a2c", "a3c"), "n_step": ("a2c", "a3c"),
    "pg_l2_eps": ("pg-l2",),
    "epochs": _PPO, "minibatch_size": _PPO, "clip_range": _PPO, "clip_value": _PPO, "vf_coef": _PPO,
    "kl_target": ("ppo-kl",), "kl_coef_init": ("ppo-kl",),
}


def get_learner(name: str):
    module, cls = ALGOS[name].path.split(":")
    return getattr(importlib.import_module(module), cls)

