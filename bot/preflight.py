"""Start-up checks of ``flightdeck serve``: the secrets, the database, the backend, each
problem said in one line before the bot takes any work (Slack's scopes and the channels
the bot posts to are checked by ``bot.startup_checks``, not here).

    problems = await preflight(secrets, db=services.db, backend=backend)
    if problems:
        raise ConfigError(messages.CANNOT_START.format(problems=...))
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import make_url, text

from base.db import Database
from bot import messages
from bot.config import SlackSecrets
from deploy.backend import Backend

__all__ = ["PREFLIGHT_TIMEOUT", "check_backend", "check_database", "preflight", "secret_problems"]

log = logging.getLogger(__name__)

#: Seconds the database and the backend each get to answer at start.
PREFLIGHT_TIMEOUT = 15.0


def secret_problems(secrets: SlackSecrets) -> list[str]:
    """Every missing or malformed Slack secret, one line each (empty: all present)."""
    problems: list[str] = []
    if not secrets.bot_token:
        problems.append(messages.MISSING_ENV.format(name="SLACK_BOT_TOKEN"))
    if secrets.app_token:
        if not secrets.app_token.startswith("xapp-"):
            problems.append(messages.BAD_APP_TOKEN)
    elif not secrets.signing_secret:
        problems.append(messages.MISSING_ENV.format(name="SLACK_SIGNING_SECRET"))
    return problems


async def check_database(db: Database, *, seconds: float = PREFLIGHT_TIMEOUT) -> str | None:
    """``None`` when the database answers ``SELECT 1``; else the one line saying it does not
    (the URL shown without its password)."""
    shown = make_url(db.url).render_as_string(hide_password=True)
    try:
        await asyncio.wait_for(db.run(lambda conn: conn.execute(text("SELECT 1"))), seconds)
    except Exception as exc:  # any driver error: one line to the user, the rest to the log
        log.debug("the database check failed", exc_info=exc)
        return messages.PREFLIGHT_DB.format(url=shown, error=_first_line(exc))
    return None


async def check_backend(backend: Backend, *, seconds: float = PREFLIGHT_TIMEOUT) -> str | None:
    """``None`` when the backend lists its endpoints; else the one line saying why not."""
    try:
        await asyncio.wait_for(backend.list_endpoints(), seconds)
    except Exception as exc:  # any backend failure: one line to the user, the rest to the log
        log.debug("the backend check failed", exc_info=exc)
        return messages.PREFLIGHT_BACKEND.format(
            backend=type(backend).__name__, error=_first_line(exc)
        )
    return None


async def preflight(
    secrets: SlackSecrets, *, db: Database, backend: Backend, seconds: float = PREFLIGHT_TIMEOUT
) -> list[str]:
    """Every problem found, one line each, secrets first (empty: the bot can start)."""
    problems = secret_problems(secrets)
    found = await asyncio.gather(
        check_database(db, seconds=seconds), check_backend(backend, seconds=seconds)
    )
    problems.extend(problem for problem in found if problem)
    return problems


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return messages.PREFLIGHT_TIMED_OUT
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
