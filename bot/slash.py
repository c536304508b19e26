"""What every slash command listener does: ack at once, run the work after, guarded and audited.

The work is spawned (tracked by ``services.tasks``) before ``ack()`` and starts only
when the listener returns, so the HTTP answer never waits for it. A delivery seen
before (same ``trigger_id``) is acknowledged and ignored.

    def register(app, services):
        register_command(app, services, "/scale", run)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.edge import Outcome, guarded
from bot.services import Services
from bot.slack_io import Origin

__all__ = ["CommandHandler", "SlashRequest", "register_command"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SlashRequest:
    """A slash command as Slack sends it (the fields the bot uses)."""

    command: str
    text: str
    user: str
    channel: str
    response_url: str | None = None
    trigger_id: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SlashRequest:
        """From Bolt's parsed form body."""
        return cls(
            command=str(body.get("command", "")),
            text=str(body.get("text") or "").strip(),
            user=str(body.get("user_id", "")),
            channel=str(body.get("channel_id", "")),
            response_url=body.get("response_url") or None,
            trigger_id=body.get("trigger_id") or None,
        )

    @property
    def origin(self) -> Origin:
        """Where to answer."""
        return Origin(user=self.user, channel=self.channel, response_url=self.response_url)

    @property
    def mention(self) -> str:
        """The user as a Slack mention."""
        return f"<@{self.user}>"


CommandHandler = Callable[[Services, SlashRequest], Awaitable[Outcome]]


async def run_command(services: Services, request: SlashRequest, handler: CommandHandler) -> None:
    """Run a command's work once per delivery, guarded and audited."""
    if request.trigger_id and not await services.deliveries.first_time(
        f"command:{request.trigger_id}"
    ):
        log.info("ignoring a repeated delivery of %s (%s)", request.command, request.trigger_id)
        return
    await guarded(
        services,
        origin=request.origin,
        action=request.command,
        text=request.text,
        work=lambda: handler(services, request),
    )


def register_command(
    app: AsyncApp, services: Services, command: str, handler: CommandHandler
) -> None:
    """Listen to ``command``: spawn its work, then ack."""

    async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
        request = SlashRequest.from_body(body)
        services.tasks.spawn(run_command(services, request, handler), name=command)
        await ack()

    app.command(command)(listener)
