"""``flightdeck local up|down|status``: the local platform daemon.

    flightdeck local up [--home H] [--router-port 8787] [--control-port 8786]
    flightdeck local status
    flightdeck local down

``up`` starts the daemon in the background (or leaves a running one alone), returns
once it serves, and prints its URLs; ``down`` stops every instance and keeps all
state; after the next ``up`` every endpoint, deployment, key and split is back.
A port is the flag's, else the environment variable's, else the one the home's last
daemon bound (``ports.json``), else the default: scoring URIs stay put across restarts.
The home is ``--home``, else $FLIGHTDECK_HOME, else ``~/.flightdeck``.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from cli import messages
from cli.output import print_json, say
from deploy.errors import ValidationError
from deploy.local.state.home import Home

__all__ = ["ensure_running", "register"]

#: The daemon's defaults, for a home whose daemon never ran (else it reuses its last ports).
DEFAULT_ROUTER_PORT = 8787
DEFAULT_CONTROL_PORT = 8786
ROUTER_PORT_ENV = "FLIGHTDECK_ROUTER_PORT"
CONTROL_PORT_ENV = "FLIGHTDECK_CONTROL_PORT"


def register(subparsers: Any) -> None:
    """Add ``local`` and its verbs."""
    group = subparsers.add_parser("local", help="start, stop and inspect the local platform")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument("--home", help="state folder (default: $FLIGHTDECK_HOME, ~/.flightdeck)")

    up = verbs.add_parser("up", parents=[home], help="start the daemon in the background")
    up.add_argument(
        "--router-port",
        type=int,
        default=None,
        help=f"scoring URIs' port (default: ${ROUTER_PORT_ENV}, else the last run's, "
        f"else {DEFAULT_ROUTER_PORT}; 0 = any free port)",
    )
    up.add_argument(
        "--control-port",
        type=int,
        default=None,
        help=f"control API's port (default: ${CONTROL_PORT_ENV}, else the last run's, "
        f"else {DEFAULT_CONTROL_PORT}; 0 = any free port)",
    )
    up.set_defaults(handler=_up)

    down = verbs.add_parser("down", parents=[home], help="stop the daemon (state is kept)")
    down.set_defaults(handler=_down)

    status = verbs.add_parser("status", parents=[home], help="is it running, and where")
    status.set_defaults(handler=_status)


def _port(given: int | None, env: str) -> int | None:
    """The flag's port, else the environment's; ``None`` leaves it to the daemon."""
    if given is not None:
        return given
    raw = os.environ.get(env, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(messages.port_env_invalid(env, raw)) from None


def ensure_running(
    home: Home, *, router_port: int | None = None, control_port: int | None = None
) -> dict[str, Any]:
    """Start the daemon of ``home`` unless it runs; the JSON ``up`` prints."""
    from deploy.local.control.lifecycle import start_daemon

    started = time.monotonic()
    say(f"Starting the local platform (home {home.root}) ...")
    info, was_running = start_daemon(
        home,
        router_port=_port(router_port, ROUTER_PORT_ENV),
        control_port=_port(control_port, CONTROL_PORT_ENV),
    )
    if was_running:
        say("The local platform is already running.")
    else:
        say(f"The local platform is up ({time.monotonic() - started:.1f} s).")
    return {
        "status": "running",
        "pid": info.pid,
        "home": info.home,
        "router_url": info.router_url,
        "control_url": info.control_url,
        "already_running": was_running,
    }


def _up(args: argparse.Namespace) -> int:
    home = Home.resolve(args.home)
    print_json(ensure_running(home, router_port=args.router_port, control_port=args.control_port))
    return 0


def _down(args: argparse.Namespace) -> int:
    from deploy.local.control.lifecycle import stop_daemon

    home = Home.resolve(args.home)
    say("Stopping the local platform ...")
    was_running = stop_daemon(home)
    say("Stopped." if was_running else "The local platform was not running.")
    print_json({"status": "stopped", "home": str(home.root), "was_running": was_running})
    return 0


def _status(args: argparse.Namespace) -> int:
    from deploy.local.control.lifecycle import daemon_status

    print_json(daemon_status(Home.resolve(args.home)))
    return 0
