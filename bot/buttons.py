"""What every button listener does: ack at once, run the work after, guarded and audited.

A retried delivery of the same click (same ``action_ts``, user and action) is ignored.
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

__all__ = ["ActionHandler", "ButtonClick", "register_action"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ButtonClick:
    """A ``block_actions`` payload's first action (the fields the bot uses)."""

    action_id: str
    value: str
    action_ts: str
    user: str
    channel: str
    message_ts: str | None = None
    response_url: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ButtonClick:
        """From Bolt's parsed ``payload``."""
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
        return cls(
            action_id=str(action.get("action_id", "")),
            value=str(action.get("value", "")),
            action_ts=str(action.get("action_ts", "")),
            user=str((body.get("user") or {}).get("id", "")),
            channel=str(channel),
            message_ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
            response_url=body.get("response_url") or None,
        )

    @property
    def origin(self) -> Origin:
        """Where to answer."""
        return Origin(user=self.user, channel=self.channel, response_url=self.response_url)


ActionHandler = Callable[[Services, ButtonClick], Awaitable[Outcome]]


async def run_action(services: Services, click: ButtonClick, handler: ActionHandler) -> None:
    """Run a click's work once per delivery, guarded and audited."""
    key = f"action:{click.action_id}:{click.user}:{click.action_ts}"
    if click.action_ts and not await services.deliveries.first_time(key):
        log.info("ignoring a repeated delivery of %s by %s", click.action_id, click.user)
        return
    await guarded(
        services,
        origin=click.origin,
        action=click.action_id,
        text=click.value,
        work=lambda: handler(services, click),
    )


def register_action(
    app: AsyncApp, services: Services, action_id: str, handler: ActionHandler
) -> None:
    """Listen to button ``action_id``: spawn its work, then ack."""

    async def listener(ack: AsyncAck, body: dict[str, Any]) -> None:
        click = ButtonClick.from_body(body)
        services.tasks.spawn(run_action(services, click, handler), name=action_id)
        await ack()

    app.action(action_id)(listener)
