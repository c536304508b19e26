"""What a command answers: text (the notification fallback), Block Kit blocks, maybe a file.

The bot turns a ``Reply`` into Slack calls (``chat.postMessage``, ``chat.update``,
a ``response_url`` post, ``files_upload_v2``); the console renders the same blocks as
text. Nothing here knows about Bolt.

    reply = Reply(text="Traffic on product-recommender", blocks=(section("..."),))
    reply.block_dicts()   # validated by slack_sdk, at most 50 blocks
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block

from commands.blocks import escape, fit_blocks, section, truncate_mrkdwn

__all__ = ["FileAttachment", "Reply"]

#: chat.postMessage's top-level text: Slack truncates beyond 40,000 characters; stay well below.
TEXT_LIMIT = 3000


@dataclass(frozen=True, kw_only=True)
class FileAttachment:
    """A file to upload beside the message (long logs as text, a load-test chart as PNG)."""

    filename: str
    title: str
    content: str | bytes


@dataclass(frozen=True, kw_only=True)
class Reply:
    """A message: ``text`` for notifications and fallbacks, ``blocks`` for display.

    ``text`` is mrkdwn, as Slack reads a message's ``text``: escaped as the blocks are
    (``notice`` does it), so a fallback never pings ``<!channel>`` the blocks show as text.
    """

    text: str
    blocks: tuple[Block, ...] = ()
    file: FileAttachment | None = None

    def block_dicts(self) -> list[dict[str, Any]]:
        """The blocks as JSON values: limits checked (slack_sdk), at most 50 of them."""
        return [block.to_dict() for block in fit_blocks(self.blocks)]

    def fallback_text(self) -> str:
        """``text`` within Slack's limit (code and escapes kept whole)."""
        return truncate_mrkdwn(self.text, TEXT_LIMIT)


def notice(text: str) -> Reply:
    """A plain message (help, an error): ``text`` escaped for mrkdwn, formatting kept; the
    fallback ``text`` is the same escaped text as the block."""
    escaped = escape(text)
    return Reply(text=escaped, blocks=(section(escaped),))
