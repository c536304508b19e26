"""Block Kit building blocks, made with ``slack_sdk.models.blocks`` and kept within Slack's limits.

slack_sdk validates each block's limits in ``to_dict()`` (section text 3000
characters, button text 75, ...); it does not check the 50-blocks-a-message limit,
which ``fit_blocks`` enforces. Text from users, backends and logs goes through
``escape`` so that ``<``, ``>`` and ``&`` cannot turn into mentions or links.

    blocks = [header("Traffic"), section("*blue* 90%"), code_block(table)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from commands import messages

__all__ = [
    "MAX_BLOCKS",
    "SECTION_LIMIT",
    "actions",
    "button",
    "code_block",
    "context",
    "divider",
    "escape",
    "fit_blocks",
    "format_split",
    "header",
    "section",
    "tail_to_fit",
    "text_table",
    "truncate",
    "truncate_mrkdwn",
]

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
CONTEXT_LIMIT = 3000

ButtonStyle = Literal["primary", "danger"]


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` as Slack's mrkdwn requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


#: An escape (``&amp;``, ``&lt;``, ``&#123;``) cut short at the end of a text.
_PARTIAL_ENTITY = re.compile(r"&[a-zA-Z#0-9]{0,6}$")
#: The same, cut short at the start of a text.
_PARTIAL_ENTITY_START = re.compile(r"^[a-zA-Z#0-9]{1,6};")
_FENCE = "```"


def _closing(text: str) -> str:
    """What closes the code ``text`` leaves open: a fence, a backtick, or nothing."""
    if text.count(_FENCE) % 2:
        return "\n" + _FENCE
    if re.sub(r"```.*?```", "", text, flags=re.DOTALL).count("`") % 2:
        return "`"
    return ""


def truncate_mrkdwn(text: str, limit: int) -> str:
    """mrkdwn ``text`` cut to ``limit`` characters, ending with an ellipsis when cut:
    never inside an escape (``&amp;``), and a code block or inline code that the cut
    leaves open is closed again (Slack would show the rest of the message as code)."""
    if len(text) <= limit:
        return text
    for room in (0, 1, 1 + len(_FENCE)):
        cut = _PARTIAL_ENTITY.sub("", text[: limit - 1 - room])
        closing = _closing(cut)
        if len(closing) <= room:
            return cut + "…" + closing
    raise AssertionError("unreachable: the last room fits any closing")


def tail_to_fit(lines: Sequence[str], limit: int) -> tuple[list[str], int]:
    """The last lines whose joined length fits in ``limit``; and how many were left out."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        cost = len(line) + (1 if kept else 0)
        if size + cost > limit:
            break
        kept.append(line)
        size += cost
    kept.reverse()
    return kept, len(lines) - len(kept)


def header(text: str) -> HeaderBlock:
    """A header (plain text, at most 150 characters)."""
    return HeaderBlock(text=PlainTextObject(text=truncate(text, HEADER_LIMIT), emoji=True))


def section(markdown: str, *, block_id: str | None = None) -> SectionBlock:
    """A mrkdwn section, truncated to Slack's 3000 characters (code kept closed)."""
    text = MarkdownTextObject(text=truncate_mrkdwn(markdown, SECTION_LIMIT))
    return SectionBlock(text=text, block_id=block_id)


def code_block(text: str) -> SectionBlock:
    """Preformatted text in a section; the start is cut when too long (the end matters)."""
    body = escape(text.replace("```", "ʼʼʼ")) or " "
    room = SECTION_LIMIT - 8
    if len(body) > room:
        body = "…" + _PARTIAL_ENTITY_START.sub("", body[-(room - 1) :])
    return SectionBlock(text=MarkdownTextObject(text=f"```\n{body}\n```"))


def context(markdown: str) -> ContextBlock:
    """A line of small print."""
    return ContextBlock(
        elements=[MarkdownTextObject(text=truncate_mrkdwn(markdown, CONTEXT_LIMIT))]
    )


def divider() -> DividerBlock:
    """A horizontal rule."""
    return DividerBlock()


def button(
    text: str,
    *,
    action_id: str,
    value: str,
    style: ButtonStyle | None = None,
    confirm: tuple[str, str, str] | None = None,
) -> ButtonElement:
    """A button; ``confirm`` is (title, text, confirm label) for a confirm dialog."""
    dialog = None
    if confirm is not None:
        title, body, ok = confirm
        dialog = ConfirmObject(
            title=truncate(title, 100),
            text=MarkdownTextObject(text=truncate(body, 300)),
            confirm=truncate(ok, 30),
            deny=messages.CONFIRM_DENY,
        )
    return ButtonElement(
        text=truncate(text, BUTTON_TEXT_LIMIT),
        action_id=action_id,
        value=value,
        style=style,
        confirm=dialog,
    )


def actions(*elements: ButtonElement, block_id: str | None = None) -> ActionsBlock:
    """A row of buttons."""
    return ActionsBlock(elements=list(elements), block_id=block_id)


def fit_blocks(blocks: Sequence[Block]) -> list[Block]:
    """At most 50 blocks: the rest is replaced by a line saying how many were left out."""
    if len(blocks) <= MAX_BLOCKS:
        return list(blocks)
    kept = list(blocks[: MAX_BLOCKS - 1])
    left_out = len(blocks) - len(kept)
    kept.append(context(messages.BLOCKS_LEFT_OUT.format(count=left_out)))
    return kept


def text_table(rows: Sequence[Sequence[str]], *, right_percent: bool = False) -> str:
    """Rows as aligned columns for a code block; ``right_percent`` right-aligns ``NN%``
    cells after the first column."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def cell(i: int, text: str) -> str:
        if right_percent and i and text.endswith("%"):
            return text.rjust(widths[i])
        return text.ljust(widths[i])

    return "\n".join("  ".join(cell(i, c) for i, c in enumerate(row)).rstrip() for row in rows)


def format_split(traffic: Mapping[str, int], mirror: Mapping[str, int] | None = None) -> str:
    """``blue 90%, green 10%`` (and ``mirror green 10%``); ``no traffic`` when empty."""
    live = ", ".join(f"{name} {pct}%" for name, pct in sorted(traffic.items()) if pct > 0)
    text = live or messages.NO_TRAFFIC
    mirrored = {n: p for n, p in (mirror or {}).items() if p > 0}
    if mirrored:
        text += "; " + ", ".join(
            messages.MIRROR_PART.format(name=n, pct=p) for n, p in sorted(mirrored.items())
        )
    return text
