"""A console session: slash commands and clicks as a Slack user, through the real Bolt app.

Each command is a signed, form-encoded request dispatched to the app in-process;
the bot's Web API calls go to the Slack stand-in, and after the bot's background
work is done (awaited, with a deadline) the session prints what a Slack user would
now see: new or changed messages in their final state, ephemeral answers, files.
Between two lines, while the user reads or types, ``follow`` prints what the bot posts
on its own (alerts, reminders, resolutions, rollout steps) as it appears, as Slack would.

    session = ConsoleSession(app=app, services=services, rollouts=engine, stub=stub,
                             signing_secret=secret, settings=settings.console, write=print,
                             read=reader)
    await session.handle("/traffic product-recommender")
    await session.handle("1")            # click button [1]
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from base.numbers import format_number
from bot.config import ConsoleSettings, ConsoleUser
from bot.offline.console import messages
from bot.offline.console.render import (
    ack_text,
    find_element,
    mrkdwn_to_text,
    plain_text,
    render_blocks,
)
from bot.offline.slackstub import SlackStub, StubMessage
from bot.offline.slackstub.payloads import (
    block_actions,
    encode_form,
    encode_payload,
    signed_headers,
    slash_command,
)
from bot.services import Services
from rollouts import RolloutEngine

__all__ = ["ConsoleSession"]

#: Seconds of the bot's work after which an interactive console says it is working.
HINT_AFTER = 0.5
#: ``:wait``: its default, its most, and how often it prints what changed (seconds).
WAIT_DEFAULT = 60.0
WAIT_LIMIT = 3600.0
WAIT_STEP = 0.5

Reader = Callable[[str], Awaitable[str | None]]
Writer = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class _Button:
    channel: str
    ts: str
    block_id: str
    action_id: str
    value: str


class ConsoleSession:
    """One terminal user's view of a channel with the bot."""

    def __init__(
        self,
        *,
        app: AsyncApp,
        services: Services,
        rollouts: RolloutEngine,
        stub: SlackStub,
        signing_secret: str,
        settings: ConsoleSettings,
        write: Writer,
        read: Reader,
        files_dir: Path | None = None,
        deadline: float = 900.0,
        working_hint: bool = False,
    ) -> None:
        self._app = app
        self._services = services
        self._rollouts = rollouts
        self._stub = stub
        self._secret = signing_secret
        self._settings = settings
        self._write = write
        self._read = read
        self._files_dir = files_dir
        self._deadline = deadline
        self._working_hint = working_hint
        self.users: dict[str, ConsoleUser] = {u.id: u for u in settings.users}
        self.user: ConsoleUser = settings.users[0]
        self._seen = 0
        self._numbers: dict[tuple[str, str, str, str], int] = {}
        self._buttons: dict[int, _Button] = {}
        self._busy = False

    @property
    def services(self) -> Services:
        """The bot's services (stores, tasks) behind the session."""
        return self._services

    @property
    def channel_name(self) -> str:
        """The console channel's name."""
        return self._settings.channel_name

    @property
    def prompt(self) -> str:
        """``alice@#flightdeck> ``."""
        return f"{self.user.name}@#{self._settings.channel_name}> "

    def _names(self) -> Mapping[str, str]:
        names = {uid: u.name for uid, u in self.users.items()}
        names[self._stub.bot_user_id] = "flightdeck"
        return names

    # ------------------------------------------------------------ input

    async def handle(self, line: str) -> bool:
        """Run one line of input; False when the session should end."""
        self._busy = True
        try:
            return await self._handle(line)
        finally:
            self._busy = False

    async def _handle(self, line: str) -> bool:
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            await self.slash(command, rest.strip())
        elif text.isdigit() or text.startswith("click "):
            number = text.removeprefix("click ").strip()
            if not number.isdigit():
                self._write(messages.BAD_CLICK.format(text=text))
            else:
                await self.click(int(number))
        elif text.startswith(":wait"):
            await self.wait(text.removeprefix(":wait").strip())
        elif text.startswith(":"):
            return self._meta(text)
        else:
            self._write(messages.UNKNOWN_INPUT.format(text=text))
        return True

    def _meta(self, text: str) -> bool:
        word, _, arg = text.partition(" ")
        if word in (":quit", ":q", ":exit"):
            return False
        if word == ":as":
            self.switch_user(arg.strip())
        elif word == ":users":
            for u in self.users.values():
                mark = "*" if u.id == self.user.id else " "
                self._write(f" {mark} {u.name} ({u.id})")
        elif word == ":buttons":
            self._list_buttons()
        else:
            self._write(messages.HELP)
        return True

    async def follow(
        self,
        *,
        step: float = WAIT_STEP,
        before: Callable[[], None] | None = None,
        after: Callable[[], None] | None = None,
    ) -> None:
        """Until cancelled: every ``step`` seconds, print what the bot posted on its own
        since the last look (not while a line is being handled: that prints its own).
        ``before`` and ``after`` run around the output (off the prompt's line, prompt again)."""
        while True:
            await asyncio.sleep(step)
            if self._busy or not self._has_new():
                continue
            if before is not None:
                before()
            self.show_new()
            if after is not None:
                after()

    def _has_new(self) -> bool:
        return any(
            event.kind != "ephemeral" or event.user == self.user.id
            for event in self._stub.events[self._seen :]
        )

    async def _watching(self) -> bool:
        """True while a rollout is active or an alert is pending or firing."""
        if await self._services.rollout_store.active():
            return True
        alerts = await self._services.alert_store.active(self._services.clock())
        return any(alert.state.status in ("pending", "firing") for alert in alerts)

    async def wait(self, arg: str) -> None:
        """``:wait [seconds]``: let the bot's background work (rollouts, alerts) run, printing
        what it posts, until the seconds (default 60) have passed, or sooner when no rollout
        is active and no alert is pending or firing (nothing more would come)."""
        try:
            seconds = float(arg) if arg else WAIT_DEFAULT
        except ValueError:
            self._write(messages.BAD_WAIT.format(arg=arg))
            return
        seconds = min(max(seconds, 0.0), WAIT_LIMIT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        self._write(messages.WAITING.format(seconds=format_number(seconds)))
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            # The console's user asked to watch for this long: the loop runs the scheduler.
            await asyncio.sleep(min(WAIT_STEP, remaining))
            await self._services.tasks.wait_idle(deadline=self._deadline)
            self.show_new()
            if not await self._watching():
                break
        # A rollout that just ended may still be posting its last words (reply, chart).
        await self._rollouts.idle(deadline=self._deadline)
        await self._services.tasks.wait_idle(deadline=self._deadline)
        self.show_new()

    def switch_user(self, who: str) -> None:
        """Act as the user named (or with the id) ``who``."""
        for u in self.users.values():
            if who in (u.name, u.id, "@" + u.name):
                self.user = u
                self._write(messages.NOW_ACTING.format(name=u.name, id=u.id))
                return
        known = ", ".join(u.name for u in self.users.values())
        self._write(messages.UNKNOWN_USER.format(who=who, known=known))

    # ------------------------------------------------------------ Slack requests

    async def slash(self, command: str, text: str) -> None:
        """Send a slash command as the current user; print what follows."""
        fields = slash_command(
            command=command,
            text=text,
            user_id=self.user.id,
            user_name=self.user.name,
            channel_id=self._settings.channel,
            channel_name=self._settings.channel_name,
            response_url=self._stub.response_url(user=self.user.id, channel=self._settings.channel),
            team_id=self._stub.team_id,
        )
        await self._dispatch(encode_form(fields))

    async def click(self, number: int) -> None:
        """Click button ``[number]`` as the current user (confirming its dialog if it has one)."""
        button = self._buttons.get(number)
        message = self._stub.messages.get((button.channel, button.ts)) if button else None
        element = (
            find_element(message, button.action_id, button.value) if button and message else None
        )
        if button is None or message is None or element is None:
            self._write(messages.NO_SUCH_BUTTON.format(number=number))
            return
        confirm = element.get("confirm")
        if confirm:
            names = self._names()
            self._write(plain_text(confirm.get("title"), names))
            self._write("  " + plain_text(confirm.get("text"), names))
            answer = await self._read(
                messages.CONFIRM_PROMPT.format(ok=plain_text(confirm.get("confirm"), names))
            )
            if (answer or "").strip().lower() not in ("y", "yes"):
                self._write(messages.CANCELLED)
                return
        payload = block_actions(
            user_id=self.user.id,
            user_name=self.user.name,
            channel_id=button.channel,
            channel_name=self._settings.channel_name,
            message={
                "type": "message",
                "ts": message.ts,
                "text": message.text,
                "blocks": message.blocks,
            },
            block_id=button.block_id,
            action=element,
            response_url=self._stub.response_url(
                user=self.user.id, channel=button.channel, message_ts=message.ts
            ),
            team_id=self._stub.team_id,
        )
        await self._dispatch(encode_payload(payload))

    async def _dispatch(self, body: str) -> None:
        headers: dict[str, str | Sequence[str]] = dict(signed_headers(self._secret, body))
        request = AsyncBoltRequest(body=body, headers=headers)
        response = await self._app.async_dispatch(request)
        if response.status != 200:
            self._write(messages.HTTP_ERROR.format(status=response.status))
        elif response.body:
            self._write(mrkdwn_to_text(ack_text(response.body), self._names()))
        tasks = self._services.tasks
        if self._working_hint and not await tasks.wait_idle(deadline=HINT_AFTER):
            self._write(messages.WORKING)
        if not await tasks.wait_idle(deadline=self._deadline):
            self._write(messages.STILL_WORKING)
        self.show_new()

    # ------------------------------------------------------------ output

    def show_new(self) -> None:
        """Print what appeared since the last call: final message states, ephemerals, files."""
        events = self._stub.events[self._seen :]
        self._seen = len(self._stub.events)
        shown: set[tuple[str, str]] = set()
        for event in events:
            if event.kind in ("posted", "updated") and event.ts is not None:
                key = (event.channel, event.ts)
                if key in shown:
                    continue
                shown.add(key)
                message = self._stub.messages[key]
                fresh = any(e.kind == "posted" and e.ts == event.ts for e in events)
                label = messages.NEW_MESSAGE if fresh else messages.UPDATED_MESSAGE
                self._print_message(label.format(channel=self._settings.channel_name), message)
            elif event.kind == "ephemeral" and event.message is not None:
                if event.user == self.user.id:
                    self._print_message(messages.EPHEMERAL, event.message)
            elif event.kind == "file" and event.file is not None:
                self._write(self._file_line(event.file.filename, event.file.content))

    def _print_message(self, label: str, message: StubMessage) -> None:
        self._write(label)
        lines = render_blocks(
            message.blocks,
            users=self._names(),
            number=lambda element, block_id: self._number(message, element, block_id),
            fallback=message.text,
        )
        for line in lines:
            self._write("  " + line if line else "")
        self._write("")

    def _number(self, message: StubMessage, element: Mapping[str, Any], block_id: str) -> int:
        key = (
            message.channel,
            message.ts,
            str(element.get("action_id")),
            str(element.get("value")),
        )
        if key not in self._numbers:
            self._numbers[key] = len(self._numbers) + 1
        number = self._numbers[key]
        self._buttons[number] = _Button(
            channel=message.channel,
            ts=message.ts,
            block_id=block_id,
            action_id=key[2],
            value=key[3],
        )
        return number

    def _list_buttons(self) -> None:
        live = []
        for number, button in sorted(self._buttons.items()):
            message = self._stub.messages.get((button.channel, button.ts))
            element = find_element(message, button.action_id, button.value) if message else None
            if element is not None:
                live.append(f"[{number}] {plain_text(element.get('text'), self._names())}")
        self._write("  ".join(live) if live else messages.NO_BUTTONS)

    def _file_line(self, name: str, content: bytes) -> str:
        where = ""
        if self._files_dir is not None:
            self._files_dir.mkdir(parents=True, exist_ok=True)
            path = self._files_dir / name
            path.write_bytes(content)
            where = f" -> {path}"
        # Text is what decodes as UTF-8 with no NUL byte; a chart (PNG) shows its size only.
        try:
            content.decode("utf-8")
            is_text = b"\0" not in content
        except UnicodeDecodeError:
            is_text = False
        if not is_text:
            return messages.BINARY_FILE_LINE.format(name=name, size=len(content), where=where)
        lines = content.count(b"\n")
        return messages.FILE_LINE.format(name=name, lines=lines, size=len(content), where=where)
