"""``flightdeck db``: the bot's database.

    flightdeck db upgrade [--config F]

``upgrade`` brings the database (``$FLIGHTDECK_DATABASE_URL``, else
``$FLIGHTDECK_HOME/bot.db``) to the newest schema and prints its revision before and after,
as JSON. The bot does the same at every start (``flightdeck serve``, the console); run it
by hand to upgrade before a deploy, or to see where a database stands. A database made by a
release before the migrations is adopted in place, its rows kept; two upgrades at once
(two bot replicas starting) wait for each other.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from cli.output import print_json

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``db upgrade``."""
    parser = subparsers.add_parser(
        "db",
        help="the bot's database: upgrade its schema",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    upgrade = verbs.add_parser(
        "upgrade", help="upgrade the schema to the newest revision; print it before and after"
    )
    upgrade.add_argument(
        "--config", help="config file (default: $FLIGHTDECK_CONFIG, ./flightdeck.yml)"
    )
    upgrade.set_defaults(handler=_upgrade)
    parser.set_defaults(handler=lambda _args: parser.print_help() or 2)


def _upgrade(args: argparse.Namespace) -> int:
    # The bot's settings and Alembic load only when the verb runs.
    from sqlalchemy import make_url

    from base.db import Database
    from base.migrations import head, upgrade
    from bot.config import load_settings

    settings = load_settings(args.config, os.environ)
    database = Database(url=settings.database())
    try:
        before, after = upgrade(database.engine)
    finally:
        database.dispose()
    print_json(
        {
            "database": make_url(database.url).render_as_string(hide_password=True),
            "before": before,
            "after": after,
            "head": head(),
        }
    )
    return 0
