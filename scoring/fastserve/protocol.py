"""HTTP/1.1 on a bare asyncio Protocol over httptools (llhttp, the parser uvicorn uses).

One :class:`Connection` per client. The parser calls back with the URL, the headers and the
body; a complete request goes to the handler (:class:`.app.ScoringApp`), which delivers a
:class:`.replies.Reply` either at once (answered on the loop) or later (run() in a worker
thread). The answer is written in one ``transport.write``. Requests pipelined on one
connection are answered in order: one is handled at a time, the next wait (and reading
pauses when too many wait). No coroutine, task or stream object is made per request: that is
where aiohttp's ~140 µs a request went.

Guarantees kept from aiohttp: keep-alive (HTTP/1.1, or HTTP/1.0 with ``Connection:
keep-alive``), ``Connection: close`` honoured, chunked request bodies, ``Expect:
100-continue`` answered before the body is read, HEAD answered without a body, a request
head over :data:`HEAD_LIMIT` bytes refused with 431, a malformed request with 400 (then the
connection closes), and idle connections closed after :data:`IDLE_TIMEOUT_S`.

Usage::

    server = HttpServer(handler=app.answer)
    listener = await loop.create_server(server.connection, sock=sock)
    ...
    await server.shutdown(grace_s=30.0, in_flight=lambda: app.in_flight)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import cast
from urllib.parse import unquote

import httptools

from . import messages as msg
from .replies import Reply

logger = logging.getLogger("fastserve")

HEAD_LIMIT = 64 * 1024
IDLE_TIMEOUT_S = 75.0  # aiohttp's keep-alive timeout
_SWEEP_EVERY_S = 15.0
_MAX_WAITING = 32  # pipelined requests held per connection before reading pauses
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_REASONS = {status.value: status.phrase for status in HTTPStatus}


@dataclass(slots=True)
class Request:
    """A complete request: ``headers`` keyed by lower-case name, repeats joined with ","."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    peer: str
    local_port: int


Deliver = Callable[[Reply], None]
Handler = Callable[[Request, Deliver], None]


class HttpServer:
    """The connections of one listening socket, and how to stop them."""

    def __init__(self, *, handler: Handler) -> None:
        self.handler = handler
        self.connections: set[Connection] = set()
        self.draining = False
        self._sweeper: asyncio.TimerHandle | None = None
        self._date_second = -1
        self._date = b""

    def connection(self) -> Connection:
        """The protocol factory for ``loop.create_server``."""
        if self._sweeper is None:
            self._schedule_sweep()
        return Connection(self)

    def date(self) -> bytes:
        """The ``Date:`` header line, made once a second."""
        now = int(time.time())
        if now != self._date_second:
            self._date_second = now
            self._date = f"Date: {formatdate(now, usegmt=True)}\r\n".encode()
        return self._date

    async def shutdown(self, *, grace_s: float, in_flight: Callable[[], int]) -> None:
        """Close idle connections, answer the requests in flight (up to ``grace_s``), close."""
        self.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        deadline = time.monotonic() + grace_s
        while True:
            for connection in list(self.connections):
                connection.close_if_idle()
            if not self.connections or in_flight() == 0 or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)  # polling the requests in flight, bounded by the grace
        for connection in list(self.connections):
            connection.abort()

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(_SWEEP_EVERY_S, self._sweep)

    def _sweep(self) -> None:
        stale = time.monotonic() - IDLE_TIMEOUT_S
        for connection in list(self.connections):
            if connection.last_active < stale:
                connection.close_if_idle()
        self._schedule_sweep()


class Connection(asyncio.Protocol):
    """One client connection: parse, hand each request to the handler, write its answer."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._head_size = 0
        self._waiting: deque[Request] = deque()
        self._busy = False
        self._pumping = False
        self._paused = False
        self._peer = ""
        self._local_port = 0
        self.last_active = time.monotonic()

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._server.connections.add(self)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self._peer = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        self._local_port = int(local[1]) if isinstance(local, tuple) and len(local) > 1 else 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        self._waiting.clear()

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(400, msg.UPGRADE_UNSUPPORTED)
        except httptools.HttpParserError:  # a callback's exception arrives wrapped in one
            too_large = self._head_size > HEAD_LIMIT
            self._refuse(
                431 if too_large else 400, msg.HEAD_TOO_LARGE if too_large else msg.BAD_REQUEST
            )

    # --- httptools callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._head_size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._grow(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grow(len(name) + len(value))
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        known = self._headers.get(key)
        self._headers[key] = text if known is None else f"{known},{text}"

    def on_headers_complete(self) -> None:
        expect = self._headers.get("expect")
        if (
            expect is not None
            and expect.lower() == "100-continue"
            and not self._busy
            and not self._waiting
            and self._transport is not None
        ):
            self._transport.write(_CONTINUE)  # as gunicorn does: the client sends the body

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        url = self._url
        query = b""
        mark = url.find(b"?")
        if mark >= 0:
            url, query = url[:mark], url[mark + 1 :]
        hash_mark = query.find(b"#")
        if hash_mark >= 0:
            query = query[:hash_mark]
        path = url.decode("latin-1")
        if "%" in path:
            path = unquote(path, encoding="latin-1")
        body = self._body
        request = Request(
            method=self._parser.get_method().decode("latin-1"),
            path=path,
            query_string=query.decode("latin-1"),
            headers=self._headers,
            body=body[0] if len(body) == 1 else b"".join(body),
            keep_alive=self._parser.should_keep_alive(),
            peer=self._peer,
            local_port=self._local_port,
        )
        self._waiting.append(request)
        if len(self._waiting) > _MAX_WAITING and self._transport is not None:
            self._transport.pause_reading()
            self._paused = True
        if not self._busy and not self._pumping:
            self._pump()

    # --- answering -------------------------------------------------------------------------

    def close_if_idle(self) -> None:
        """Close the connection unless a request is being answered or waits."""
        if not self._busy and not self._waiting and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close now, whatever is in flight."""
        if self._transport is not None:
            self._transport.abort()

    def _pump(self) -> None:
        """Handle waiting requests, one at a time, until one is answered later or none wait."""
        self._pumping = True
        try:
            while self._waiting and not self._busy and self._transport is not None:
                request = self._waiting.popleft()
                self._busy = True
                try:
                    self._server.handler(request, _Answer(self, request))
                except Exception:  # a bug in the handler: the client still gets an answer
                    logger.exception(msg.UNHANDLED.format(method=request.method, path=request.path))
                    self._write(request, Reply(status=500, body=b"", content_type=None))
        finally:
            self._pumping = False
        if self._paused and len(self._waiting) <= _MAX_WAITING // 2 and self._transport:
            self._paused = False
            self._transport.resume_reading()

    def _write(self, request: Request, reply: Reply) -> None:
        self._busy = False
        transport = self._transport
        if transport is None:
            return
        close = not request.keep_alive or self._server.draining
        transport.write(_encode(self._server, reply, head=request.method == "HEAD", close=close))
        self.last_active = time.monotonic()
        if close:
            self._waiting.clear()
            transport.close()

    def _grow(self, size: int) -> None:
        self._head_size += size
        if self._head_size > HEAD_LIMIT:
            raise _HeadTooLarge

    def _refuse(self, status: int, text: str) -> None:
        transport = self._transport
        if transport is None:
            return
        reply = Reply(status=status, body=text.encode(), content_type="text/plain; charset=utf-8")
        if not self._busy:
            transport.write(_encode(self._server, reply, head=False, close=True))
        transport.close()


class _Answer:
    """The deliver callback of one request: writes the answer, then handles the next."""

    __slots__ = ("_connection", "_request")

    def __init__(self, connection: Connection, request: Request) -> None:
        self._connection = connection
        self._request = request

    def __call__(self, reply: Reply) -> None:
        connection = self._connection
        connection._write(self._request, reply)
        if not connection._pumping:
            # Answered at once, from within _pump: its loop goes on. Answered later (by a
            # worker thread), nothing else handles the requests that wait: pump here.
            connection._pump()


class _HeadTooLarge(Exception):
    """The request line and headers passed :data:`HEAD_LIMIT`."""


def _encode(server: HttpServer, reply: Reply, *, head: bool, close: bool) -> bytes:
    status = reply.status
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
    if reply.content_type is not None:
        lines.append(f"Content-Type: {reply.content_type}\r\n")
    lines.append(f"Content-Length: {len(reply.body)}\r\n")
    for name, value in reply.headers:
        lines.append(f"{name}: {value}\r\n")
    if close:
        lines.append("Connection: close\r\n")
    encoded = "".join(lines).encode("utf-8") + server.date() + b"\r\n"
    return encoded if head else encoded + reply.body
