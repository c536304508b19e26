"""Choosing and running a backend from the command line.

``--backend local|azure`` (or $FLIGHTDECK_BACKEND, default ``local``), built through
``deploy.registry.create_backend``; each handler's async work runs in ``asyncio.run``
and the backend is closed afterwards::

    parser = subparsers.add_parser("show", parents=[backend_options()])
    endpoint = run_with_backend(args, lambda backend: backend.get_endpoint(args.name))
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from cli import messages
from cli.output import say
from deploy.backend import Backend
from deploy.errors import DeploymentFailedError
from deploy.registry import available_backends, create_backend

__all__ = ["BACKEND_ENV", "DEFAULT_BACKEND", "backend_options", "open_backend", "run_with_backend"]

T = TypeVar("T")

BACKEND_ENV = "FLIGHTDECK_BACKEND"
DEFAULT_BACKEND = "local"


def backend_options() -> argparse.ArgumentParser:
    """A parent parser adding ``--backend`` to a verb."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--backend",
        default=None,
        metavar="NAME",
        help=f"where endpoints live: {', '.join(available_backends())} "
        f"(default: ${BACKEND_ENV}, else {DEFAULT_BACKEND})",
    )
    return parent


def backend_name(args: argparse.Namespace) -> str:
    """The backend the user chose."""
    chosen: str | None = getattr(args, "backend", None)
    return chosen or os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND


def backend_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Settings handed to the backend's factory (the local one reads $FLIGHTDECK_HOME)."""
    home: str | None = getattr(args, "home", None)
    return {"home": home} if home else {}


def open_backend(args: argparse.Namespace) -> Backend:
    """Build the chosen backend (``ValidationError`` for an unknown name)."""
    return create_backend(backend_name(args), backend_settings(args))


def run_with_backend(args: argparse.Namespace, work: Callable[[Backend], Awaitable[T]]) -> T:
    """Run ``work(backend)`` in a fresh event loop, then close the backend."""

    async def main() -> T:
        backend = open_backend(args)
        try:
            return await work(backend)
        finally:
            await backend.aclose()

    try:
        return asyncio.run(main())
    except DeploymentFailedError as exc:
        # The instance's own words come first; main() then prints the one ERROR line.
        if exc.log_lines:
            say(messages.INSTANCE_LOG_HEADER)
            for line in exc.log_lines:
                say(f"  {line}")
        raise
