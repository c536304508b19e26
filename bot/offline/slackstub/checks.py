"""What Slack refuses in a message, checked as Slack checks it, answered as Slack answers.

Blocks are parsed with slack_sdk's own Block Kit models (``Block.parse``) and
serialised with ``to_dict()``, which enforces each element's limits (section text
3000 characters, header 150, button text 75, ...). Slack also refuses what slack_sdk
does not check (https://api.slack.com/reference/block-kit/blocks,
https://api.slack.com/methods/chat.postMessage#errors):

- more than 50 blocks in a message;
- an unknown block type, or a property no model knows;
- two blocks with the same ``block_id``;
- ``text`` over 40,000 characters (``msg_too_long``);
- neither ``text`` nor ``blocks`` (``no_text``).

``invalid_blocks`` comes with ``response_metadata.messages`` naming what is wrong and
where, as Slack's do: ``"[ERROR] no more than 50 items allowed [json-pointer:/blocks]"``.

    blocks = check_blocks(body.get("blocks"))     # raises Refusal("invalid_blocks", ...)
    check_text(text, blocks)                      # raises Refusal("msg_too_long") ...
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import Block

__all__ = ["MAX_BLOCKS", "MAX_TEXT", "Refusal", "check_blocks", "check_text"]

#: Blocks in one message (https://api.slack.com/reference/block-kit/blocks).
MAX_BLOCKS = 50
#: Characters of a message's ``text`` (chat.postMessage: ``msg_too_long`` beyond).
MAX_TEXT = 40_000

# slack_sdk warns on unknown properties and skips them; the stand-in refuses them instead.
logging.getLogger("slack_sdk.models").setLevel(logging.ERROR)


class Refusal(Exception):
    """Slack says no: ``{"ok": false, "error": error}`` (and ``response_metadata``)."""

    def __init__(
        self, error: str, *, messages: Sequence[str] = (), extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)
        self.extra = dict(extra or {})

    def answer(self) -> dict[str, Any]:
        """The Web API's JSON answer."""
        answer: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            answer["response_metadata"] = {"messages": self.messages}
        return answer


def _invalid(message: str, pointer: str) -> Refusal:
    return Refusal("invalid_blocks", messages=[f"[ERROR] {message} [json-pointer:{pointer}]"])


def _extra_property(given: Any, known: Any, pointer: str) -> str | None:
    """The pointer of the first property of ``given`` that the model's dict lacks."""
    if isinstance(given, Mapping) and isinstance(known, Mapping):
        for key, value in given.items():
            if key not in known:
                return f"{pointer}/{key}"
            found = _extra_property(value, known[key], f"{pointer}/{key}")
            if found:
                return found
    elif isinstance(given, list) and isinstance(known, list) and len(given) == len(known):
        for i, (one, other) in enumerate(zip(given, known, strict=True)):
            found = _extra_property(one, other, f"{pointer}/{i}")
            if found:
                return found
    return None


def check_blocks(raw: Any) -> list[dict[str, Any]]:
    """``blocks`` (a list, or its JSON text as form-encoded calls send it) as Slack
    accepts it; raises ``Refusal`` as Slack answers."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw else []
        except ValueError:
            raise Refusal("invalid_blocks_format") from None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Refusal("invalid_blocks_format")
    if len(raw) > MAX_BLOCKS:
        raise _invalid(f"no more than {MAX_BLOCKS} items allowed", "/blocks")
    seen: set[str] = set()
    blocks: list[dict[str, Any]] = []
    for i, given in enumerate(raw):
        pointer = f"/blocks/{i}"
        if not isinstance(given, Mapping) or "type" not in given:
            raise _invalid("missing required field: type", pointer)
        try:
            model = Block.parse(dict(given))
        except TypeError as exc:
            raise _invalid(f"invalid additional property: {exc}", pointer) from None
        if model is None:
            raise _invalid("must be a valid enum value", f"{pointer}/type")
        try:
            known = model.to_dict()
        except Exception as exc:  # slack_sdk's SlackObjectFormationError and ValueErrors
            raise _invalid(str(exc), pointer) from None
        extra = _extra_property(given, known, pointer)
        if extra:
            raise _invalid("invalid additional property", extra)
        block_id = given.get("block_id")
        if block_id is not None:
            if block_id in seen:
                raise _invalid(f"duplicate block_id: {block_id}", f"{pointer}/block_id")
            seen.add(str(block_id))
        blocks.append(dict(given))
    return blocks


def check_text(text: str, blocks: Sequence[Mapping[str, Any]]) -> None:
    """A message needs text or blocks, and text within 40,000 characters."""
    if not text and not blocks:
        raise Refusal("no_text")
    if len(text) > MAX_TEXT:
        raise Refusal("msg_too_long")
