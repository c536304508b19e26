"""``flightdeck serve``: the Slack app, in Socket Mode when SLACK_APP_TOKEN is set, else HTTP.

Environment: SLACK_BOT_TOKEN (always), SLACK_SIGNING_SECRET (HTTP), SLACK_APP_TOKEN
(Socket Mode, ``xapp-...``), SLACK_API_URL (another Web API base URL), PORT (HTTP,
default 3000). Settings come from the config file (``--config``, $FLIGHTDECK_CONFIG,
./flightdeck.yml).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

__all__ = ["register"]

DEFAULT_PORT = 3000


def register(subparsers: Any) -> None:
    """Add ``serve``."""
    parser = subparsers.add_parser(
        "serve",
        help="run the Slack app (Socket Mode with SLACK_APP_TOKEN, else HTTP on /slack/events)",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", help="config file (default: $FLIGHTDECK_CONFIG, ./flightdeck.yml)"
    )
    parser.add_argument(
        "--host", default="0.0.0.0", help="HTTP address to listen on (default: all)"
    )
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: $PORT, 3000)")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    # The bot's modules load only when serving (they cost a second to import).
    from bot.config import SlackSecrets, load_settings
    from bot.server import check_secrets, serve
    from deploy.registry import create_backend

    settings = load_settings(args.config, os.environ)
    secrets = SlackSecrets.from_environ(os.environ)
    check_secrets(secrets)
    port = args.port if args.port is not None else int(os.environ.get("PORT") or DEFAULT_PORT)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    backend = create_backend(settings.backend.name, settings.backend.options)

    def announce(line: str) -> None:
        print(line, flush=True)

    return asyncio.run(
        serve(settings, secrets, backend, host=args.host, port=port, announce=announce)
    )
