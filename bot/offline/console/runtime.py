"""Wiring a console: the Slack stand-in, the app on top of it, the read-print loop.

run_console(settings, backend, stdin=sys.stdin, stdout=sys.stdout, interactive=True)

Input is read in a thread, so the bot keeps working (and posting) while the user reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
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

__all__ = ["console_session", "line_reader", "run_console", "threaded_reader"]


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


def threaded_reader(read_line: Callable[[str], str | None]) -> Reader:
    """``read_line`` made awaitable: each line is read in a daemon thread, so the event loop
    (the alert watcher, the rollout engine, the bot's posts) runs while the user reads and
    types, and a thread still waiting for a line never holds the process at exit."""

    async def read(prompt: str) -> str | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str | None] = loop.create_future()

        def deliver(line: str | None, error: BaseException | None) -> None:
            if answer.done():
                return
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(line)

        def work() -> None:
            try:
                line = read_line(prompt)
            except Exception as exc:
                loop.call_soon_threadsafe(deliver, None, exc)
            else:
                loop.call_soon_threadsafe(deliver, line, None)

        threading.Thread(target=work, name="console-input", daemon=True).start()
        return await answer

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
    """Run a console until end of input or ``:quit`` (or Ctrl-C); the exit code.

    Input is read in a thread (``threaded_reader``): the event loop keeps running while the
    user reads, so alerts, reminders, resolutions and rollout steps are posted, and printed
    (``ConsoleSession.follow``), as they would appear in Slack. Each line is handled, the
    bot's work included, before the next is read.
    """
    lock = threading.Lock()

    def write(text: str) -> None:
        with lock:
            print(text, file=stdout, flush=True)

    read = threaded_reader(line_reader(stdin, write, interactive=interactive))

    async def main() -> None:
        try:
            async with console_session(
                settings,
                backend,
                write=write,
                read=read,
                files_dir=files_dir,
                deadline=deadline,
                working_hint=interactive,
            ) as session:
                await _loop(session)
        finally:
            await backend.aclose()

    async def _loop(session: ConsoleSession) -> None:
        if user:
            session.switch_user(user)
        if interactive:
            me = session.user
            write(
                messages.BANNER.format(
                    backend=backend.name, channel=session.channel_name, name=me.name, id=me.id
                )
            )

        def prompt_again() -> None:
            with lock:
                stdout.write(session.prompt)
                stdout.flush()

        following = asyncio.create_task(
            session.follow(
                before=(lambda: write("")) if interactive else None,
                after=prompt_again if interactive else None,
            )
        )
        try:
            while True:
                line = await read(session.prompt)
                if line is None:
                    if interactive:
                        write("")
                    return
                if not await session.handle(line):
                    return
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following

    with asyncio.Runner() as runner:
        try:
            runner.run(main())
        except KeyboardInterrupt:
            write("")
    return 0
