"""``python -m trpo.theory {check,demo} ...`` (same as ``trpo theory ...``)."""

from __future__ import annotations

import argparse
import sys

from .cli import configure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trpo.theory",
        description="An exact-arithmetic lab that checks the TRPO theory numerically on tabular MDPs.",
    )
    configure(parser)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
