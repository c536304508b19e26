"""The ``flightdeck`` command: one sub-command module per group of verbs.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds
its verbs and sets ``handler`` (a callable taking the parsed args and returning
an exit code) on each parser. A module that fails to import is a bug like any
other: the command stops with its traceback rather than run without those verbs.
Known failures (``FlightdeckError``) print one line to stderr and exit 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from cli import messages
from deploy.errors import FlightdeckError

__all__ = ["COMMAND_MODULES", "build_parser", "main", "version_line"]

#: Sub-command modules, in the order ``flightdeck --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "cli.local",
    "cli.endpoints",
    "cli.deployments",
    "cli.models",
    "cli.loadtest",
    "cli.rollout",
    "cli.db",
    "cli.serve",
    "cli.fastserve",
    "cli.console",
    "cli.demo",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The parser with the sub-commands of every module in ``modules`` registered.

    An import error of any of them propagates: a renamed or broken module must not
    make its verbs vanish without a word.
    """
    parser = argparse.ArgumentParser(
        prog="flightdeck",
        description="ChatOps for ML model endpoints: Azure ML managed online endpoints, "
        "and a local platform that behaves like them.",
    )
    parser.add_argument(
        "--version",
        action=_PrintVersion,
        nargs=0,
        help="print the version and where Flightdeck is installed",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


class _PrintVersion(argparse.Action):
    """``--version``: the line as is (argparse's own action wraps it at the terminal width)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(version_line())
        parser.exit(0)


def version_line() -> str:
    """``flightdeck X.Y.Z (installed in <folder holding the packages>, Python 3.x.y)``."""
    try:
        version = metadata.version("flightdeck")
    except metadata.PackageNotFoundError:
        version = messages.VERSION_UNKNOWN
    location = Path(__file__).resolve().parents[1]
    return messages.VERSION.format(
        version=version, location=location, python=platform.python_version()
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except FlightdeckError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
