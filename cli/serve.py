"""``flightdeck serve``: the Slack app, in Socket Mode when SLACK_APP_TOKEN is set, else HTTP.

Environment: SLACK_BOT_TOKEN (always), SLACK_SIGNING_SECRET (HTTP), SLACK_APP_TOKEN
(Socket Mode, ``xapp-...``), SLACK_API_URL (another Web API base URL), PORT (HTTP,
default 3000; in Socket Mode the probes alone), FLIGHTDECK_DATABASE_URL (the bot's
database; PostgreSQL for several replicas), FLIGHTDECK_LOG_FORMAT (text or json).
Probes: GET /healthz (alive), GET /readyz (database migrated, Slack auth.test passed,
backend answering; 503 once stopping). SIGTERM: no new work, the work in flight
finishes (30 s at most), rollout leases are given back, exit 0. Settings come from the
config file (``--config``, $FLIGHTDECK_CONFIG, ./flightdeck.yml).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from sqlalchemy import make_url

from cli import messages
from cli.logformat import LOG_FORMATS, configure_logging
from deploy.errors import FlightdeckError

__all__ = ["register"]

log = logging.getLogger("flightdeck.serve")

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
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="HTTP port: Slack's requests and the probes /healthz, /readyz (default: $PORT, 3000)",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=os.environ.get("FLIGHTDECK_LOG_FORMAT") or "text",
        help="text, or json: one JSON object a line (default: $FLIGHTDECK_LOG_FORMAT, text)",
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    # The bot's modules load only when serving (they cost a second to import).
    from bot.config import SlackSecrets, load_settings
    from bot.server import serve
    from deploy.registry import create_backend

    if args.log_format not in LOG_FORMATS:
        raise FlightdeckError(messages.LOG_FORMAT_BAD.format(value=args.log_format))
    settings = load_settings(args.config, os.environ)
    secrets = SlackSecrets.from_environ(os.environ)
    port = args.port if args.port is not None else int(os.environ.get("PORT") or DEFAULT_PORT)
    password = make_url(settings.database()).password
    configure_logging(
        args.log_format,
        secrets=[
            secrets.bot_token or "",
            secrets.signing_secret or "",
            secrets.app_token or "",
            str(password or ""),
        ],
    )
    backend = create_backend(settings.backend.name, settings.backend.options)

    def announce(line: str) -> None:
        if args.log_format == "json":
            log.info(line)
        else:
            print(line, flush=True)

    return asyncio.run(
        serve(settings, secrets, backend, host=args.host, port=port, announce=announce)
    )
