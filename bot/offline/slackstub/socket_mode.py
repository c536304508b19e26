"""Socket Mode, as the stand-in offers it: a WebSocket the app connects to (the URL comes
from ``apps.connections.open``), envelopes sent to the app, and its acks recorded."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["SocketModeStandIn"]

Recorder = Callable[[str, Mapping[str, Any], str | None], Awaitable[object]]


class SocketModeStandIn:
    """The Socket Mode side of the stand-in."""

    def __init__(self, *, record: Recorder) -> None:
        self._record = record
        self._sockets: list[web.WebSocketResponse] = []
        self._open = asyncio.Event()
        #: What the app answered (envelope acks), in order.
        self.acks: list[dict[str, Any]] = []

    async def close(self) -> None:
        """Close every connection."""
        for socket in list(self._sockets):
            await socket.close()

    async def wait(self, *, deadline: float) -> bool:
        """Wait until an app connects in Socket Mode; False after ``deadline`` seconds."""
        try:
            async with asyncio.timeout(deadline):
                await self._open.wait()
        except TimeoutError:
            return False
        return True

    async def send(self, kind: str, payload: Mapping[str, Any]) -> str:
        """Deliver an envelope (``slash_commands``, ``interactive``) over Socket Mode; its id."""
        envelope_id = secrets.token_hex(8)
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": dict(payload),
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await self._record("socket_envelope", envelope, None)
        await self._sockets[-1].send_json(envelope)
        return envelope_id

    async def connection(self, request: web.Request) -> web.WebSocketResponse:
        """The WebSocket route: hello, then record every message the app sends."""
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": len(self._sockets)})
        self._open.set()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    data = json.loads(message.data)
                    self.acks.append(data)
                    await self._record("socket_ack", data, None)
        finally:
            self._sockets.remove(socket)
        return socket
