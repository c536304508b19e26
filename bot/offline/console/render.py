"""Block Kit as terminal text: sections, headers, context, code blocks, numbered buttons.

Mentions become ``@name``, dates their fallback text, links ``text (url)``, a few
emoji codes their character; Slack's ``&lt;`` escapes are undone.

    lines = render_blocks(message.blocks, users={"U1": "alice"}, number=registry.number)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.offline.slackstub import StubMessage

__all__ = ["ack_text", "find_element", "mrkdwn_to_text", "plain_text", "render_blocks"]

_EMOJI = {
    ":white_check_mark:": "✅",
    ":x:": "❌",
    ":hourglass:": "⌛",
    ":large_green_circle:": "🟢",
    ":red_circle:": "🔴",
    ":warning:": "⚠️",
}
_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BARE = re.compile(r"<(https?://[^>]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_EMOJI_CODE = re.compile(r":[a-z0-9_+-]+:")

#: Called with a button element; answers the number shown beside it.
Numberer = Callable[[Mapping[str, Any], str], int]


def mrkdwn_to_text(text: str, users: Mapping[str, str]) -> str:
    """Slack mrkdwn as plain terminal text."""
    text = _MENTION.sub(lambda m: "@" + users.get(m.group(1), m.group(1)), text)
    text = _DATE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _BARE.sub(lambda m: m.group(1), text)
    text = _BOLD.sub(lambda m: m.group(1), text)
    text = _EMOJI_CODE.sub(lambda m: _EMOJI.get(m.group(0), m.group(0)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any, users: Mapping[str, str]) -> str:
    if isinstance(obj, Mapping):
        raw = str(obj.get("text", ""))
        return mrkdwn_to_text(raw, users) if obj.get("type") == "mrkdwn" else raw
    return str(obj or "")


def _code_aware(text: str) -> list[str]:
    """Lines of ``text`` with ``` fences turned into an indented block."""
    out: list[str] = []
    in_code = False
    for line in text.split("\n"):
        while "```" in line:
            before, _, line = line.partition("```")
            if before.strip():
                out.append(("    " if in_code else "") + before)
            in_code = not in_code
            if not line:
                break
        else:
            out.append(("    " if in_code else "") + line if line else "")
    while out and not out[-1]:
        out.pop()
    return out


def render_blocks(
    blocks: Sequence[Mapping[str, Any]],
    *,
    users: Mapping[str, str],
    number: Numberer,
    fallback: str = "",
) -> list[str]:
    """The message as lines of text; buttons as ``[n] label``."""
    if not blocks:
        return _code_aware(mrkdwn_to_text(fallback, users))
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        block_id = str(block.get("block_id", ""))
        if kind == "header":
            title = _text(block.get("text"), users)
            lines += [title, "═" * min(len(title), 60)]
        elif kind == "section":
            if block.get("text"):
                lines += _code_aware(_text(block.get("text"), users))
            for item in block.get("fields") or []:
                lines += ["  " + part for part in _code_aware(_text(item, users))]
        elif kind == "context":
            parts = [_text(e, users) for e in block.get("elements") or []]
            lines += ["  " + line for line in " · ".join(parts).split("\n")]
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "actions":
            labels = []
            for element in block.get("elements") or []:
                if element.get("type") == "button":
                    n = number(element, block_id)
                    labels.append(f"[{n}] {_text(element.get('text'), users)}")
            lines.append("  ".join(labels))
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        else:
            lines.append(f"[{kind} block]")
    return lines


def find_element(message: StubMessage | None, action_id: str, value: str) -> dict[str, Any] | None:
    """The button ``action_id`` with ``value`` on the message as it is now, if still there."""
    if message is None:
        return None
    for block in message.blocks:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id and str(element.get("value")) == value:
                return dict(element)
    return None


def plain_text(obj: Any, names: Mapping[str, str]) -> str:
    """A text object (or a string) as terminal text."""
    if isinstance(obj, Mapping):
        return mrkdwn_to_text(str(obj.get("text", "")), names)
    return str(obj or "")


def ack_text(body: str) -> str:
    """The text of an ack's body (JSON with ``text``, or plain)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    return str(data.get("text", "")) if isinstance(data, dict) else body
