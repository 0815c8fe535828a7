"""``trpo tune``: hyperparameter search with Optuna (RL-Zoo's integration is the model).

    trpo tune CartPole-v1 --algo trpo --trials 50 --total-steps 100000
    trpo train --config tune/CartPole-v1_trpo.toml --total-steps 1000000

Every trial is an ordinary training run (``trpo.train``) in ``tune/<env>_<algo>/trial_N``:

* sampler: TPE (multivariate), seeded with ``--seed`` (plus the number of trials already in the
  study, so that a resumed tune does not replay the random start-up trials);
* pruner: the median pruner on the periodic evaluations (``eval_every`` env steps apart, the same
  grid for every trial whatever its ``batch_steps``): after 5 complete trials, a trial whose
  intermediate value is below the median of the complete trials' at the same step is stopped
  (not before a third of ``total_steps``);
* objective: the mean of the last 3 periodic evaluations (deterministic, the same start states for
  every trial). Not the final evaluation: that is one more noisy sample of the last policy only,
  while the last 3 evaluations average 3x the episodes over the end of training, reward a setting
  that learns *stably*, and are the quantity the pruner compared all along (the intermediate value
  reported at each evaluation is the mean of the last 3 so far). The final evaluation is kept as
  a trial attribute and shown in the table;
* every trial trains with the same ``--seed`` (common random numbers: the trials differ in their
  hyperparameters, not in their luck);
* keys given with ``--set`` are fixed: they are not searched, and go into the preset;
* the study lives in a SQLite file (``tune/<env>_<algo>.db``) and is loaded if it exists: the same
  command resumes; ``--trials N`` runs N more trials. Optuna's heartbeat marks the trial of a
  killed tune as failed when the study is resumed;
* a trial runs whole batches and never past ``--total-steps`` (``total_steps`` rounded down to a
  multiple of its ``batch_steps``; batch sizes that leave fewer than 3 iterations are not sampled);
* every trial is layered like any run (``trpo.resolve.layer``): the ``--set`` keys and the sampled
  values keep their values, the env's preset fills the rest; its config.toml says which is which;
* after every complete trial the best one is written as a preset TOML (flat keys: ``env_id``,
  ``algo``, the preset the trials ran under, the tuned keys and the ``--set`` keys that define the
  learning problem), so that ``trpo train --config FILE`` runs the configuration that was tuned.

docs/tuning.md lists the search spaces (also ``trpo tune --help``).
"""
from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

from trpo.config import TUPLE_KEYS
from trpo.errors import ConfigError, NonFiniteError

MISSING_OPTUNA = "trpo tune needs Optuna: pip install 'trpo[tune]'"
LAST_EVALS = 3          # the objective: the mean of this many last periodic evaluations
DEFAULT_TOTAL_STEPS = 100_000

# --set keys that do not define the learning problem (length, hardware, evaluation, bookkeeping):
# they shape the tune but are not written into the preset
_NOT_IN_PRESET = ("seed", "check_env", "preset")


def search_space(algo: str) -> dict[str, tuple]:
    """The keys ``trpo tune`` searches for ``algo`` and their distributions: its registry entry's
    (``trpo.algos.ALGOS[algo].search_space``). Floats are rounded to 3 significant digits before
    use (the run, the preset and the table show the same number)."""
    from trpo.algos import ALGOS

    if algo not in ALGOS:
        raise ConfigError(f"unknown algorithm {algo!r}; allowed: {', '.join(ALGOS)}")
    if not ALGOS[algo].search_space:
        raise ConfigError(f"algorithm {algo!r} declares no search space (trpo.algos.ALGOS)")
    return dict(ALGOS[algo].search_space)


def describe_spaces() -> str:
    """One line per algorithm family (``trpo tune --help``)."""
    def fmt(spec):
        if spec[0] == "cat":
            return "{" + " | ".join(map(str, spec[1])) + "}"
        return f"{'log-uniform' if spec[0] == 'log' else 'uniform'}[{spec[1]:g}, {spec[2]:g}]"

    out: list[str] = []
    seen: dict[str, list[str]] = {}
    from trpo.algos import ALGOS
    for algo in ALGOS:
        key = json.dumps(search_space(algo), sort_keys=True)
        seen.setdefault(key, []).append(algo)
    for algos in seen.values():
        space = search_space(algos[0])
        out.append(f"  {', '.join(algos)}:")
        out += [f"    {k} {fmt(v)}" for k, v in space.items()]
    return "\n".join(out)


def _round(v: float) -> float:
    return float(f"{v:.3g}")


def suggest(trial, space: dict[str, tuple], num_envs: int) -> dict[str, Any]:
    """Config values for one trial (``batch_steps`` rounded down to a multiple of ``num_envs``: the
    number of envs, times ``seq_len`` for a recurrent policy)."""
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if spec[0] == "cat":
            v = trial.suggest_categorical(name, list(spec[1]))
        else:
            v = _round(trial.suggest_float(name, spec[1], spec[2], log=spec[0] == "log"))
        if name in TUPLE_KEYS:  # hidden, actor_hidden, critic_hidden: "64,64" -> [64, 64] ("" -> [])
            v = [int(x) for x in str(v).split(",") if x.strip()]
        if name == "batch_steps":
            v = max(num_envs, v // num_envs * num_envs)
        out[name] = v
    return out


# ------------------------------------------------------------------------------------------------
def _optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError(MISSING_OPTUNA) from None
    return optuna


def _safe(env_id: str) -> str:
    from trpo.envs.ids import safe_name

    return safe_name(env_id)


def _storage_url(storage: str | Path) -> tuple[str, Path | None]:
    """An RDB URL as it is; a file path -> ``sqlite:///ABS`` (its folder created)."""
    s = str(storage)
    if "://" in s:
        return s, None
    path = Path(s).expanduser().resolve()
    if path.is_dir():
        raise ConfigError(f"--storage {s} is a directory; give a file such as {s}/study.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}", path


def _as_overrides(overrides) -> dict[str, Any]:
    from trpo.config import parse_overrides

    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    return parse_overrides(list(overrides))


def _base_config(env_id: str, algo: str, total_steps: int, seed: int, overrides: dict):
    """The config every trial starts from, its keys given (so that they, and every sampled value,
    keep their values under the env's preset: ``trpo.resolve.layer``), and the name of the preset
    the trials run under ("" for none)."""
    from trpo.config import Config
    from trpo.envs.ids import lookup
    from trpo.resolve import layer

    reserved = sorted({"env_id", "algo", "total_steps", "seed"} & set(overrides))
    if reserved:
        flag = "the ENV_ID argument" if reserved[0] == "env_id" else "--" + reserved[0].replace("_", "-")
        raise ConfigError(f"--set {reserved[0]}: use {flag} of trpo tune")
    base = Config(env_id=env_id, algo=algo, total_steps=total_steps, seed=seed).replace(**overrides)
    if not base.eval_every:  # a fixed grid of evaluations for every batch size (the pruner compares at steps)
        base = base.replace(_source="trpo tune", eval_every=max(1, total_steps // 20))
    if base.eval_periodic_episodes == 0:
        raise ConfigError("trpo tune needs periodic evaluations: eval_periodic_episodes must be > 0")
    lookup(env_id)  # an unknown env fails now, before a study is created
    return base, layer(base)


def fitting_space(space: dict[str, tuple], layered, total_steps: int, last_evals: int) -> dict[str, tuple]:
    """``space`` without the batch sizes that do not fit the budget: a trial runs whole batches and
    never past ``total_steps``, and needs ``last_evals`` iterations for its objective, so only
    ``batch_steps`` <= total_steps / last_evals (after rounding to the envs) are sampled."""
    unit = layered.num_envs * (layered.seq_len if layered.policy != "mlp" else 1)
    limit = total_steps // last_evals
    if "batch_steps" not in space:
        if layered.batch_steps > limit:
            raise ConfigError(f"batch_steps = {layered.batch_steps} leaves fewer than {last_evals} iterations in "
                              f"--total-steps {total_steps:,}: give a smaller batch_steps or more steps")
        return space
    fits = tuple(b for b in space["batch_steps"][1] if max(unit, b // unit * unit) <= limit)
    if not fits:
        raise ConfigError(f"--total-steps {total_steps:,} is too small for {last_evals} iterations of any batch size "
                          f"searched ({', '.join(map(str, space['batch_steps'][1]))}); give at least "
                          f"{last_evals * min(space['batch_steps'][1]):,}")
    return {**space, "batch_steps": ("cat", fits)}


def _preset_dict(cfg, tuned: list[str], fixed: list[str], preset_name: str) -> dict:
    """The best trial as a config file: the env, the algorithm, the preset the trial ran under
    (named, so that a replay layers the same one), the ``--set`` keys that define the learning
    problem and the tuned keys. ``trpo train --config FILE`` gives every key of the file, so the
    preset fills only the others, as it did in the trial."""
    from trpo.config import RESUMABLE

    d = cfg.to_dict()
    out: dict[str, Any] = {"env_id": cfg.env_id, "algo": cfg.algo, "preset": preset_name}
    out.update({k: d[k] for k in fixed if k not in RESUMABLE and k not in _NOT_IN_PRESET and k not in out})
    out.update({k: d[k] for k in tuned})
    return out


def write_preset(study, path: str | Path) -> Path | None:
    """Write the best complete trial of ``study`` as a preset TOML; None if there is none yet."""
    import tomli_w

    from trpo.config import load_toml

    optuna = _optuna()
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and "preset" in t.user_attrs]
    if not done:
        return None
    best = max(done, key=lambda t: t.value)
    a, info = best.user_attrs, study.user_attrs.get("trpo", {})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fin = a.get("final_eval_return_mean")
    head = [f"# trpo tune: the best of {len(done)} complete trials of study {study.study_name!r}",
            f"# trial {best.number}: objective (mean of the last {info.get('last_evals', LAST_EVALS)} periodic "
            f"evaluations) {best.value:.2f}" + (f", final evaluation {fin:.2f}" if fin is not None else ""),
            f"# tuned with total_steps = {info.get('total_steps', '?')} per trial; "
            f"use: trpo train --config {path} --total-steps N"]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(head) + "\n" + tomli_w.dumps(a["preset"]))
    tmp.replace(path)
    load_toml(path)  # what trpo train --config will read
    return path


# ------------------------------------------------------------------------------------------------
def tune(env_id: str, algo: str = "trpo", trials: int = 20, *,  # noqa: C901 - a study's set-up, resume and summary
         output: str | Path | None = None, storage: str | Path | None = None, study_name: str | None = None,
         total_steps: int = DEFAULT_TOTAL_STEPS, seed: int = 0, overrides=None,
         run_root: str | Path | None = None, pruner=None, sampler=None, last_evals: int = LAST_EVALS,
         quiet: bool = False):
    """Run ``trials`` more trials of the study of ``algo`` on ``env_id``; return the ``optuna.Study``.

    ``storage``: a SQLite file (default ``tune/<env>_<algo>.db``) or an RDB URL; the study
    ``study_name`` (default ``<env>_<algo>``) is loaded if it exists. ``output``: the best trial's
    preset TOML (default next to the storage, ``<study>.toml``), rewritten after every complete
    trial. ``overrides``: fixed config keys (``{"key": value}`` or ``["key=value"]``), not searched.
    ``run_root``: where the trials' run directories go (default ``<storage folder>/<study>``).
    ``pruner`` / ``sampler``: Optuna objects replacing the median pruner / seeded TPE sampler.
    """
    from trpo.algos import ALGOS

    if algo not in ALGOS:
        raise ConfigError(f"unknown algorithm {algo!r}; allowed: {', '.join(ALGOS)}")
    if not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"--trials must be a positive integer, got {trials!r}")
    if not isinstance(total_steps, int) or total_steps < 1:
        raise ConfigError(f"--total-steps must be a positive integer, got {total_steps!r}")
    if last_evals < 1:
        raise ConfigError(f"last_evals must be >= 1, got {last_evals!r}")
    fixed = _as_overrides(overrides)
    base, layered = _base_config(env_id, algo, total_steps, seed, fixed)
    space = {k: v for k, v in search_space(algo).items() if k not in fixed}
    if not space:
        raise ConfigError("--set fixes every key of the search space; nothing left to tune")
    space = fitting_space(space, layered, total_steps, last_evals)
    fixed_shown = {k: getattr(base, k) for k in fixed}
    optuna = _optuna()

    name = study_name or f"{_safe(env_id)}_{algo}"
    url, db = _storage_url(storage if storage is not None else Path("tune") / f"{_safe(env_id)}_{algo}.db")
    where = db.parent if db is not None else Path("tune")
    run_root = Path(run_root) if run_root is not None else where / name
    output = Path(output) if output is not None else where / f"{name}.toml"

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            rdb = optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
            study = optuna.create_study(storage=rdb, study_name=name, direction="maximize", load_if_exists=True,
                                        pruner=pruner or optuna.pruners.MedianPruner(
                                            n_startup_trials=5, n_warmup_steps=total_steps // 3))
            done_before = len(study.trials)
            study.sampler = sampler or optuna.samplers.TPESampler(seed=seed + done_before, multivariate=True)
        info = {"env_id": env_id, "algo": algo, "total_steps": total_steps, "seed": seed,
                "overrides": {k: str(v) for k, v in fixed.items()}, "last_evals": last_evals}
        old = study.user_attrs.get("trpo")
        if old is None:
            study.set_user_attr("trpo", info)
        elif not quiet:
            diff = [f"{k} {old.get(k)!r} -> {info[k]!r}" for k in ("env_id", "algo", "total_steps", "overrides")
                    if old.get(k) != info[k]]
            if diff:
                print(f"note: study {name!r} was started with other settings ({'; '.join(diff)}); "
                      "objective values compare only between trials run alike")
        if not quiet:
            print(f"study {name!r} in {db or url}: {done_before} trials so far; running {trials} more "
                  f"({total_steps:,} steps each); trial runs in {run_root}/trial_N")

        def objective(trial):
            params = suggest(trial, space, layered.num_envs * (layered.seq_len if layered.policy != "mlp" else 1))
            cfg = base.replace(_source=f"trpo tune, trial {trial.number}", **params)
            batch = params.get("batch_steps", layered.batch_steps)
            # whole batches, never past the budget (fitting_space: at least last_evals of them)
            cfg = cfg.replace(_source="trpo tune", total_steps=total_steps // batch * batch)
            run_dir = run_root / f"trial_{trial.number}"
            trial.set_user_attr("run_dir", str(run_dir))
            trial.set_user_attr("params", params)
            trial.set_user_attr("fixed", {k: _jsonable(v) for k, v in fixed_shown.items()})
            trial.set_user_attr("preset", _preset_dict(cfg, list(params), list(fixed), layered.preset))
            evals: list[float] = []
            st = {"step": -1, "pruned_at": None}

            def callback(row, agent):
                if row.get("eval_return_mean") is None:
                    return False
                evals.append(float(row["eval_return_mean"]))
                value = sum(evals[-last_evals:]) / len(evals[-last_evals:])
                step = row["env_steps"] // cfg.eval_every * cfg.eval_every  # the eval grid crossed
                if step <= st["step"] or not math.isfinite(value):
                    return False
                st["step"] = step
                trial.report(value, step=step)
                if trial.should_prune():
                    st["pruned_at"] = row["env_steps"]
                    return True
                return False

            from trpo.trainer import train

            t0 = time.perf_counter()
            try:
                result = train(cfg, run_dir, progress=False, overwrite=True, callback=callback)
            except NonFiniteError as e:  # a setting that diverges (as RL-Zoo: pruned, not an abort)
                trial.set_user_attr("error", str(e).splitlines()[0])
                raise optuna.TrialPruned(f"non-finite values: {e}") from None
            if result.interrupted:  # Ctrl-C / SIGTERM: the trial fails, the tune stops
                raise KeyboardInterrupt
            s = result.summary
            trial.set_user_attr("final_eval_return_mean", s.get("final_eval_return_mean"))
            trial.set_user_attr("best_eval_return", s.get("best_eval_return"))
            trial.set_user_attr("env_steps", s["total_steps"])
            trial.set_user_attr("wall_s", round(time.perf_counter() - t0, 2))
            trial.set_user_attr("evals", evals)
            if st["pruned_at"] is not None:
                trial.set_user_attr("pruned_at", st["pruned_at"])
                raise optuna.TrialPruned()
            if not evals:  # cannot happen (the last iteration always evaluates); be explicit anyway
                return float(s["final_eval_return_mean"])
            return sum(evals[-last_evals:]) / len(evals[-last_evals:])

        def after_trial(study, frozen):
            if frozen.state == optuna.trial.TrialState.COMPLETE:
                write_preset(study, output)
            if not quiet:
                print(_trial_line(frozen, optuna), flush=True)

        study.optimize(objective, n_trials=trials, callbacks=[after_trial], catch=())
    finally:
        optuna.logging.set_verbosity(verbosity)
    path = write_preset(study, output)
    if not quiet:
        print_best(study)
        print(f"best configuration: {path}" if path else "no complete trial yet: no preset written")
    return study


def _params(t) -> str:
    """The values the trial's run used (floats rounded as in its config, layer sizes as lists)."""
    def fmt(v):
        return ",".join(map(str, v)) if isinstance(v, list) else format(v, "g") if isinstance(v, float) else str(v)

    used = t.user_attrs.get("params") or t.params
    fixed = t.user_attrs.get("fixed") or {}
    return " ".join(f"{k}={fmt(v)}" for k, v in used.items()) + (
        "  fixed: " + " ".join(f"{k}={fmt(v)}" for k, v in fixed.items()) if fixed else "")


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def _trial_line(t, optuna) -> str:
    a = t.user_attrs
    S = optuna.trial.TrialState
    if t.state == S.COMPLETE:
        fin = a.get("final_eval_return_mean")
        return (f"trial {t.number}: {t.value:.2f}" + (f" (final eval {fin:.2f})" if fin is not None else "")
                + f", {a.get('env_steps', 0):,} steps, {a.get('wall_s', 0):.1f} s  {_params(t)}")
    if t.state == S.PRUNED:
        why = f"non-finite values ({a['error']})" if "error" in a else \
            f"at {a.get('pruned_at', 0):,} steps (last value {t.value:.2f})" if t.value is not None else ""
        return f"trial {t.number}: pruned {why}  {_params(t)}"
    return f"trial {t.number}: {t.state.name.lower()}  {_params(t)}"


def print_best(study, n: int = 5) -> None:
    """A table of the ``n`` best complete trials and the study's counts."""
    import optuna
    from rich.console import Console
    from rich.table import Table

    S = optuna.trial.TrialState
    counts = {s: sum(t.state == s for t in study.trials) for s in (S.COMPLETE, S.PRUNED, S.FAIL)}
    done = sorted((t for t in study.trials if t.state == S.COMPLETE), key=lambda t: -t.value)[:n]
    c = Console()
    c.print(f"{len(study.trials)} trials: {counts[S.COMPLETE]} complete, {counts[S.PRUNED]} pruned, "
            f"{counts[S.FAIL]} failed")
    if not done:
        return
    info = study.user_attrs.get("trpo", {})
    t = Table(title=f"best trials of {study.study_name} (objective: mean of the last "
                    f"{info.get('last_evals', LAST_EVALS)} periodic evaluations)")
    for col, just in (("trial", "right"), ("objective", "right"), ("final eval", "right"),
                      ("best eval", "right"), ("wall", "right"), ("parameters", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]  # 'left' or 'right'
    for tr in done:
        a = tr.user_attrs
        f = lambda v: "n/a" if v is None else f"{v:.1f}"  # noqa: E731
        t.add_row(str(tr.number), f"{tr.value:.1f}", f(a.get("final_eval_return_mean")),
                  f(a.get("best_eval_return")), f"{a.get('wall_s', 0):.0f} s", _params(tr))
    c.print(t)


# ------------------------------------------------------------------------------------------------
def cmd_tune(args) -> int:
    from trpo.config import parse_overrides

    overrides = parse_overrides(args.set or [])
    try:
        tune(args.env_id, args.algo, args.trials, output=args.output, storage=args.storage,
             study_name=args.study, total_steps=args.total_steps, seed=args.seed, overrides=overrides)
    except KeyboardInterrupt:
        print("trpo: tune interrupted; the same command resumes the study")
        return 130
    return 0


def register(subparsers) -> None:
    t = subparsers.add_parser(
        "tune", help="search hyperparameters with Optuna (pip install 'trpo[tune]'); writes a preset TOML",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Hyperparameter search: TPE sampler, median pruner on the periodic evaluations;\n"
                    f"objective: the mean of the last {LAST_EVALS} periodic evaluations. The same command resumes\n"
                    "the study (--trials N more); the best configuration is written as a preset TOML for\n"
                    "trpo train --config FILE (docs/tuning.md).",
        epilog="search spaces (keys fixed with --set are not searched):\n" + _spaces_or_none())
    t.add_argument("env_id", help="Gymnasium environment id")
    t.add_argument("--algo", default="trpo", help="algorithm (default trpo)")
    t.add_argument("--trials", type=int, required=True, help="trials to run now (more, when the study exists)")
    t.add_argument("-o", "--output", help="the best configuration as TOML (default tune/ENV_ALGO.toml)")
    t.add_argument("--storage", help="SQLite file of the study (default tune/ENV_ALGO.db), or an RDB URL")
    t.add_argument("--study", help="study name (default ENV_ALGO)")
    t.add_argument("--total-steps", type=int, default=DEFAULT_TOTAL_STEPS,
                   help=f"environment steps per trial (default {DEFAULT_TOTAL_STEPS:,})")
    t.add_argument("--seed", type=int, default=0, help="seed of the sampler and of every trial's run (default 0)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="fix a config key for every trial (repeatable; not searched)")
    t.set_defaults(func=cmd_tune)


def _spaces_or_none() -> str:
    try:
        return describe_spaces()
    except Exception:  # noqa: BLE001 - help text only
        return "  (see docs/tuning.md)"
