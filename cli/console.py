"""``flightdeck console``: the Slack app, offline, in the terminal.

Type a slash command, see the bot's messages as text (buttons numbered), click a
button by its number, switch the acting user with ``:as <user>``. Standard input
that is not a terminal is read line by line (``echo '/traffic product-recommender' |
flightdeck console``); end of input ends the session. ``flightdeck demo`` ends here
through ``run_demo_console``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from deploy.errors import NotFoundError
from deploy.registry import create_backend

if TYPE_CHECKING:  # the bot's modules load only when the console runs (a second to import)
    from bot.config import Settings
    from deploy.backend import Backend

__all__ = ["DEMO_CONFIG", "console_main", "register", "run_demo_console"]

#: The config ``flightdeck demo`` opens the console with: two users and an access policy.
DEMO_CONFIG = Path(__file__).resolve().parents[1] / "bot" / "offline" / "console" / "demo.yml"
DEMO_MODEL = "recommendation-model"


def register(subparsers: Any) -> None:
    """Add ``console``."""
    parser = subparsers.add_parser(
        "console",
        help="the Slack app offline in the terminal: slash commands, buttons, approvals",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", help="config file (default: $FLIGHTDECK_CONFIG, ./flightdeck.yml)"
    )
    parser.add_argument("--demo", action="store_true", help="use the demo config (alice and bob)")
    parser.add_argument("--user", help="act as this console user (name or ID) from the start")
    parser.set_defaults(handler=_console)


def _console(args: argparse.Namespace) -> int:
    from bot.config import load_settings

    config = DEMO_CONFIG if args.demo else args.config
    settings = load_settings(config, os.environ)
    return console_main(settings, user=args.user)


def console_main(
    settings: Settings,
    *,
    backend: Backend | None = None,
    user: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run a console on ``settings`` (the configured backend unless one is given)."""
    from bot.offline.console.runtime import run_console

    stdin = stdin or sys.stdin
    _log_to_file(settings.home / "logs" / "console.log")
    chosen = backend or create_backend(settings.backend.name, settings.backend.options)
    return run_console(
        settings,
        chosen,
        stdin=stdin,
        stdout=stdout or sys.stdout,
        interactive=stdin.isatty(),
        user=user,
        files_dir=settings.home / "console-files",
    )


def run_demo_console(*, endpoint: str, home: Path | None = None) -> int:
    """The console ``flightdeck demo`` ends in: the demo policy, the sample models registered."""
    from bot.config import BackendSettings, load_settings

    settings = load_settings(DEMO_CONFIG, os.environ)
    if home is not None:
        options = {**settings.backend.options, "home": str(home)}
        settings = replace_settings(
            settings, home=home, backend=BackendSettings(name="local", options=options)
        )
    from cli.demo import example_folder
    from deploy.local.state.home import Home

    examples = example_folder(Home.resolve(home).root)
    asyncio.run(_register_demo_models(settings, examples))
    print(
        f"\nTry: /traffic {endpoint}   then   /traffic {endpoint} blue=90 green=10"
        "   then   :as bob   and click Approve.\n",
        flush=True,
    )
    return console_main(settings)


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    """A copy of ``settings`` with ``changes`` (validated)."""
    from bot.config import Settings

    return Settings.model_validate({**settings.model_dump(), **changes})


async def _register_demo_models(settings: Settings, examples: Path) -> None:
    """recommendation-model:1 and :2 (the example's v1 and v2), so /deploy --model works."""
    backend = create_backend(settings.backend.name, settings.backend.options)
    try:
        for version in ("1", "2"):
            try:
                await backend.get_model(DEMO_MODEL, version)
            except NotFoundError:
                path = examples / f"model-v{version}"
                if path.is_dir():
                    await backend.register_model(DEMO_MODEL, version, str(path))
    finally:
        await backend.aclose()


def _log_to_file(path: Path) -> None:
    """The console's log goes to a file: the terminal shows only the conversation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
