"""The run configuration: one flat dataclass, every field documented, validated up front.

Files are TOML only (read with ``tomllib``, written with ``tomli_w``); nothing is ever evaluated.
Fields left at ``None`` take the algorithm's default when the config is resolved, so the resolved
``config.toml`` in a run directory always holds concrete values and reproduces the run.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomli_w

from trpo.errors import ConfigError


@dataclass
class Config:
    # --- the run -------------------------------------------------------------------------
    env_id: str = "CartPole-v1"
    """Gymnasium environment id (Box observations; Discrete, MultiDiscrete or Box actions)."""
    algo: str = "trpo"
    """Algorithm: see ``trpo.algos.ALGOS``."""
    total_steps: int = 1_000_000
    """Environment steps to train for (every simulated step counts)."""
    seed: int = 0
    """Seeds torch, numpy, the action sampler and the environments; a CPU run is repeatable."""
    num_envs: int = 8
    """Parallel environments in the vector env (``a3c``: the number of workers, one env each)."""
    vector_mode: str = "auto"
    """``sync`` (one process), ``async`` (one subprocess per env) Gymnasium vector env,
    ``envpool`` (C++ thread pool on every core; needs ``pip install 'trpo[bench]'``),
    ``vector_entry_point`` (Gymnasium's array-at-once CartPole: all carts in one numpy step), or
    ``auto``: ``vector_entry_point`` for CartPole, EnvPool for MuJoCo envs when it is installed and
    knows the id (1.6x sync's steps/s on Hopper here), else ``sync`` (the fastest for cheap envs).
    A run's config.toml records the mode used."""
    sampler: str = "single-path"
    """``single-path`` (trajectories from pi_old) or ``vine`` (TRPO paper §5.2)."""
    device: str = "cpu"
    """Where the update runs: ``cpu``, ``cuda`` or ``auto``. Rollouts of MLP policies run on the CPU."""
    torch_threads: int = 1
    """torch intra-op threads; 1 suits small MLPs on few cores (the envs get the other cores)."""

    # --- batch and advantages -------------------------------------------------------------
    batch_steps: int = 1024
    """Environment steps per iteration, over all envs (must be a multiple of ``num_envs``)."""
    gamma: float = 0.99
    """Discount factor, in [0, 1)."""
    gae_lambda: float = 0.95
    """GAE lambda in [0, 1]: 0 is the one-step TD advantage, 1 is Monte Carlo minus the baseline."""
    normalize_advantages: bool = True
    """Standardise advantages per batch (mean 0, std 1)."""
    normalize_obs: bool = True
    """Running mean/std observation normalisation (statistics saved with the checkpoint). Image
    observations are never normalised this way: the CNN scales their pixels by 1/255."""
    normalize_rewards: bool = True
    """Scale rewards by the running std of the discounted return (critic targets of order 1)."""
    clip_obs: float = 10.0
    """Clip normalised observations to [-clip_obs, clip_obs]."""

    # --- networks --------------------------------------------------------------------------
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer sizes of the actor and of the critic (tanh MLPs; unused for image observations)."""
    cnn: str = "trpo"
    """Network for image observations (a 3-D uint8 Box, e.g. Atari frames), actor and critic each
    their own: ``trpo``, the TRPO paper's (Schulman et al. 2015, Fig. 3: two conv layers of 16 4x4
    filters with stride 2, a fully connected layer of 20 units), or ``nature``, the DQN network
    (Mnih et al. 2015: 32 8x8/4, 64 4x4/2, 64 3x3/1 filters, 512 units). ReLU activations."""
    atari_preprocessing: bool = True
    """ALE ids (``ALE/Pong-v5``): no-op starts, frame skip 4 with max-pooling, 84x84 grayscale,
    4 stacked frames (``trpo.rollout.envs.atari_wrappers``). False: the env's raw frames."""
    log_std_init: float = 0.0
    """Initial log standard deviation of a Gaussian policy."""

    # --- trust region (trpo, npg) ---------------------------------------------------------------
    max_kl: float = 0.01
    """delta: the bound on the mean KL(pi_old || pi_new) per update."""
    cg_iters: int = 10
    """Conjugate-gradient iterations for F x = g."""
    cg_damping: float = 0.1
    """Damping added to the Fisher-vector product: (F + damping I) v."""
    fvp_subsample: float = 1.0
    """Fraction of a single-path batch used for Fisher-vector products, in (0, 1]; the paper uses
    0.1 (App. C.1). 0.2 makes CG ~2x cheaper, but together with a minibatch-256 critic it learned
    Pendulum-v1 worse (200k steps, seeds 0-2: -425, -137, -368 vs -129, -152, -127 with 1.0);
    docs/benchmarks.md. Vine always uses all of its (few hundred) rollout states."""
    fvp: str = "gauss-newton"
    """Fisher-vector product form: ``hessian`` (Hessian of the mean KL, double backward) or
    ``gauss-newton`` (J^T M J v with the closed-form Fisher M of the head); equal at theta_old."""
    ls_max_backtracks: int = 10
    """Line-search step shrinks before the step is rejected."""
    ls_shrink: float = 0.8
    """Line-search shrink factor in (0, 1)."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus added to every method's policy objective."""

    # --- critic -----------------------------------------------------------------------------
    critic_lr: float = 1e-3
    """Adam learning rate of the critic V_psi."""
    critic_epochs: int = 10
    """Passes over the batch per critic fit."""
    critic_minibatch: int = 128
    """Minibatch size of the critic fit (80 Adam steps per 1024-step batch; trpo/npg fit on the
    second core, see ``critic_fit``). Hopper-v5 at 100k steps, 16 seeds: mean 1,570 with 128 vs
    1,133 with 256 (the peer: 1,588 on 8 seeds); CartPole-v1 solved in a median 10k steps vs
    20k; docs/benchmarks.md."""
    critic_fit: str = "auto"
    """Where trpo/npg fit the critic: ``process`` (a forked helper process fits it on another
    core while the policy step runs here; bitwise the same result), ``inline`` (after the policy
    step, in this process) or ``auto``: ``process`` on a CPU with 2+ cores under Linux, else
    ``inline``. A run's config.toml records the one used."""

    # --- first-order policy-gradient methods (reinforce, a2c, ppo, ppo-kl; docs/algorithms.md) ---
    lr: float = 0.0
    """Adam learning rate of the policy (and, for ppo/ppo-kl, the critic); 0 = the algorithm's
    default (``DEFAULT_LR``: reinforce/a2c 1e-3, ppo/ppo-kl 3e-4 as SB3/CleanRL)."""
    anneal_lr: bool = True
    """Decay ``lr`` linearly to 0 over ``total_steps`` (CleanRL's default); first-order methods only."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm of each first-order step to this (0 = no clipping)."""
    baseline: str = "value"
    """reinforce: ``none``, ``mean`` (batch mean return), ``value`` (V_psi(s_t)) or ``optimal``
    (b = E[||grad log pi||^2 R] / E[||grad log pi||^2], seed 003 §3.3)."""
    advantage_estimator: str = "gae"
    """a2c: ``td`` (one-step, seed 003 §3.4.1), ``nstep`` (``n_step`` rewards) or ``gae`` (gae_lambda)."""
    n_step: int = 5
    """a2c with ``advantage_estimator = "nstep"``: rewards summed before bootstrapping."""
    pg_l2_eps: float = 0.01
    """pg-l2: epsilon of the parameter-space step ||theta_new - theta_old||^2 = eps (seed 003 §3.6.1)."""
    epochs: int = 10
    """ppo, ppo-kl: passes over the batch per update."""
    minibatch_size: int = 64
    """ppo, ppo-kl: minibatch size of the Adam steps."""
    clip_range: float = 0.2
    """ppo: epsilon of the clipped ratio, clip(r, 1 - eps, 1 + eps) (PPO paper eq. 7)."""
    clip_value: bool = False
    """ppo, ppo-kl: clip the value update to +-clip_range around V_old (as OpenAI baselines)."""
    vf_coef: float = 0.5
    """ppo, ppo-kl: weight of the value loss in the joint loss."""
    kl_target: float = 0.01
    """ppo-kl: d_targ of the adaptive KL penalty (PPO paper §4)."""
    kl_coef_init: float = 1.0
    """ppo-kl: initial penalty coefficient beta (lambda in seed 003)."""

    # --- vine sampling (--sampler vine; TRPO paper §5.2, docs/vine.md) ---------------------------
    vine_trunk_fraction: float = 0.5
    """Fraction of ``batch_steps`` spent on trunk trajectories; the branches get the rest."""
    vine_actions: int = 0
    """K actions per rollout state: 0 = every action of a Discrete space (else 4); K draws from pi_old."""
    vine_branch_length: int = 64
    """Steps of each branch rollout (the action a_k, then pi_old), fewer where the episode ends."""
    vine_rollout_states: int = 0
    """N rollout states per iteration; 0 = as many as the branch budget allows (at least 1)."""

    # --- bookkeeping --------------------------------------------------------------------------
    checkpoint_every: int = 10
    """Save a checkpoint every this many iterations (and at the end)."""
    keep_checkpoints: int = 3
    """How many most recent checkpoints to keep."""
    eval_episodes: int = 10
    """Episodes of the final deterministic evaluation (at least 10 for ``summary.json``)."""
    check_env: bool = True
    """Run Gymnasium's env checker and trpo's own checks before training."""

    # ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def replace(self, **kw) -> "Config":
        return from_dict({**self.to_dict(), **kw})

    @property
    def steps_per_env(self) -> int:
        return self.batch_steps // self.num_envs


FIELDS = {f.name: f for f in fields(Config)}

# (low, high, low_inclusive, high_inclusive) for numeric fields; None means unbounded.
RANGES: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "total_steps": (1, None, True, True), "seed": (0, 2**32 - 1, True, True),
    "num_envs": (1, 4096, True, True), "torch_threads": (1, 1024, True, True),
    "batch_steps": (1, None, True, True), "gamma": (0.0, 1.0, True, False),
    "gae_lambda": (0.0, 1.0, True, True), "clip_obs": (0.0, None, False, True),
    "log_std_init": (-5.0, 2.0, True, True), "max_kl": (0.0, None, False, True),
    "cg_iters": (1, 1000, True, True), "cg_damping": (0.0, None, True, True),
    "fvp_subsample": (0.0, 1.0, False, True), "ls_max_backtracks": (1, 1000, True, True),
    "ls_shrink": (0.0, 1.0, False, False), "entropy_coef": (0.0, None, True, True),
    "critic_lr": (0.0, None, False, True), "critic_epochs": (0, 10_000, True, True),
    "critic_minibatch": (1, None, True, True), "checkpoint_every": (1, None, True, True),
    "keep_checkpoints": (1, 1000, True, True), "eval_episodes": (1, 100_000, True, True),
    "vine_trunk_fraction": (0.0, 1.0, False, False), "vine_actions": (0, 4096, True, True),
    "vine_branch_length": (1, None, True, True), "vine_rollout_states": (0, None, True, True),
    "lr": (0.0, None, True, True), "max_grad_norm": (0.0, None, True, True), "n_step": (1, 100_000, True, True),
    "pg_l2_eps": (0.0, None, False, True), "epochs": (1, 10_000, True, True),
    "minibatch_size": (1, None, True, True), "clip_range": (0.0, 1.0, False, False),
    "vf_coef": (0.0, None, True, True), "kl_target": (0.0, None, False, True),
    "kl_coef_init": (0.0, None, False, True),
}
# ``lr = 0`` resolves to the algorithm's default (so config.toml always holds the value used).
DEFAULT_LR = {"reinforce": 1e-3, "a2c": 1e-3, "a3c": 1e-3, "ppo": 3e-4, "ppo-kl": 3e-4}
CHOICES = {
    "vector_mode": ("auto", "sync", "async", "envpool", "vector_entry_point"),
    "critic_fit": ("auto", "process", "inline"),
    "fvp": ("hessian", "gauss-newton"),
    "sampler": ("single-path", "vine"),
    "device": ("cpu", "cuda", "auto"),
    "baseline": ("none", "mean", "value", "optimal"),
    "advantage_estimator": ("td", "nstep", "gae"),
    "cnn": ("trpo", "nature"),
}


def _fmt_range(lo, hi, lo_in, hi_in) -> str:
    left = "(-inf" if lo is None else ("[" if lo_in else "(") + f"{lo:g}"
    right = "inf)" if hi is None else f"{hi:g}" + ("]" if hi_in else ")")
    return f"{left}, {right}"


def _coerce(name: str, value: Any) -> Any:
    """Check the type of one value (TOML already typed it; strings come from --set)."""
    ftype = FIELDS[name].type
    if ftype == "bool":
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, bool):
            return value
    elif ftype == "int":
        if isinstance(value, str):
            try:
                value = int(value.replace("_", "")) if "e" not in value.lower() else float(value)
            except ValueError:
                pass
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif ftype == "float":
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an int too large for a float
                pass
    elif ftype == "str":
        if isinstance(value, str):
            return value
    elif ftype == "tuple[int, ...]":
        if isinstance(value, str):
            try:
                value = [int(v) for v in value.strip("()[] ").split(",") if v.strip()]
            except ValueError:
                pass
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            return tuple(value)
        raise ConfigError(f"config key '{name}': expected a non-empty list of positive integers, got {value!r}")
    raise ConfigError(f"config key '{name}': expected {ftype}, got {value!r}")


def validate(cfg: Config) -> Config:
    """Reject out-of-range values with one line naming the key and the allowed range."""
    from trpo.algos import ALGOS  # late import: algos import config

    if cfg.lr == 0.0 and cfg.algo in DEFAULT_LR:
        cfg.lr = DEFAULT_LR[cfg.algo]

    for name, (lo, hi, lo_in, hi_in) in RANGES.items():
        v = getattr(cfg, name)
        ok = isinstance(v, (int, float)) and math.isfinite(v)
        ok = ok and (lo is None or (v >= lo if lo_in else v > lo)) and (hi is None or (v <= hi if hi_in else v < hi))
        if not ok:
            raise ConfigError(f"config key '{name}' = {v!r} is out of range; allowed: {_fmt_range(lo, hi, lo_in, hi_in)}")
    for name, allowed in CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise ConfigError(f"config key '{name}' = {getattr(cfg, name)!r}; allowed: {', '.join(allowed)}")
    if cfg.algo not in ALGOS:
        raise ConfigError(f"config key 'algo' = {cfg.algo!r}; allowed: {', '.join(ALGOS)}")
    if cfg.sampler == "vine" and cfg.algo not in ("trpo", "npg"):
        raise ConfigError(f"config key 'sampler' = 'vine' needs algo 'trpo' or 'npg' (the vine estimator is "
                          f"TRPO's); algo is {cfg.algo!r}")
    if cfg.batch_steps % cfg.num_envs:
        raise ConfigError(f"config key 'batch_steps' = {cfg.batch_steps} must be a multiple of num_envs = {cfg.num_envs}")
    if not cfg.env_id:
        raise ConfigError("config key 'env_id' must not be empty")
    return cfg


def from_dict(d: dict[str, Any]) -> Config:
    """Build and validate a Config; unknown keys are rejected with a suggestion."""
    kw = {}
    for key, value in d.items():
        if key not in FIELDS:
            close = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            shown = f"'{key}'" if isinstance(key, str) and key.isprintable() else repr(key)  # one line
            raise ConfigError(f"unknown config key {shown}{hint}")
        kw[key] = _coerce(key, value)
    return validate(Config(**kw))


def load_toml(path: str | Path) -> Config:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(f"config file {path}: tables are not supported (found [{nested[0]}]); use flat keys")
    return from_dict(data)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Parse ``--set KEY=VALUE`` pairs (values typed later by the field's type)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out
