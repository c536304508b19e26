"""Wiring a console: the Slack stand-in, the app on top of it, the read-print loop.

run_console(settings, backend, stdin=sys.stdin, stdout=sys.stdout, interactive=True)
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

from bot.alerts.watch import watching_alerts
from bot.app import build_app, build_client, build_engine
from bot.config import Settings
from bot.db import Database
from bot.offline.console import messages
from bot.offline.console.session import ConsoleSession, Reader, Writer
from bot.offline.slackstub import Directory, SlackStub
from bot.rollouts.flow import running_rollouts
from bot.services import Services
from deploy.backend import Backend

__all__ = ["console_session", "line_reader", "run_console"]


@asynccontextmanager
async def console_session(
    settings: Settings,
    backend: Backend,
    *,
    write: Writer,
    read: Reader,
    db: Database | None = None,
    files_dir: Path | None = None,
    deadline: float = 900.0,
    working_hint: bool = False,
) -> AsyncIterator[ConsoleSession]:
    """A session on a fresh Slack stand-in; the bot's work is awaited before it closes."""
    console = settings.console
    names = {u.id: u.name for u in console.users}
    channels = {console.channel: tuple(names), **console.channels}
    token = "xoxb-console-" + secrets.token_hex(8)
    stub = SlackStub(
        token=token,
        directory=Directory(users=names, usergroups=console.usergroups, channels=channels),
    )
    await stub.start()
    services: Services | None = None
    try:
        client = build_client(token=token, api_url=stub.api_url)
        services = Services.create(settings=settings, backend=backend, client=client, db=db)
        secret = secrets.token_hex(16)
        engine = build_engine(services)
        app = build_app(services=services, rollouts=engine, signing_secret=secret)
        # The alert watcher and the rollout engine run while the loop does: between two lines
        # of input they wait (`:wait` lets them run), and what they posted shows with the next
        # line's output.
        async with watching_alerts(services), running_rollouts(engine):
            yield ConsoleSession(
                app=app,
                services=services,
                rollouts=engine,
                stub=stub,
                signing_secret=secret,
                settings=console,
                write=write,
                read=read,
                files_dir=files_dir,
                deadline=deadline,
                working_hint=working_hint,
            )
    finally:
        if services is not None:
            if not await services.tasks.wait_idle(deadline=deadline):
                await services.tasks.cancel_all()
            if db is None:
                services.db.dispose()
        await stub.stop()


def line_reader(stream: TextIO, write: Writer, *, interactive: bool) -> Callable[[str], str | None]:
    """A blocking reader: ``input()`` at a terminal; else a line of ``stream``, echoed after the
    prompt so that a piped session reads like a transcript. ``None`` at the end of input."""

    def read(prompt: str) -> str | None:
        if interactive:
            try:
                return input(prompt)
            except EOFError:
                return None
        line = stream.readline()
        if not line:
            return None
        write(prompt + line.rstrip("\n"))
        return line

    return read


def run_console(
    settings: Settings,
    backend: Backend,
    *,
    stdin: TextIO,
    stdout: TextIO,
    interactive: bool,
    user: str | None = None,
    files_dir: Path | None = None,
    deadline: float = 900.0,
) -> int:
    """Run a console until end of input or ``:quit``; the exit code.

    Input is read outside the event loop (so Ctrl-C simply ends the session), and each
    line is handled, the bot's work included, before the next is read.
    """

    def write(text: str) -> None:
        print(text, file=stdout, flush=True)

    read_line = line_reader(stdin, write, interactive=interactive)

    async def read(prompt: str) -> str | None:
        return read_line(prompt)

    loop = asyncio.new_event_loop()
    try:
        context = console_session(
            settings,
            backend,
            write=write,
            read=read,
            files_dir=files_dir,
            deadline=deadline,
            working_hint=interactive,
        )
        session = loop.run_until_complete(context.__aenter__())
        try:
            if user:
                session.switch_user(user)
            if interactive:
                me = session.user
                write(
                    messages.BANNER.format(
                        backend=backend.name, channel=session.channel_name, name=me.name, id=me.id
                    )
                )
            while True:
                line = read_line(session.prompt)
                if line is None:
                    if interactive:
                        write("")
                    break
                if not loop.run_until_complete(session.handle(line)):
                    break
        except KeyboardInterrupt:
            write("")
        finally:
            loop.run_until_complete(context.__aexit__(None, None, None))
            loop.run_until_complete(backend.aclose())
    finally:
        loop.close()
    return 0
