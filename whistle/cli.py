"""The ``whistle`` command: each command group lives in a ``whistle.<package>.cli`` module."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Sequence

import whistle

# Command modules outside ``whistle/*/cli.py`` (those are found automatically); each module
# defines ``register(subparsers)`` and sets ``func(args) -> int`` on its parsers.
EXTRA_COMMAND_MODULES: tuple[str, ...] = ("streams.cli", "projections.cli")


def command_modules() -> list[str]:
    """Every module contributing commands: ``whistle/<package>/cli.py`` plus the extras."""
    found = [
        f"whistle.{info.name}.cli"
        for info in pkgutil.iter_modules(whistle.__path__)
        if info.ispkg and importlib.util.find_spec(f"whistle.{info.name}.cli") is not None
    ]
    return sorted(found) + list(EXTRA_COMMAND_MODULES)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``whistle`` command."""
    parser = argparse.ArgumentParser(prog="whistle", description="Whistle case routing")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in command_modules():
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``whistle`` command and return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
