"""The run's concrete choices, made once, before anything is built.

``resolve_run(cfg, env_fn)`` returns the config with every ``auto`` replaced by what this run
will use, and the ``EnvSpec`` of its environment. The parts receive these values and never
decide again; config.toml records them, so a replay or a resume on another machine does the same.

  preset        auto -> the env's preset for the algorithm (trpo.presets), or none; its keys
                layered under what the caller gave (``layer``: defaults < preset < file < user)
  sampler       an algorithm with one sampler (a3c: async) gets it
  device        auto -> cuda if available, else cpu
  vector_mode   auto -> vector_entry_point for Gymnasium's CartPole ids, envpool for ALE v5 ids
                (EnvPool installed, DQN preprocessing on), split for the costly MuJoCo envs
                (Hopper, Walker2d, Ant, Humanoid) on 2+ cores under Linux, else sync
  critic_fit    auto -> process for learners that allow it, on a multi-core CPU under Linux
  lr            0 -> the algorithm's default
  eval_every    0 -> about 20 periodic evaluations over the run, in whole batches
"""
from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Callable

import torch

from trpo.config import FIELDS, Config, callers_own, default_lr, from_dict
from trpo.envs.make import EnvSpec
from trpo.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but CUDA is not available (use --device cpu or auto)")
    return torch.device(name)


# Gymnasium's MuJoCo envs whose step costs enough that ``split`` (one env slice on each core, the
# same batches as ``sync``) trains faster than ``sync`` with 2 envs on 2 cores; on the cheaper ones
# (HalfCheetah, Swimmer, the pendulums, Reacher, Pusher) the per-step hand-off cost more than it
# saved. Since each slice runs its whole batch alone (2026-12-07) profiles by hand put split ahead
# on HalfCheetah and Swimmer too, but the harness record of HalfCheetah has it behind: they stay sync.
# Measured: docs/benchmarks.md, "Speed on every MuJoCo env".
SPLIT_MUJOCO = ("HopperEnv", "Walker2dEnv", "AntEnv", "HumanoidEnv")


def splits_well(env_id: str, num_envs: int) -> bool:
    """``auto`` picks ``split``: one of SPLIT_MUJOCO, 2+ envs, 2+ usable cores, fork (Linux)."""
    from trpo.envs.ids import env_class, is_gym_mujoco
    from trpo.system import usable_cores

    return (num_envs >= 2 and is_gym_mujoco(env_id) and env_class(env_id) in SPLIT_MUJOCO
            and sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods() and usable_cores() >= 2)


def resolve_vector_mode(env_id: str, mode: str, sampler: str = "single-path", custom_env: bool = False,
                        atari_preprocessing: bool = True, env_kwargs: dict | None = None,
                        num_envs: int = 1, backend: str = "local") -> str:
    """``auto`` -> Gymnasium's array-at-once ``CartPoleVectorEnv`` for CartPole ids
    (``vector_entry_point``); ``envpool`` for ALE v5 ids when EnvPool is installed and the DQN
    preprocessing is on (EnvPool's C++ preprocessing gives the frames of ``atari_wrappers``,
    pixel for pixel: tests/rollout/test_envpool_atari.py; docs/atari.md); else ``sync``:
    Gymnasium's own envs in this process (for cheap envs faster than ``async``'s pipes; for MuJoCo
    the very env the run is evaluated on: EnvPool's ports are faithful, benchmarks/envpool_port.py,
    but run another MuJoCo build for Ant and other random streams; an opt-in). Vine
    sampling needs ``sync`` (it snapshots the envs one by one, in-process), and so do ``env_kwargs``
    (EnvPool and the array-at-once CartPole take none) and a user's ``env_fn``. ``split`` (which
    takes env_kwargs) for the MuJoCo envs of SPLIT_MUJOCO
    on a local run (not Ray: each worker is one core) where ``splits_well``: the batches of ``sync``,
    bit for bit, stepped on two cores. ``envpool`` where EnvPool is not installed (a
    config.toml from another machine) falls back to ``sync`` with a one-line note. Any other mode
    is returned as it is."""
    from trpo.envs.ids import is_atari, lookup
    from trpo.envs.vector_cartpole import has_vector_cartpole

    if mode == "envpool":
        import importlib.util

        if importlib.util.find_spec("envpool") is None:
            print("note: vector_mode 'envpool' needs EnvPool (pip install 'trpo[envpool]'), which is not "
                  "installed: using 'sync', Gymnasium's own envs", file=sys.stderr)
            return "sync"
    if mode != "auto":
        return mode
    if custom_env or sampler != "single-path":
        return "sync"
    name = lookup(env_id)
    if backend == "local" and splits_well(name, num_envs):  # env_kwargs too (Ant without contact forces)
        return "split"
    if env_kwargs:
        return "sync"
    if has_vector_cartpole(name):
        return "vector_entry_point"
    if atari_preprocessing and is_atari(name):
        from trpo.envs.envpool_env import envpool_knows

        if envpool_knows(name):
            return "envpool"
    return "sync"


def resolve_critic_fit(mode: str, algo: str, device: torch.device | str, recurrent: bool = False) -> str:
    """``auto`` -> ``process`` for learners whose critic fit is independent of their policy step
    (trpo, npg) with an MLP critic on a CPU with 2+ cores where ``fork`` exists (Linux), else
    ``inline``. ``process`` where it cannot work is a ConfigError."""
    from trpo.algos import ALGOS
    from trpo.system import usable_cores

    if recurrent:  # the helper fits flat batches; a recurrent critic's are sequences
        if mode == "process":
            raise ConfigError("config key 'critic_fit' = 'process' fits MLP critics only; recurrent policies "
                              "(policy gru/lstm) fit theirs inline: use 'inline' or 'auto'")
        return "inline"
    helper = ALGOS[algo].critic_helper
    cpu = torch.device(device).type == "cpu"
    forkable = sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()
    if mode == "auto":
        return "process" if helper and cpu and forkable and usable_cores() >= 2 else "inline"
    if mode == "process" and not (helper and cpu and forkable):
        why = (f"algo {algo!r} fits its critic together with the policy" if not helper else
               "the update runs on a GPU" if not cpu else "this platform has no fork()")
        raise ConfigError(f"config key 'critic_fit' = 'process' needs trpo/npg on a CPU under Linux: {why}; "
                          "use 'inline' or 'auto'")
    return mode


def sampler_key(cfg: Config) -> str:
    """The registry key of the run's sampler (``trpo.rollout.SAMPLERS``): on the Ray backend the
    distributed sampler (which samples single path or vine, as ``cfg.sampler`` says), else
    ``cfg.sampler``; a learner with its own sampler (a3c's ``async``) keeps it on any backend."""
    from trpo.algos import ALGOS

    if cfg.backend == "ray" and cfg.sampler in ("single-path", "vine") and cfg.sampler in ALGOS[cfg.algo].samplers:
        return "ray"
    return cfg.sampler


def pick_preset(cfg: Config):
    """The preset ``cfg.preset`` names (``auto``: the env's own or its family's, for the algorithm),
    or None."""
    from trpo import presets
    from trpo.envs.ids import is_atari, is_gym_mujoco

    if cfg.preset == "":
        return None
    if cfg.preset == "auto":
        family = "mujoco" if is_gym_mujoco(cfg.env_id) else "atari" if is_atari(cfg.env_id) else ""
        return presets.auto(cfg.env_id, cfg.algo, family)
    return presets.get(cfg.preset)


def layer(cfg: Config) -> Config:
    """The one layering of a run's configuration: defaults < preset < config file < what the user
    gave. Every key ``cfg`` was given (``Config(...)``, ``replace``, ``--set``, a flag, a
    ``--config`` file: ``Config.sources``) keeps its value, whatever that value is; the preset
    sets the others it names; the rest keep their defaults. ``preset`` becomes the name applied
    ("" for none) and ``provenance`` records, per key, where its value came from.

    One derived change: a ``batch_steps`` the user did not give that ``num_envs`` does not divide
    (``--num-envs 3``) is rounded down to a multiple of it, and says so in its provenance."""
    p = pick_preset(cfg)
    given = cfg.sources
    prov = {k: given.get(k, "default") for k in FIELDS}
    changes: dict = {"preset": p.name if p else ""}
    if p is not None:
        unknown = sorted(set(p.config) - set(FIELDS))
        if unknown:
            raise ConfigError(f"preset {p.name!r} sets unknown config key {unknown[0]!r}")
        for k, v in p.config.items():
            if k not in given:
                changes[k] = v
                prov[k] = f"preset {p.name}"
    num_envs = changes.get("num_envs", cfg.num_envs)
    batch = changes.get("batch_steps", cfg.batch_steps)
    if "batch_steps" not in given and batch % num_envs:
        changes["batch_steps"] = max(1, batch // num_envs) * num_envs
        prov["batch_steps"] += f", rounded down to a multiple of num_envs = {num_envs}"
    out = from_dict({**cfg.to_dict(), **changes}, source=None)  # validated: a preset's values too
    out._sources = given  # type: ignore[attr-defined]  # not fields: Config.sources, .provenance
    out._provenance = prov  # type: ignore[attr-defined]  # not a field
    return out


def describe_layering(cfg: Config) -> str:
    """One line: the preset a layered config applied, the keys it set, and the keys of the preset
    that the user's values replaced."""
    p = pick_preset(cfg) if cfg.preset else None
    if p is None:
        return "preset: none (defaults and your keys)"
    prov = cfg.provenance
    set_ = [f"{k}={_fmt(getattr(cfg, k))}" for k in p.config if prov[k].startswith(f"preset {p.name}")]
    kept = [f"{k}={_fmt(getattr(cfg, k))} (preset: {_fmt(v)})" for k, v in p.config.items()
            if not prov[k].startswith("preset") and k in cfg.given]
    return (f"preset {p.name}: set {', '.join(set_) or 'nothing'}"
            + (f"; yours kept: {', '.join(kept)}" if kept else ""))


def unread_keys(cfg: Config, image: bool | None = None, gaussian: bool | None = None,
                own: tuple[bool, bool] = (False, False), atari: bool | None = None) -> dict[str, str]:
    """The keys a person chose (``trpo.config.callers_own``: a config file's too) that this run
    never reads, each with why, in the order of the config's fields: a learner's key the run's
    algorithm has no use for (``trpo.algos.LEARNER_KEYS``: ``--set clip_range=0.1`` with trpo), a
    recurrent policy's keys with an MLP, the vine's with
    another sampler, Ray's on the local backend; with ``image`` known, the MLP's keys on image
    observations (the CNN and a linear head take its place) or ``cnn`` on vector ones; with
    ``gaussian`` known, the Gaussian's keys with discrete actions; with ``own`` (one's own actor,
    one's own critic: ``trpo.train(actor=, critic=)``), the built-in networks' keys they replace;
    with ``atari`` known (an ALE id made by this package, not an ``env_fn``), ``atari_preprocessing``
    elsewhere. The observation normaliser's: ``clip_obs`` with ``normalize_obs`` off, both on images
    (the CNN scales frames itself). They stay in the config as given; they change nothing in this run."""
    from trpo.algos import LEARNER_KEYS

    why = {k: f"algo {cfg.algo!r} does not read it; {', '.join(v)} do" for k, v in LEARNER_KEYS.items()
           if cfg.algo not in v}
    if cfg.policy == "mlp":
        why.update(dict.fromkeys(("rnn_hidden", "seq_len"), "policy 'mlp': no recurrent cell"))
    if cfg.backend == "local":  # Ray's keys: the ray backend's, and a3c's workers (Ray actors, num_envs of them)
        ray_keys = ("workers",) if cfg.sampler == "async" else ("workers", "ray_address", "worker_timeout_s",
                                                                 "max_worker_failures")
        why.update(dict.fromkeys(ray_keys, "a3c: num_envs workers" if cfg.sampler == "async"
                                 else "backend 'local': no Ray workers"))
    if cfg.sampler != "vine":
        why.update(dict.fromkeys(("vine_trunk_fraction", "vine_actions", "vine_branch_length", "vine_rollout_states"),
                                 f"sampler {cfg.sampler!r}: no vine rollouts"))
    if image and cfg.policy == "mlp":
        why.update(dict.fromkeys(("hidden", "actor_hidden", "critic_hidden", "activation"),
                                 "image observations: a CNN trunk (cnn) and a linear head replace the MLP"))
    if image is False:
        why["cnn"] = "vector observations: no CNN"
    if not cfg.normalize_obs:
        why["clip_obs"] = "normalize_obs is off: observations are not normalised, so not clipped"
    if image:
        why.update(dict.fromkeys(("normalize_obs", "clip_obs"), "image observations: the CNN scales frames itself"))
    if atari is False:
        why["atari_preprocessing"] = "not an ALE env made by trpo: no Atari wrappers to turn on or off"
    own_actor, own_critic = own
    if own_actor:
        why["actor_hidden"] = "your own actor network"
    if own_critic:
        why["critic_hidden"] = "your own critic network"
    if own_actor and own_critic:
        why.update(dict.fromkeys(("hidden", "activation", "ortho_init", "cnn"), "your own actor and critic networks"))
    if gaussian is False:
        why.update(dict.fromkeys(("log_std_init", "clipped_action_logprob"), "discrete actions: no Gaussian"))
    # the keys a person chose (flags, --set, Config(...), replace, a config file's), not the ones a
    # run's config.toml lists because that run took them from a default or a preset
    mine = {k for k, source in cfg.sources.items() if callers_own(source)}
    return {k: why[k] for k in FIELDS if k in mine and k in why}


def describe_unread(cfg: Config, image: bool | None = None, gaussian: bool | None = None,
                    own: tuple[bool, bool] = (False, False), atari: bool | None = None) -> str | None:
    """One line naming ``unread_keys`` and why each is not read, or None."""
    keys = unread_keys(cfg, image, gaussian, own, atari)
    if not keys:
        return None
    return ("note: given, but not read by this run: " + "; ".join(f"{k} ({why})" for k, why in keys.items())
            + ". Kept as given; no effect on this run")


def _fmt(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else format(v, "g") if isinstance(v, float) else str(v)


def resolve_run(cfg: Config, env_fn: Callable | None = None, presets: bool = True) -> tuple[Config, EnvSpec]:
    """The resolved config and the run's EnvSpec (see the module docstring): ``layer`` (unless
    ``presets=False``: a resumed run, whose saved config was layered already), then every
    ``auto`` made concrete (recorded as ``, resolved`` in its provenance)."""
    from trpo.algos import ALGOS
    from trpo.envs.ids import lookup

    if env_fn is None:
        lookup(cfg.env_id)  # an unknown id fails here, before anything is built
    if cfg.video_every and cfg.eval_periodic_episodes:
        import importlib.util

        if importlib.util.find_spec("moviepy") is None:
            raise ConfigError("config key 'video_every' records videos with moviepy: pip install 'trpo[video]'")
    if presets:
        cfg = layer(cfg)
    samplers = ALGOS[cfg.algo].samplers
    sampler = cfg.sampler if cfg.sampler in samplers else samplers[0]
    device = resolve_device(cfg.device)
    eval_every = cfg.eval_every or max(1, round(cfg.total_steps / 20 / cfg.batch_steps)) * cfg.batch_steps
    concrete = dict(
        sampler=sampler, device=str(device) if cfg.device == "auto" else cfg.device,
        vector_mode=resolve_vector_mode(cfg.env_id, cfg.vector_mode, sampler, env_fn is not None,
                                        cfg.atari_preprocessing, cfg.env_kwargs, cfg.num_envs, cfg.backend),
        critic_fit=resolve_critic_fit(cfg.critic_fit, cfg.algo, device, cfg.policy != "mlp"),
        lr=cfg.lr or default_lr(cfg.algo), eval_every=eval_every)
    prov = cfg.provenance
    marks = {k: prov[k] + ", resolved" for k, v in concrete.items()
             if v != getattr(cfg, k) and not prov[k].endswith(", resolved")}
    cfg = cfg.resolved(provenance=marks, **concrete)
    env = EnvSpec.from_config(cfg, env_fn)
    if env.vector:
        check_user_vector_env(cfg, env)
    return cfg, env


def check_user_vector_env(cfg: Config, env: EnvSpec) -> None:
    """A user's VectorEnv (``env_fn`` returns one) runs with the single-path sampler in this process,
    with as many envs as it has; the rest is refused with one line saying why."""
    why = "env_fn returns a gymnasium VectorEnv"
    if env.vector != cfg.num_envs:
        raise ConfigError(f"{why} of {env.vector} envs but num_envs = {cfg.num_envs}: set num_envs = {env.vector}")
    key = sampler_key(cfg)
    if key == "vine":
        raise ConfigError(f"sampler 'vine' snapshots each env of the trunk and rolls out branches in one env; {why}, "
                          "whose envs trpo cannot reach one by one: return one env from env_fn, or use "
                          "sampler 'single-path'")
    if key != "single-path":
        raise ConfigError(f"sampler {key!r} ({'backend ray' if key == 'ray' else f'algo {cfg.algo!r}'}) makes an env "
                          f"in each worker; {why}, which runs in this process only: return one env from env_fn")
    if cfg.video_every and cfg.eval_periodic_episodes:
        raise ConfigError(f"config key 'video_every' records an episode of one env; {why}: set video_every = 0")
