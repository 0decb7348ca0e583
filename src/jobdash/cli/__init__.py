"""The ``jobdash`` command: one sub-command per module of this package.

Each module listed in ``_SUBCOMMANDS`` defines ``register(subparsers)``, which
adds its parser and sets ``func`` (``(args) -> int`` exit status) as default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

_SUBCOMMANDS = ("serve", "simulate", "status", "control")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobdash",
        description="Watch and control live data-reduction jobs.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in _SUBCOMMANDS:
        importlib.import_module(f"jobdash.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jobdash`` console script."""
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
