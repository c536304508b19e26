"""The stand-in's view of request bodies: query, form or JSON, merged; blocks as dicts."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.offline.slackstub.state import StubMessage

__all__ = ["blocks_of", "message_json", "read_body"]


async def read_body(request: web.Request) -> dict[str, Any]:
    """Every parameter of a request: query string, then form fields or a JSON object."""
    body: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        data = await request.json()
        if isinstance(data, dict):
            body.update(data)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        body.update({k: v for k, v in form.items() if isinstance(v, str)})
    return body


def blocks_of(raw: Any) -> list[dict[str, Any]]:
    """``blocks`` as a list of dicts (form-encoded calls send them as a JSON string)."""
    if isinstance(raw, str):
        raw = json.loads(raw) if raw else []
    return [dict(block) for block in raw or []]


def message_json(message: StubMessage) -> dict[str, Any]:
    """A message as the Web API returns it."""
    return {
        "type": "message",
        "ts": message.ts,
        "text": message.text,
        "blocks": message.blocks,
        "user": message.user,
    }
