"""The ``trpo`` command line (see CONTRACT.md). Errors: one line on stderr, exit status 2 for
bad arguments or config, no traceback unless ``--debug``."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from trpo.errors import ConfigError, TrpoError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage first otherwise)
        self.exit(2, f"trpo: error: {message}\n")


def _summary_table(summary: dict, run_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{summary['algo']} on {summary['env_id']} (seed {summary['seed']})")
    for col in ("eval return", "train return", "env steps", "wall time", "steps/s"):
        t.add_column(col, justify="right")
    ev = summary.get("final_eval_return_mean")
    ev_s = f"{ev:.1f} ± {summary['final_eval_return_std']:.1f}" if ev is not None else "n/a"
    tr = summary.get("train_return_last")
    tr_s = "n/a (no episode ended)" if tr is None or tr != tr else f"{tr:.1f}"  # NaN: no episode finished
    t.add_row(ev_s, tr_s, f"{summary['total_steps']:,}",
              f"{summary['wall_s']:.1f} s", f"{summary['steps_per_s']:,.0f}")
    c = Console()
    c.print(t)
    c.print(f"run directory: {run_dir}")


def cmd_train(args) -> int:
    from trpo.config import Config, load_toml, parse_env_kwargs, parse_overrides
    from trpo.trainer import refuse_unresumable, train

    flags = {"env_id": args.env_id, "algo": args.algo, "total_steps": args.total_steps, "seed": args.seed,
             "num_envs": args.num_envs, "sampler": args.sampler, "device": args.device, "preset": args.preset,
             "backend": args.backend, "workers": args.workers, "ray_address": args.ray_address,
             "video_every": args.video_every, "policy": args.policy}
    flags = {k: v for k, v in flags.items() if v is not None}
    if args.env_kwargs:
        flags["env_kwargs"] = parse_env_kwargs(args.env_kwargs)
    given = {**flags, **parse_overrides(args.set or [])}
    if args.resume:
        if not Path(args.resume).is_dir():
            raise ConfigError(f"--resume: no such run directory: {args.resume}")
        if args.config:
            raise ConfigError("--resume continues a run with its own config.toml; --config cannot be combined with it")
        # every key given here is applied (the resumable ones) or refused by name
        refuse_unresumable(given)
        cfg = Config().replace(**given) if given else None
        result = train(cfg, resume=args.resume, progress=not args.quiet, checkpoint=args.checkpoint)
    else:
        if not args.env_id and not args.config:
            raise ConfigError("train needs ENV_ID (or --config FILE.toml, or --resume RUN_DIR)")
        # defaults < preset < --config file < flags and --set: train() layers them (trpo.resolve.layer)
        base = load_toml(args.config) if args.config else Config()
        cfg = base.replace(**given)
        result = train(cfg, args.run_dir, progress=not args.quiet, overwrite=args.overwrite)
    if not args.quiet:
        _summary_table(result.summary, result.run_dir)
        if not result.interrupted:
            from trpo.tools.plot import plot_runs
            png = plot_runs([result.run_dir], result.run_dir / "learning_curve.png",
                            title=f"{result.summary['algo']} on {result.summary['env_id']}")
            print(f"learning curve: {png}")
    return 130 if result.interrupted else 0


def cmd_config(args) -> int:
    from trpo.config import describe_fields

    print(describe_fields())
    return 0


def cmd_presets(args) -> int:
    from trpo import presets

    for name, p in presets.available().items():
        where = ", ".join(p.match) or (f"every {p.family} env" if p.family else "named only")
        print(f"{name}: {p.description}\n    auto for: {where} (algos: {', '.join(p.algos) or 'all'})")
        for k, v in p.config.items():
            print(f"    {k} = {v!r}")
    return 0


def cmd_eval(args) -> int:
    from trpo.agent import Agent

    if args.checkpoint and args.best:
        raise ConfigError("--checkpoint names one checkpoint; --best cannot be combined with it")
    agent = Agent.load(args.checkpoint or args.run_dir, device=args.device, best=args.best)
    print(f"checkpoint: {agent.checkpoint}")
    video = Path(args.run_dir) / "videos" if args.video else None
    mean, std, returns = agent.evaluate(args.episodes, seed=args.seed, deterministic=args.deterministic,
                                        video_dir=video)
    mode = "deterministic" if args.deterministic else "stochastic"
    print(f"{agent.cfg.env_id}: return {mean:.2f} ± {std:.2f} over {len(returns)} episodes ({mode})")
    if video:
        print(f"videos: {video}")
    return 0


def cmd_plot(args) -> int:
    from trpo.tools.plot import plot_runs

    for rd in args.run_dirs:
        if not (Path(rd) / "metrics.csv").exists():
            raise ConfigError(f"{rd} is not a run directory (no metrics.csv)")
    out = args.output or str(Path(args.run_dirs[0]) / "learning_curve.png")
    print(plot_runs(args.run_dirs, out, y=args.y))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from trpo._version import __version__
    from trpo.config import choices_of, describe_fields
    from trpo.seeds import FINAL_EVAL

    p = _Parser(prog="trpo", description="Trust Region Policy Optimization and the policy-gradient family.")
    p.add_argument("--version", action="version", version=f"trpo {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train an agent; writes a run directory",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="config keys (--set KEY=VALUE, or in a --config TOML file):\n" + describe_fields())
    t.add_argument("env_id", nargs="?", help="Gymnasium environment id (CartPole-v1, Hopper-v5) or module:EnvId")
    t.add_argument("--algo", choices=choices_of("algo"), help="algorithm (default trpo)")
    t.add_argument("--total-steps", type=int, help="environment steps to train for")
    t.add_argument("--seed", type=int)
    t.add_argument("--num-envs", type=int)
    t.add_argument("--sampler", choices=choices_of("sampler"))
    t.add_argument("--policy", choices=choices_of("policy"),
                   help="mlp (default) or a recurrent policy, gru or lstm (docs/recurrent.md)")
    t.add_argument("--device", choices=choices_of("device"))
    t.add_argument("--preset", help="settings shipped with trpo (trpo presets; default auto; '' for none)")
    t.add_argument("--backend", choices=choices_of("backend"), help="where batches are sampled (docs/scaling.md)")
    t.add_argument("--workers", type=int, help="Ray rollout workers (--backend ray; 0 = one per CPU)")
    t.add_argument("--ray-address", help="Ray cluster to join (auto or HOST:PORT); default: a local instance")
    t.add_argument("--video-every", type=int, metavar="N",
                   help="record an episode video every N periodic evaluations into RUN/videos (trpo[video])")
    t.add_argument("--env-kwargs", action="append", metavar="KEY=VALUE",
                   help="keyword argument for gym.make (repeatable; values read as TOML: 1, 0.5, true, 'text')")
    t.add_argument("--config", help="a TOML file of config keys (e.g. a run's config.toml)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one config key (repeatable)")
    t.add_argument("--run-dir", help="where to write the run (default runs/ENV_ALGO_sSEED_TIME)")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a run from its latest checkpoint (with --total-steps, --device, or --set of "
                        "the keys trpo config marks as changeable on resume)")
    t.add_argument("--checkpoint", metavar="PATH",
                   help="with --resume: continue from this checkpoint manifest (default: the newest valid one)")
    t.add_argument("--overwrite", action="store_true", help="replace the run already in --run-dir")
    t.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a trained run")
    e.add_argument("run_dir")
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--seed", type=int, default=None, help=f"evaluation seed (default: training seed + {FINAL_EVAL:,})")
    e.add_argument("--video", action="store_true", help="record videos to RUN_DIR/videos (needs trpo[video])")
    e.add_argument("--deterministic", action=argparse.BooleanOptionalAction, default=True,
                   help="deterministic (mode) or --stochastic / --no-deterministic actions")
    e.add_argument("--stochastic", dest="deterministic", action="store_false", help=argparse.SUPPRESS)
    e.add_argument("--device", choices=choices_of("device"), default=None)
    e.add_argument("--best", action="store_true", help="the best-evaluated policy (checkpoints/best)")
    e.add_argument("--checkpoint", metavar="PATH", help="this checkpoint manifest (default: the newest valid one)")
    e.set_defaults(func=cmd_eval)

    pl = sub.add_parser("plot", help="plot learning curves of one or more runs")
    pl.add_argument("run_dirs", nargs="+")
    pl.add_argument("-o", "--output", help="PNG file (default RUN_DIR/learning_curve.png)")
    pl.add_argument("--y", default="episode_return_mean", help="metrics.csv column to plot")
    pl.set_defaults(func=cmd_plot)

    c = sub.add_parser("config", help="list every config key: type, default, range or choices, help")
    c.set_defaults(func=cmd_config)
    ps = sub.add_parser("presets", help="the presets shipped with trpo")
    ps.set_defaults(func=cmd_presets)

    # export's module needs torch at import: its parser is here, so that ``trpo --help`` and a bad
    # argument answer before torch loads (~3 s)
    x = sub.add_parser("export", help="write a run's policy as ONNX or TorchScript (raw obs -> env action)",
                       description="One graph from the raw observation to the env action (observation "
                                   "normaliser, deterministic actor, action clipping), checked against "
                                   "Agent.act. ONNX needs pip install 'trpo[export]'.")
    x.add_argument("run_dir", help="a run directory (or a checkpoint manifest)")
    x.add_argument("--format", choices=EXPORT_FORMATS, default="onnx", help="onnx (default) or torchscript")
    x.add_argument("-o", "--output", metavar="FILE", help="where to write (default RUN_DIR/policy.onnx or policy.pt)")
    x.add_argument("--checkpoint", metavar="PATH", help="this checkpoint manifest (default: the newest valid one)")
    x.set_defaults(func=cmd_export)

    for _name, module in (("compare", "trpo.tools.compare"), ("theory", "trpo.theory.cli"),
                          ("report", "trpo.tools.report"), ("tune", "trpo.tools.tune")):
        try:
            __import__(module, fromlist=["register"]).register(sub)
        except ImportError:
            pass
    return p


EXPORT_FORMATS = ("onnx", "torchscript")  # trpo.tools.export.FORMATS (tests/cli/test_cli.py checks)


def cmd_export(args) -> int:
    from trpo.tools.export import cmd_export as run
    return run(args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv or os.environ.get("TRPO_DEBUG") == "1"
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except TrpoError as e:
        if debug:
            raise
        print(f"trpo: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("trpo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
