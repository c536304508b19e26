"""What a listener's work receives: a slash command or a button click, as Slack sent it.

request = SlashRequest.from_body(body)     # a slash command's form body
click = ButtonClick.from_body(body)        # a block_actions payload
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.slack_io import Origin

__all__ = ["ButtonClick", "SlashRequest"]


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

    @property
    def delivery(self) -> str | None:
        """The key of this delivery (a retry carries the same ``trigger_id``)."""
        return f"command:{self.trigger_id}" if self.trigger_id else None


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

    @property
    def delivery(self) -> str | None:
        """The key of this click (a retry carries the same action, user and ``action_ts``)."""
        if not self.action_ts:
            return None
        return f"action:{self.action_id}:{self.user}:{self.action_ts}"
