"""The router's HTTP server, hardened against hostile local clients.

``GuardedServer`` is aiohttp's low-level ``web.Server`` with:

- a connection cap: past ``max_connections`` open connections a new one gets a
  one-line 503 and is closed (the first time it happens is logged, once);
- a header timeout: a request head must be complete ``header_timeout`` seconds after
  its first byte (slow-loris), else the connection is closed;
- an idle timeout: a connection with no request in progress is closed after
  ``idle_timeout`` seconds (also one that never sends a byte);
- bad requests (malformed heads) logged as one line without their text or headers,
  at most once a second with a count, instead of aiohttp's traceback quoting the
  raw header line (which may carry a key).

    server = GuardedServer(handler, max_connections=512, header_timeout=10, idle_timeout=15)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from deploy.local.dataplane import messages
from deploy.local.logsafety import BadRequestLog

__all__ = ["GuardedServer"]

logger = logging.getLogger("deploy.local.dataplane.server")

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
)


class _GuardedConnection(RequestHandler):
    """aiohttp's connection handler with a header timeout."""

    def __init__(self, manager: GuardedServer, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages or self._request_in_progress or self._force_close or self._close:
            self._stop_header_timer()
        elif self._header_timer is None:
            self._header_timer = self._loop.call_later(self._header_timeout, self._header_late)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_late(self) -> None:
        self._header_timer = None
        if not self._messages and not self._request_in_progress:
            self.force_close()


class _Refused(asyncio.Protocol):
    """A connection over the cap: a 503 and the end."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        body = messages.too_many_connections_body()
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY % (len(body), body))
        transport.close()


class GuardedServer(web.Server):
    """``web.Server`` with a connection cap, a header timeout and an idle timeout."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        *,
        max_connections: int,
        header_timeout: float,
        idle_timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            handler, keepalive_timeout=idle_timeout, logger=BadRequestLog(logger), **kwargs
        )
        self.max_connections = max_connections
        self._header_timeout = header_timeout
        self._capped_logged = False
        self.refused = 0

    def __call__(self) -> RequestHandler:
        if len(self._connections) >= self.max_connections:
            self.refused += 1
            if not self._capped_logged:
                self._capped_logged = True
                logger.warning(messages.connection_cap_reached(self.max_connections))
            return _Refused()  # type: ignore[return-value]
        return _GuardedConnection(
            self, loop=self._loop, header_timeout=self._header_timeout, **self._kwargs
        )
