"""``trpo theory check`` and ``trpo theory demo``.

The main CLI calls :func:`register` on its argparse subparsers and then
``sys.exit(args.func(args))``; ``python -m trpo.theory ...`` builds its own parser with
:func:`configure` (the same subcommands, without the leading ``theory``).
"""

from __future__ import annotations

import argparse

__all__ = ["register", "configure", "run_check_command", "run_demo_command"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _discount(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not (0.0 <= value < 1.0):
        raise argparse.ArgumentTypeError(f"gamma must be in [0, 1), got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def run_check_command(args: argparse.Namespace) -> int:
    """Run the battery and print the table; exit code 1 if any claim is violated."""
    from .check import print_report, run_check

    report = run_check(args.mdps, args.states, args.actions, args.gamma, args.seed)
    print_report(report)
    return 0 if report.ok else 1


def run_demo_command(args: argparse.Namespace) -> int:
    """Write the figures to ``args.output``."""
    from .demo import make_figures

    paths = make_figures(args.output, seed=args.seed)
    for path in paths:
        print(path)
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` and ``demo`` subcommands to ``parser``."""
    sub = parser.add_subparsers(dest="theory_command", metavar="{check,demo}", required=True)

    check = sub.add_parser(
        "check",
        help="check the seeds' identities and bounds on random exact MDPs",
        description=(
            "Evaluate the performance difference lemma, L_pi(pi) = eta(pi), the first-order match "
            "of L and eta, the alpha-coupling lemma, the MIGT bounds (TV, intermediate, KL), the "
            "CPI mixture bound and the monotonicity of Algorithm 1 on random MDPs and policy pairs. "
            "Exits 1 if any claim is violated beyond a 1e-9 relative tolerance."
        ),
    )
    check.add_argument("--mdps", type=_positive_int, default=20, help="number of random MDPs (default 20)")
    check.add_argument("--states", type=_positive_int, default=5, help="states per MDP (default 5)")
    check.add_argument("--actions", type=_positive_int, default=3, help="actions per state (default 3)")
    check.add_argument("--gamma", type=_discount, default=0.9, help="discount in [0, 1) (default 0.9)")
    check.add_argument("--seed", type=_int, default=0, help="random seed (default 0)")
    check.set_defaults(func=run_check_command)

    demo = sub.add_parser(
        "demo",
        help="write the figures of docs/theory.md",
        description=("Write PNG figures: learning curves of Algorithm 1 / PI / TRPO / NPG / CPI and the bounds "
                     "along a line of policies."),
    )
    demo.add_argument("-o", "--output", required=True, help="directory for the PNG files (created if missing)")
    demo.add_argument("--seed", type=_int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=run_demo_command)


def register(subparsers) -> None:
    """Add ``theory`` (with ``check`` and ``demo``) to the main CLI's argparse subparsers."""
    parser = subparsers.add_parser(
        "theory",
        help="exact tabular lab for the TRPO theory (check, demo)",
        description="An exact-arithmetic lab that checks the TRPO theory numerically on tabular MDPs.",
    )
    configure(parser)
