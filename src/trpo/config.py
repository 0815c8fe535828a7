"""The run configuration: one flat dataclass; each field's type, default, range or choices and help
text are declared once, on the field (``_f``), and everything else derives from there: validation,
``--set`` typing, ``trpo config`` / ``trpo train --help``, ``help(trpo.Config)``, the CLI's choices.

Files are TOML (read with ``tomllib``, written with ``tomli_w``); nothing is ever evaluated. A few
fields are resolved to the concrete value a run uses before anything is built
(``trpo.resolve.resolve_run``): ``vector_mode = "auto"``, ``critic_fit = "auto"``, ``device =
"auto"``, ``lr = 0`` (the algorithm's default); a run directory's ``config.toml`` holds the resolved
values, so ``--config RUN/config.toml`` reproduces the run.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from trpo.errors import ConfigError

_current_section = ""


def _section(name: str) -> None:
    """Fields declared after this call belong to section ``name`` (for help listings)."""
    global _current_section
    _current_section = name


def _f(default: Any, help: str, range: tuple | None = None, choices: tuple | None = None,
       resumable: bool = False) -> Any:
    """A config field: its default, help text, numeric range ``(low, high, low_inclusive,
    high_inclusive)`` (None = unbounded) or allowed values, and whether ``trpo train --resume`` may
    change it (``resumable``: the length, the hardware and backends, evaluation and bookkeeping;
    anything else would make the continuation another run than its config.toml says). Choices of
    ``None`` that come from a registry (algorithms, samplers) are filled in by ``choices_of``."""
    meta = {"help": help, "range": range, "choices": choices, "section": _current_section, "resumable": resumable}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Config:
    _section("the run")
    env_id: str = _f("CartPole-v1", help=(
        "Gymnasium environment id, or ``module:EnvId`` (the module is imported first, as gym.make "
        "does; Box observations; Discrete, MultiDiscrete or Box actions)."))
    env_kwargs: dict = _f({}, help=(  # noqa: RUF009 - _f is a field(): dicts get a default_factory
        "Keyword arguments for gym.make (``--env-kwargs KEY=VALUE``; a TOML table in config files)."))
    algo: str = _f("trpo", choices=None, help="Algorithm (the registry ``trpo.algos.ALGOS``).")
    preset: str = _f("auto", help=(
        "Settings shipped with the package (``trpo presets``) for the keys left at their defaults: "
        "``auto`` (the env's own preset or its family's, e.g. ``mujoco``, if one is shipped for "
        "the algorithm), a preset's name, or empty for none. config.toml records the one applied."))
    total_steps: int = _f(1_000_000, range=(1, None, True, True),
                          help="Environment steps to train for (every simulated step counts).", resumable=True)
    seed: int = _f(0, range=(0, 2**32 - 1, True, True), help=(
        "Seeds torch, numpy, the action sampler and the environments; a CPU run is repeatable."))
    num_envs: int = _f(8, range=(1, 4096, True, True), help=(
        "Parallel environments in the vector env (``a3c``: the number of workers, one env each)."))
    vector_mode: str = _f("auto", choices=("auto", "sync", "async", "split", "envpool", "vector_entry_point"), help=(
        "``sync`` (one process) or ``async`` (a subprocess per env) Gymnasium vector env, ``split`` "
        "(``sync`` slices: one in this process, one per other core in a helper process, each "
        "running its whole batch for the built-in MLP policies; the same batches as ``sync``, bit "
        "for bit), ``envpool`` "
        "(EnvPool's C++ ports on a thread pool; ``pip install 'trpo[envpool]'``; results are "
        "evaluated on Gymnasium's env), ``vector_entry_point`` (Gymnasium's array-at-once "
        "CartPole), or ``auto``: ``vector_entry_point`` for CartPole ids, ``envpool`` for ALE v5 ids "
        "when EnvPool is installed and atari_preprocessing is on (the same frames as the Python "
        "wrappers), ``split`` for Hopper, Walker2d, Ant and Humanoid with 2+ envs on 2+ cores under "
        "Linux (measured faster there; a local run), else ``sync`` (Gymnasium's own env, the one the "
        "run is evaluated on). A checkpoint of ``sync`` resumes exactly under ``split`` and back."), resumable=True)
    sampler: str = _f("single-path", choices=None, help=(
        "``single-path`` (trajectories from pi_old), ``vine`` (TRPO paper Sec. 5.2; trpo, npg) or "
        "``async`` (a3c's workers); an algorithm with one sampler gets it."))
    backend: str = _f("local", choices=("local", "ray"), help=(
        "Where batches are sampled: ``local`` (this process and its vector env) or ``ray`` (rollout "
        "workers as Ray actors, each with its own vector env of ``num_envs`` envs; "
        "``pip install 'trpo[ray]'``; docs/scaling.md)."), resumable=True)
    workers: int = _f(0, range=(0, 4096, True, True), help=(
        "Ray rollout workers (``backend = ray``); 0 = one per CPU of the Ray instance."), resumable=True)
    ray_address: str = _f("", help=(
        "``backend = ray``: the cluster to join (``auto`` or ``HOST:PORT``, as ``ray.init``); empty "
        "starts a local Ray instance sized to this machine."), resumable=True)
    worker_timeout_s: float = _f(120.0, range=(0.0, None, False, True), help=(
        "``backend = ray``: a worker that has not returned its share of the batch after this many "
        "seconds is treated as dead (killed, restarted, its share re-sampled)."), resumable=True)
    max_worker_failures: int = _f(3, range=(1, 1000, True, True), help=(
        "``backend = ray``: consecutive worker failures after which the run stops (with a checkpoint)."),
        resumable=True)
    device: str = _f("cpu", choices=("cpu", "cuda", "auto"), help=(
        "Where the update runs: ``cpu``, ``cuda`` or ``auto``. Rollouts of MLP policies run on the CPU."),
        resumable=True)
    torch_threads: int = _f(1, range=(1, 1024, True, True), help=(
        "torch intra-op threads of the trainer's process; 1 suits small MLPs on few cores (the envs get "
        "the other cores). The critic-fit helper (``critic_fit = \"process\"``) always runs one."), resumable=True)
    keep_freed_memory: bool = _f(False, help=(
        "Ask glibc's malloc to keep freed memory for reuse instead of returning it to the kernel "
        "(``trpo.system.keep_freed_memory``): every full-batch pass over frames allocates hundreds of "
        "MB, which the kernel otherwise zeroes afresh each time (about half of Pong's CPU time). The "
        "atari presets turn it on. Linux with glibc only; elsewhere it does nothing."), resumable=True)

    _section("batch and advantages")
    batch_steps: int = _f(1024, range=(1, None, True, True), help=(
        "Environment steps per iteration, over all envs (a multiple of ``num_envs``)."))
    gamma: float = _f(0.99, range=(0.0, 1.0, True, False), help="Discount factor, in [0, 1).")
    gae_lambda: float = _f(0.95, range=(0.0, 1.0, True, True), help=(
        "GAE lambda in [0, 1]: 0 is the one-step TD advantage, 1 is Monte Carlo minus the baseline."))
    normalize_advantages: bool = _f(True, help="Standardise advantages per batch (mean 0, std 1).")
    normalize_obs: bool = _f(True, help=(
        "Running mean/std observation normalisation (statistics saved with the checkpoint). Image "
        "observations are never normalised this way: the CNN scales their pixels by 1/255."))
    normalize_rewards: bool = _f(True, help=(
        "Scale rewards by the running std of the discounted return (critic targets of order 1)."))
    clip_obs: float = _f(10.0, range=(0.0, None, False, True),
                         help="Clip normalised observations to [-clip_obs, clip_obs].")

    _section("networks")
    hidden: tuple[int, ...] = _f((64, 64), help=(
        "Hidden layer sizes of the actor and of the critic (MLPs of ``activation``; unused for image "
        "observations); ``actor_hidden`` / ``critic_hidden`` override it for one of them."))
    actor_hidden: tuple[int, ...] = _f((), help=(
        "Hidden layer sizes of the actor's MLP (of a recurrent actor: the MLP after its cell); empty "
        "(the default): ``hidden``."))
    critic_hidden: tuple[int, ...] = _f((), help=(
        "Hidden layer sizes of the critic's MLP (of a recurrent critic: the MLP after its cell); "
        "empty (the default): ``hidden``."))
    activation: str = _f("tanh", choices=("tanh", "relu", "elu", "gelu", "silu"), help=(
        "Activation of the actor's and the critic's hidden layers (the MLPs; the CNN trunks keep "
        "ReLU). Every choice keeps the fast paths: numpy acting, the written-out critic gradient "
        "and Fisher-vector product (elu: alpha 1; gelu: exact, with erf)."))
    ortho_init: bool = _f(True, help=(
        "Orthogonal initialisation of the MLP layers (gain sqrt 2 on hidden layers, 0.01 on the "
        "actor's output, 1 on the critic's; zero biases), the peers' default. False: PyTorch's default "
        "Linear init. The CNN trunks and recurrent cells keep their orthogonal init."))
    cnn: str = _f("trpo", choices=("trpo", "nature", "minatar"), help=(
        "Network for image observations (a 3-D uint8 Box, e.g. Atari frames), actor and critic each "
        "their own: ``trpo``, the TRPO paper's (Schulman et al. 2015, Fig. 3: two conv layers of 16 "
        "4x4 filters with stride 2, 20 fully connected units), ``nature``, the DQN network (Mnih et "
        "al. 2015: 32 8x8/4, 64 4x4/2, 64 3x3/1 filters, 512 units), or ``minatar``, the MinAtar "
        "paper's (Young & Tian 2019: 16 3x3 filters, 128 units; used automatically on images too "
        "small for the chosen network). ReLU activations."))
    shared_trunk: bool = _f(False, help=(
        "Image observations, ppo and ppo-kl: actor and critic read one CNN trunk (``cnn``), trained "
        "by PPO's joint loss, so the critic's value loss shapes the features the policy reads "
        "(CleanRL's ppo_atari network). The other learners fit the critic apart from the policy "
        "step (a trust-region step must not be moved by a critic fit after it) and reject it."))
    atari_preprocessing: bool = _f(True, help=(
        "ALE ids (``ALE/Pong-v5``): no-op starts, frame skip 4 with max-pooling, 84x84 grayscale, "
        "4 stacked frames (``trpo.envs.make.atari_wrappers``). False: the env's raw frames."))
    log_std_init: float = _f(0.0, range=(-5.0, 2.0, True, True),
                             help="Initial log standard deviation of a Gaussian policy.")
    clipped_action_logprob: bool = _f(False, help=(
        "Gaussian policies on a bounded Box: log pi(a|s) of a sampled action at or beyond a bound is "
        "the log of the Gaussian's mass beyond that bound, the probability of the clipped action the "
        "env receives (the clipped-action policy gradient, Fujita & Maeda 2018), instead of the "
        "density of the unclipped sample (which stays the stored action). The same policy gradient "
        "in expectation with less variance: samples beyond a bound no longer add noise of size "
        "(a - mu) / s^2 to the mean's gradient. On Hopper-v5 PPO 1M (seed 0) the mean action then "
        "stayed as good as sampling, where with the density it fell to ~100 by the end of the run. "
        "KL and entropy stay the Gaussian's (its KL bounds the clipped one's)."))
    policy: str = _f("mlp", choices=("mlp", "gru", "lstm"), help=(
        "``mlp`` (Markov: acts on the current observation) or a recurrent actor and critic, ``gru`` or "
        "``lstm`` (each its own cell of ``rnn_hidden`` units before the ``hidden`` MLP; the hidden state "
        "carried through each episode; every algorithm but a3c; docs/recurrent.md)."))
    rnn_hidden: int = _f(64, range=(1, 65_536, True, True), help="Units of the GRU/LSTM cell (``policy`` gru or lstm).")
    seq_len: int = _f(16, range=(1, None, True, True), help=(
        "Recurrent policies: the batch is trained on chunks of this many steps of one env, each from "
        "the hidden state stored at its first step (truncated backpropagation through time); must "
        "divide the steps per env (batch_steps / num_envs)."))

    _section("trust region (trpo, npg)")
    max_kl: float = _f(0.01, range=(0.0, None, False, True),
                       help="delta: the bound on the mean KL(pi_old || pi_new) per update.")
    cg_iters: int = _f(10, range=(1, 1000, True, True), help="Conjugate-gradient iterations for F x = g.")
    cg_damping: float = _f(0.1, range=(0.0, None, True, True),
                           help="Damping added to the Fisher-vector product: (F + damping I) v.")
    kl_per_action_dim: bool = _f(False, help=(
        "Read max_kl and cg_damping per action dimension (continuous actions): with d action "
        "dimensions the run bounds the KL by max_kl * d and damps with cg_damping * d, which is "
        "sb3-contrib's TRPO (its KL is the mean over action dimensions, so RL-Zoo's MuJoCo "
        "results used this trust region). config.toml keeps max_kl and cg_damping as given; "
        "no effect for discrete actions."))
    fvp_subsample: float = _f(1.0, range=(0.0, 1.0, False, True), help=(
        "Fraction of a single-path batch used for Fisher-vector products, in (0, 1]; the TRPO paper "
        "uses 0.1 (App. C.1); docs/benchmarks.md measures the trade-off. Vine always uses all of "
        "its rollout states."))
    fvp: str = _f("gauss-newton", choices=("hessian", "gauss-newton"), help=(
        "Fisher-vector product form: ``hessian`` (Hessian of the mean KL, double backward) or "
        "``gauss-newton`` (J^T M J v with the closed-form Fisher M of the head); equal at theta_old."))
    ls_max_backtracks: int = _f(10, range=(1, 1000, True, True),
                                help="Line-search step shrinks before the step is rejected.")
    ls_shrink: float = _f(0.8, range=(0.0, 1.0, False, False), help="Line-search shrink factor in (0, 1).")
    entropy_coef: float = _f(0.0, range=(0.0, None, True, True),
                             help="Weight of the entropy bonus added to every method's policy objective.")

    _section("critic")
    critic_lr: float = _f(1e-3, range=(0.0, None, False, True), help="Adam learning rate of the critic V_psi.")
    critic_epochs: int = _f(10, range=(0, 10_000, True, True), help="Passes over the batch per critic fit.")
    critic_minibatch: int = _f(128, range=(1, None, True, True), help=(
        "Minibatch size of the critic fit (docs/benchmarks.md compares 128 and 256)."))
    critic_fit: str = _f("auto", choices=("auto", "process", "inline"), help=(
        "Where trpo/npg fit the critic: ``process`` (a forked helper process fits it on another "
        "core while the policy step runs here; bitwise the same result), ``inline`` (after the "
        "policy step, in this process) or ``auto``: ``process`` on a CPU with 2+ cores under "
        "Linux, else ``inline``."), resumable=True)

    _section("first-order policy-gradient methods (reinforce, a2c, a3c, ppo, ppo-kl)")
    lr: float = _f(0.0, range=(0.0, None, True, True), help=(
        "Adam learning rate of the policy (and, for ppo/ppo-kl, the critic); 0 = the algorithm's "
        "default (reinforce/a2c/a3c 1e-3, ppo/ppo-kl 3e-4 as SB3/CleanRL)."))
    anneal_lr: bool = _f(True, help=(
        "Decay ``lr`` linearly to 0 over ``total_steps`` (CleanRL's default); first-order methods only."))
    max_grad_norm: float = _f(0.5, range=(0.0, None, True, True), help=(
        "Clip the global gradient norm of each first-order step to this (0 = no clipping)."))
    baseline: str = _f("value", choices=("none", "mean", "value", "optimal"), help=(
        "reinforce: ``none``, ``mean`` (batch mean return), ``value`` (V_psi(s_t)) or ``optimal`` "
        "(b = E[||grad log pi||^2 R] / E[||grad log pi||^2]; docs/algorithms.md)."))
    advantage_estimator: str = _f("gae", choices=("td", "nstep", "gae"), help=(
        "a2c, a3c: ``td`` (one-step), ``nstep`` (``n_step`` rewards) or ``gae`` (gae_lambda)."))
    n_step: int = _f(5, range=(1, 100_000, True, True), help=(
        "a2c with ``advantage_estimator = \"nstep\"``: rewards summed before bootstrapping."))
    pg_l2_eps: float = _f(0.01, range=(0.0, None, False, True), help=(
        "pg-l2: epsilon of the parameter-space step ||theta_new - theta_old||^2 = eps."))
    epochs: int = _f(10, range=(1, 10_000, True, True), help="ppo, ppo-kl: passes over the batch per update.")
    minibatch_size: int = _f(64, range=(1, None, True, True), help="ppo, ppo-kl: minibatch size of the Adam steps.")
    clip_range: float = _f(0.2, range=(0.0, 1.0, False, False), help=(
        "ppo: epsilon of the clipped ratio, clip(r, 1 - eps, 1 + eps) (PPO paper eq. 7)."))
    clip_value: bool = _f(False, help=(
        "ppo, ppo-kl: clip the value update to +-clip_range around V_old (as OpenAI baselines)."))
    vf_coef: float = _f(0.5, range=(0.0, None, True, True), help="ppo, ppo-kl: weight of the value loss.")
    kl_target: float = _f(0.01, range=(0.0, None, False, True),
                          help="ppo-kl: d_targ of the adaptive KL penalty (PPO paper Sec. 4).")
    kl_coef_init: float = _f(1.0, range=(0.0, None, False, True),
                             help="ppo-kl: initial penalty coefficient beta.")

    _section("vine sampling (--sampler vine; TRPO paper Sec. 5.2, docs/vine.md)")
    vine_trunk_fraction: float = _f(0.5, range=(0.0, 1.0, False, False), help=(
        "Fraction of ``batch_steps`` spent on trunk trajectories; the branches get the rest."))
    vine_actions: int = _f(0, range=(0, 4096, True, True), help=(
        "K actions per rollout state: 0 = every action of a Discrete space (else 4); K draws from pi_old."))
    vine_branch_length: int = _f(64, range=(1, None, True, True), help=(
        "Steps of each branch rollout (the action a_k, then pi_old), fewer where the episode ends."))
    vine_rollout_states: int = _f(0, range=(0, None, True, True), help=(
        "N rollout states per iteration; 0 = as many as the branch budget allows (at least 1)."))

    _section("evaluation and bookkeeping")
    eval_every: int = _f(0, range=(0, None, True, True), help=(
        "Env steps between periodic deterministic evaluations (on separately seeded envs; written "
        "to metrics.csv as eval_return_mean/std; the best policy kept as checkpoints/best); "
        "0 = about 20 over the run."), resumable=True)
    eval_periodic_episodes: int = _f(5, range=(0, 100_000, True, True), help=(
        "Episodes of each periodic evaluation; 0 = no periodic evaluation."), resumable=True)
    eval_episodes: int = _f(10, range=(1, 100_000, True, True), help=(
        "Episodes of the final deterministic evaluation (at least 10 for ``summary.json``)."), resumable=True)
    stop_at_return: float = _f(math.inf, help=(
        "Stop (with a checkpoint) once a periodic evaluation's mean return reaches this; inf = never."), resumable=True)
    video_every: int = _f(0, range=(0, None, True, True), help=(
        "Record one episode video every this many periodic evaluations into RUN/videos "
        "(``pip install 'trpo[video]'``); 0 = never."), resumable=True)
    track: str = _f("none", choices=("none", "wandb"), help=(
        "Also log metrics, config and summary to Weights & Biases (``pip install 'trpo[wandb]'``; "
        "WANDB_MODE=offline works without a network). TensorBoard is always written."), resumable=True)
    warnings: bool = _f(True, help=(
        "Print the debugging warnings (entropy collapse, tiny KL, useless critic, exploding "
        "observations), each at most once per run."), resumable=True)
    checkpoint_every: int = _f(10, range=(1, None, True, True),
                               help="Save a checkpoint every this many iterations (and at the end).", resumable=True)
    keep_checkpoints: int = _f(3, range=(1, 1000, True, True), help=(
        "How many most recent checkpoints to keep (checkpoints/best is never rotated away)."), resumable=True)
    check_env: bool = _f(True, help="Run trpo's own checks and Gymnasium's env checker before training "
                                    "(the checker not on the envs Gymnasium and ALE ship: their test suites run it).")

    # ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in TUPLE_KEYS:
            d[k] = list(getattr(self, k))
        return d

    def to_toml(self, provenance: dict[str, str] | None = None) -> str:
        """The config as TOML; with ``provenance``, a ``[provenance]`` table after the keys saying
        where each value came from (``load_toml`` reads past it)."""
        text = tomli_w.dumps(self.to_dict())
        if provenance:
            text += "\n" + tomli_w.dumps({PROVENANCE: {k: provenance[k] for k in FIELDS if k in provenance}})
        return text

    # --- which keys the caller gave -------------------------------------------------------------
    # ``Config(cg_iters=10)`` gave cg_iters, ``replace(cg_iters=10)`` gives it, ``load_toml(path)``
    # gives every key of the file (source ``file PATH``). The layering (``trpo.resolve.layer``) keeps
    # every given key, whatever its value, and fills the others from the preset, then the defaults.
    @property
    def sources(self) -> dict[str, str]:
        """The keys the caller gave, each with where it came from (``user`` or ``file PATH``)."""
        return dict(self.__dict__.get("_sources", {}))

    @property
    def given(self) -> frozenset[str]:
        return frozenset(self.sources)

    @property
    def provenance(self) -> dict[str, str]:
        """Where every key's value came from: ``default``, ``preset NAME``, ``file PATH`` or ``user``
        (``, resolved`` where an ``auto`` was made concrete), as the layering recorded it; before
        the layering, the given keys' sources and ``default`` for the rest."""
        prov = self.__dict__.get("_provenance") or {}
        return {k: prov.get(k) or self.sources.get(k, "default") for k in FIELDS}

    def replace(self, _source: str = "user", **kw) -> Config:
        """A copy with ``kw`` changed and marked as given (by ``_source``)."""
        new = from_dict({**self.to_dict(), **kw}, source=None)
        new._sources = {**self.sources, **dict.fromkeys(kw, _source)}  # type: ignore[attr-defined]  # not a field (sources)
        new._provenance = {**self.__dict__.get("_provenance", {}), **dict.fromkeys(kw, _source)}  # type: ignore[attr-defined]  # not a field
        return new

    def resolved(self, provenance: dict[str, str] | None = None, **kw) -> Config:
        """A copy with ``kw`` changed by the package itself (a preset's value, an ``auto`` made
        concrete), not by the caller: what was given stays as it is; ``provenance`` updates the
        record of where values came from."""
        new = dataclasses.replace(self, **kw)
        new._sources = self.sources  # type: ignore[attr-defined]  # not a field (sources)
        new._provenance = {**self.__dict__.get("_provenance", {}), **(provenance or {})}  # type: ignore[attr-defined]  # not a field
        return new

    @property
    def steps_per_env(self) -> int:
        return self.batch_steps // self.num_envs


FIELDS = {f.name: f for f in fields(Config)}
TUPLE_KEYS = tuple(n for n, f in FIELDS.items() if f.type == "tuple[int, ...]")  # lists of layer sizes
EMPTY_ALLOWED = ("actor_hidden", "critic_hidden")  # empty: "as ``hidden``"
PROVENANCE = "provenance"  # the table of config.toml that records where each value came from
_dataclass_init = Config.__init__


@functools.wraps(_dataclass_init)
def _init(self, *args, **kw):
    _dataclass_init(self, *args, **kw)
    self._sources = dict.fromkeys([*list(FIELDS)[:len(args)], *kw], "user")


Config.__init__ = _init  # type: ignore[method-assign]  # records the keys the caller gave
# derived from the fields' declarations: (low, high, low_inclusive, high_inclusive), None = unbounded
RANGES: dict[str, tuple] = {n: f.metadata["range"] for n, f in FIELDS.items() if f.metadata["range"]}


def choices_of(name: str) -> tuple[str, ...] | None:
    """The allowed values of a field: its declared choices, or for ``algo`` and ``sampler`` the
    keys of their registries."""
    if name == "algo":
        from trpo.algos import ALGOS
        return tuple(ALGOS)
    if name == "sampler":
        from trpo.rollout import SAMPLERS
        return tuple(SAMPLERS)
    return FIELDS[name].metadata["choices"]


CHOICES: dict[str, tuple[str, ...]] = {n: c for n in FIELDS if (c := choices_of(n))}

# what ``trpo train --resume RUN`` may change: the fields declared ``resumable`` (another
# vector-env backend resumes from fresh envs, with a note)
RESUMABLE = tuple(n for n, f in FIELDS.items() if f.metadata["resumable"])


def default_lr(algo: str) -> float:
    """The learning rate ``lr = 0`` stands for (0.0 for methods without one)."""
    from trpo.algos import ALGOS
    return ALGOS[algo].default_lr if algo in ALGOS else 0.0


def describe_fields(width: int = 100) -> str:
    """Every config key with its type, default, range or choices and help, by section: what
    ``trpo config`` and ``trpo train --help`` print and ``help(trpo.Config)`` shows."""
    import textwrap

    from trpo.algos import LEARNER_KEYS

    out, section = [], None
    for name, f in FIELDS.items():
        if f.metadata["section"] != section:
            section = f.metadata["section"]
            out.append(f"\n[{section}]")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]  # not MISSING here
        allowed = choices_of(name)
        rng = f.metadata["range"]
        extra = ((f"; one of {', '.join(allowed)}" if allowed else "") + (f"; range {_fmt_range(*rng)}" if rng else "")
                 + (f"; read by {', '.join(LEARNER_KEYS[name])}" if name in LEARNER_KEYS else ""))
        ftype = f.type.replace("tuple[int, ...]", "list of int")
        out.append(f"  {name} ({ftype}, default {_fmt_default(default)}{extra})")
        out += textwrap.wrap(f.metadata["help"].replace("``", ""), width, initial_indent=" " * 6,
                             subsequent_indent=" " * 6)
    return "\n".join(out).lstrip("\n")


def _fmt_default(v: Any) -> str:
    if isinstance(v, tuple):
        return ",".join(map(str, v)) if v else "[]"
    if isinstance(v, str):
        return repr(v)
    return str(v)


def _fmt_range(lo, hi, lo_in, hi_in) -> str:
    left = "(-inf" if lo is None else ("[" if lo_in else "(") + f"{lo:g}"
    right = "inf)" if hi is None else f"{hi:g}" + ("]" if hi_in else ")")
    return f"{left}, {right}"


def _coerce(name: str, value: Any) -> Any:  # noqa: C901 - one flat branch per config type
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
    elif ftype == "dict":
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return dict(value)
    elif ftype == "str":
        if isinstance(value, str):
            return value
    elif ftype == "tuple[int, ...]":
        if isinstance(value, str):
            try:
                value = [int(v) for v in value.strip("()[] ").split(",") if v.strip()]
            except ValueError:
                pass
        if isinstance(value, (list, tuple)) and (value or name in EMPTY_ALLOWED) and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            return tuple(value)
        what = "a list of positive integers (empty: as 'hidden')" if name in EMPTY_ALLOWED else \
            "a non-empty list of positive integers"
        raise ConfigError(f"config key '{name}': expected {what}, got {value!r}")
    raise ConfigError(f"config key '{name}': expected {ftype}, got {value!r}")


def _check_shared_trunk(cfg: Config) -> None:
    from trpo.algos import ALGOS

    if not ALGOS[cfg.algo].joint_loss:
        able = ", ".join(a for a, e in ALGOS.items() if e.joint_loss)
        raise ConfigError(f"config key 'shared_trunk' = true needs a joint actor-critic loss; algo {cfg.algo!r} "
                          f"fits its critic apart (shared_trunk trains with {able})")
    if cfg.policy != "mlp":
        raise ConfigError(f"config key 'shared_trunk' = true: recurrent policies (policy = {cfg.policy!r}) "
                          "have their own encoders; use policy = 'mlp'")


def validate(cfg: Config) -> Config:
    """Reject out-of-range values with one line naming the key and the allowed range. Changes
    nothing (resolving ``auto`` values is ``trpo.resolve.resolve_run``'s job)."""
    from trpo.algos import ALGOS

    for name, (lo, hi, lo_in, hi_in) in RANGES.items():
        v = getattr(cfg, name)
        ok = isinstance(v, (int, float)) and math.isfinite(v)
        ok = ok and (lo is None or (v >= lo if lo_in else v > lo)) and (hi is None or (v <= hi if hi_in else v < hi))
        if not ok:
            raise ConfigError(f"config key '{name}' = {v!r} is out of range; "
                              f"allowed: {_fmt_range(lo, hi, lo_in, hi_in)}")
    for name, allowed in CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise ConfigError(f"config key '{name}' = {getattr(cfg, name)!r}; allowed: {', '.join(allowed)}")
    samplers = ALGOS[cfg.algo].samplers
    default = FIELDS["sampler"].default
    if cfg.sampler not in samplers and cfg.sampler != default:  # left at the default: the algorithm's own
        raise ConfigError(f"config key 'sampler' = {cfg.sampler!r} does not feed algo {cfg.algo!r}; "
                          f"allowed: {', '.join(samplers)}")
    if cfg.batch_steps % cfg.num_envs:
        raise ConfigError(f"config key 'batch_steps' = {cfg.batch_steps} must be a multiple of "
                          f"num_envs = {cfg.num_envs}")
    if cfg.policy != "mlp":
        if not ALGOS[cfg.algo].recurrent:
            able = ", ".join(a for a, e in ALGOS.items() if e.recurrent)
            raise ConfigError(f"config key 'policy' = {cfg.policy!r}: algo {cfg.algo!r} has no recurrent version; "
                              f"recurrent policies train with {able}")
        if cfg.backend == "ray":
            raise ConfigError(f"config key 'policy' = {cfg.policy!r} samples locally: backend 'ray' ships MLP "
                              "policies only (docs/recurrent.md)")
        if cfg.steps_per_env % cfg.seq_len:
            raise ConfigError(f"config key 'seq_len' = {cfg.seq_len} must divide the steps per env "
                              f"(batch_steps / num_envs = {cfg.steps_per_env})")
        if cfg.algo == "reinforce" and cfg.baseline == "optimal":
            raise ConfigError("config key 'baseline' = 'optimal' needs per-step gradients, which a recurrent policy "
                              "does not have; use 'value' or 'mean'")
    if cfg.shared_trunk:
        _check_shared_trunk(cfg)
    if not cfg.env_id:
        raise ConfigError("config key 'env_id' must not be empty")
    if math.isnan(cfg.stop_at_return):
        raise ConfigError("config key 'stop_at_return' must be a number or inf")
    return cfg


def from_dict(d: dict[str, Any], source: str | None = "user") -> Config:
    """Build and validate a Config; unknown keys are rejected with a suggestion. ``source``: where
    the keys of ``d`` come from (``user``, ``file PATH``), or None for a config that was already
    layered (a run's saved config): then no key counts as given."""
    kw = {}
    for key, value in d.items():
        if key not in FIELDS:
            close = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            shown = f"'{key}'" if isinstance(key, str) and key.isprintable() else repr(key)  # one line
            raise ConfigError(f"unknown config key {shown}{hint}")
        kw[key] = _coerce(key, value)
    cfg = validate(Config(**kw))
    cfg._sources = dict.fromkeys(kw, source) if source else {}  # type: ignore[attr-defined]  # not a field (sources)
    return cfg


def load_toml(path: str | Path) -> Config:
    """A config file: its keys are given (source ``file PATH``); a run's ``[provenance]`` table
    is read past."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    nested = [k for k, v in data.items() if isinstance(v, dict) and FIELDS.get(k, None) is not None
              and FIELDS[k].type != "dict"]
    if nested:
        raise ConfigError(f"config file {path}: tables are not supported (found [{nested[0]}]); use flat keys")
    saved = data.pop(PROVENANCE, None)
    cfg = from_dict(data, source=f"file {path}")
    if isinstance(saved, dict):  # a run's config.toml: every key is given, but only some were its caller's
        cfg._sources = {k: s if callers_own(saved.get(k, "user")) else f"{s} (its run's {saved[k]})"  # type: ignore[attr-defined]
                        for k, s in cfg.sources.items()}
    return cfg


def callers_own(source: str) -> bool:
    """Whether a value from ``source`` (``Config.sources``, a provenance entry) was chosen by a
    person: given in Python or on the command line (``user``), or written in a config file; not a
    key that a run's config.toml lists because that run took it from a default or a preset."""
    return source.startswith("user") or (source.startswith("file ") and " (its run's " not in source)


def parse_overrides(pairs: list[str], flag: str = "--set") -> dict[str, Any]:
    """Parse ``--set KEY=VALUE`` pairs (values typed later by the field's type)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"{flag} expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def parse_env_kwargs(pairs: list[str]) -> dict[str, Any]:
    """``--env-kwargs KEY=VALUE`` pairs; each VALUE read as a TOML value when it is one (numbers,
    booleans, quoted strings, arrays), else kept as a string: ``frameskip=1`` -> 1,
    ``render_mode=rgb_array`` -> "rgb_array"."""
    out = {}
    for key, value in parse_overrides(pairs, "--env-kwargs").items():
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value
    return out


Config.__doc__ = ("The run configuration (``trpo config`` prints the same list).\n\n" + describe_fields(90))
