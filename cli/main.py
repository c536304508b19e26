"""The ``flightdeck`` command: one sub-command module per group of verbs.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds
its verbs and sets ``handler`` (a callable taking the parsed args and returning
an exit code) on each parser. A module that fails to import is a bug like any
other: the command stops with its traceback rather than run without those verbs.
Known failures (``FlightdeckError``) print one ``ERROR:`` line to stderr; the exit code is
the Azure CLI's: 1 for an operation that failed, 2 for bad arguments (argparse's own errors
and ``UsageError``), 3 for a resource that does not exist (``NotFoundError``, on the verbs
that mirror ``az ml``; Flightdeck's own verbs keep 1). Anything else
is a bug and keeps its traceback. The az global arguments ``--verbose``/``--debug`` turn
logging up, ``--only-show-errors`` hides the progress lines.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import platform
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from cli import messages
from cli.azargs import UsageError
from cli.azhelp import FlightdeckParser
from cli.output import UsageErrorText, set_quiet
from deploy.errors import FlightdeckError, NotFoundError

__all__ = [
    "COMMAND_MODULES",
    "EXIT_BAD_ARGUMENTS",
    "EXIT_NOT_FOUND",
    "build_parser",
    "main",
    "version_line",
]

#: The Azure CLI's exit codes beyond 0 and 1.
EXIT_BAD_ARGUMENTS = 2
EXIT_NOT_FOUND = 3

#: Sub-command modules, in the order ``flightdeck --help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "cli.local",
    "cli.endpoints",
    "cli.deployments",
    "cli.models",
    "cli.loadtest",
    "cli.capacity",
    "cli.rollout",
    "cli.db",
    "cli.serve",
    "cli.fastserve",
    "cli.console",
    "cli.demo",
    "cli.alias",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The parser with the sub-commands of every module in ``modules`` registered.

    An import error of any of them propagates: a renamed or broken module must not
    make its verbs vanish without a word.
    """
    parser = FlightdeckParser(
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
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    _az_logging(args)
    try:
        return handler(args)
    except (UsageError, UsageErrorText) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    except NotFoundError as exc:  # az's 3 on the verbs that mirror az ml; 1 elsewhere
        print(f"ERROR: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND if getattr(args, "az_exit_codes", False) else 1
    except FlightdeckError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        set_quiet(False)


def _az_logging(args: argparse.Namespace) -> None:
    """``--verbose``/``--debug`` (log lines on stderr), ``--only-show-errors`` (no progress)."""
    set_quiet(bool(getattr(args, "only_show_errors", False)))
    if getattr(args, "debug", False):
        level = logging.DEBUG
    elif getattr(args, "verbose", False):
        level = logging.INFO
    else:
        return
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s: %(name)s: %(message)s"
    )
    logging.getLogger().setLevel(level)


if __name__ == "__main__":
    raise SystemExit(main())
