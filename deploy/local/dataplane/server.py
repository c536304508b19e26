"""The router's HTTP/1.1 server: a bare asyncio Protocol over httptools, hardened.

One :class:`Connection` per client. httptools (llhttp, the parser uvicorn uses) calls
back with the URL, the headers and the body. When a request's head is complete it goes
to the handler as an :class:`IncomingRequest`, with a callback for its answer: the handler
answers at once (from the loop: no task or coroutine is made), or later (from a task or
an upstream's callback). It may answer before the body has arrived (a 413 from
``Content-Length``, a 401), read the body whole (:meth:`IncomingRequest.read`) or pass it
on as it arrives (:meth:`IncomingRequest.chunks`). Its :class:`Reply` is written in one
``transport.write``. Requests pipelined on one connection are answered in order.

Guarded against hostile local clients:

- a connection cap: past ``max_connections`` open connections a new one gets a
  one-line 503 and is closed (the first time it happens is logged, once);
- a header timeout: a request head must be complete ``header_timeout`` seconds after
  its first byte (slow-loris), else the connection is closed;
- an idle timeout: a connection with no request in progress is closed after
  ``idle_timeout`` seconds (also one that never sends a byte);
- bounded buffering: a body the handler has not asked for yet is held up to
  :data:`BODY_BUFFER` bytes, then reading pauses; a head over :data:`HEAD_LIMIT` bytes
  gets 431;
- bad requests (malformed heads) get 400 and are logged as one line without their
  text or headers, at most once a second with a count.

Keep-alive follows HTTP/1.1 (and ``Connection: keep-alive`` on HTTP/1.0). An answer
given before its request's body was all read closes the connection (the rest of the
body would be taken for the next request). ``Expect: 100-continue`` is answered by the
handler (:meth:`IncomingRequest.send_continue`), once it has accepted the request.

    server = HttpServer(handler, max_connections=512, header_timeout=10, idle_timeout=15)
    listener = await loop.create_server(server.connection, host, port)
    ...
    await server.shutdown(grace_s=2.0)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import partial
from http import HTTPStatus
from typing import cast
from urllib.parse import unquote

import httptools

from deploy.local.dataplane import messages
from deploy.local.logsafety import BadRequestLog

__all__ = [
    "BODY_BUFFER",
    "HEAD_LIMIT",
    "BodyError",
    "BodyTooLarge",
    "HttpServer",
    "IncomingRequest",
    "Reply",
]

logger = logging.getLogger("deploy.local.dataplane.server")

#: A request line and headers over this many bytes get 431.
HEAD_LIMIT = 64 * 1024
#: Body bytes held for a handler that has not asked for them yet, before reading pauses.
BODY_BUFFER = 1024 * 1024
_MAX_WAITING = 16  # pipelined requests held per connection before reading pauses
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_REASONS = {status.value: status.phrase for status in HTTPStatus}
_METHODS = {name.encode(): name for name in ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS")}
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
)


class BodyError(Exception):
    """The client's body broke off: the connection closed, or it sent a malformed chunk."""


class BodyTooLarge(Exception):
    """The body passed the limit given to :meth:`IncomingRequest.read`."""


@dataclass(slots=True)
class Reply:
    """An answer: status, headers and body.

    ``fields`` are header lines already encoded (each ending in CRLF), written as they
    are before ``headers``; ``reason`` ``""`` is the standard phrase.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    reason: str = ""
    fields: bytes = b""


#: Writes a request's answer; called once, at once or later.
Deliver = Callable[[Reply], None]
#: Takes a request whose head is complete and answers it through ``Deliver``.
Handler = Callable[["IncomingRequest", Deliver], None]


class IncomingRequest:
    """A request whose head is complete; its body arrives through the connection.

    ``headers`` keeps the client's fields as sent (bytes: names, values and order);
    :meth:`header` looks one up by its lower-case name (the first, if it was sent more
    than once).
    """

    __slots__ = (
        "_connection",
        "_lookup",
        "_parts",
        "_size",
        "_waiter",
        "complete",
        "content_length",
        "failed",
        "headers",
        "keep_alive",
        "method",
        "path",
        "query",
        "whole",
    )

    def __init__(
        self,
        connection: Connection,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
        lookup: dict[bytes, bytes],
        keep_alive: bool,
    ) -> None:
        self._connection = connection
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self._lookup = lookup
        self.keep_alive = keep_alive
        length = lookup.get(b"content-length")
        self.content_length = int(length) if length is not None and length.isdigit() else None
        self.complete = False
        self.failed: BodyError | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self.whole = False  # read() waits for all of it: reading is not paused for it

    def header(self, name: bytes) -> bytes | None:
        """The value of header ``name`` (lower case), or None."""
        return self._lookup.get(name)

    def send_continue(self) -> None:
        """Answer ``Expect: 100-continue`` (once the request is accepted), if it was sent."""
        expect = self._lookup.get(b"expect")
        if expect is not None and expect.lower() == b"100-continue" and not self.complete:
            self._connection.write_raw(_CONTINUE)

    def body(self) -> bytes:
        """The body received so far (all of it when :attr:`complete`)."""
        parts = self._parts
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    async def read(self, limit: int) -> bytes:
        """The whole body, once it has arrived.

        Raises :class:`BodyTooLarge` past ``limit`` bytes (read no further) and
        :class:`BodyError` if it broke off.
        """
        self.whole = True
        while not self.complete:
            if self._size > limit:
                raise BodyTooLarge
            if self.failed is not None:
                raise self.failed
            self._connection.want_body()
            await self._wait()
        if self._size > limit:
            raise BodyTooLarge
        parts = self._parts
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, never held whole; raises :class:`BodyError` if it broke off."""
        while True:
            while self._parts:
                parts = self._parts
                self._parts = []  # parts fed meanwhile come after these
                for part in parts:
                    self._size -= len(part)
                    yield part
            if self.complete:
                return
            if self.failed is not None:
                raise self.failed
            self._connection.want_body()
            await self._wait()

    # --- fed by the connection ---------------------------------------------------------------

    def feed(self, data: bytes) -> int:
        """Take a part of the body; return the bytes now held."""
        self._parts.append(data)
        self._size += len(data)
        if self._waiter is not None:
            self._wake()
        return self._size

    def finish(self) -> None:
        self.complete = True
        if self._waiter is not None:
            self._wake()

    def fail(self, error: BodyError) -> None:
        if not self.complete and self.failed is None:
            self.failed = error
            self._wake()

    async def _wait(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


@dataclass
class HttpServer:
    """The connections of one listening socket, the guards, and how to stop them."""

    handler: Handler
    max_connections: int
    header_timeout: float
    idle_timeout: float
    connections: set[Connection] = field(default_factory=set)
    draining: bool = False
    _capped_logged: bool = False
    _sweeper: asyncio.TimerHandle | None = None
    _date_second: int = -1
    _date: bytes = b""
    _bad_requests: BadRequestLog = field(default_factory=lambda: BadRequestLog(logger))

    def connection(self) -> asyncio.Protocol:
        """The protocol factory for ``loop.create_server``."""
        if self._sweeper is None and not self.draining:
            self._schedule_sweep()
        if len(self.connections) >= self.max_connections:
            if not self._capped_logged:
                self._capped_logged = True
                logger.warning(messages.connection_cap_reached(self.max_connections))
            return _Refused()
        return Connection(self)

    def date(self) -> bytes:
        """The ``Date:`` header line, made once a second."""
        now = int(time.time())
        if now != self._date_second:
            self._date_second = now
            self._date = f"Date: {formatdate(now, usegmt=True)}\r\n".encode()
        return self._date

    def bad_request(self, error: Exception) -> None:
        """Log a malformed request: its kind only, at most once a second."""
        self._bad_requests.exception(exc_info=error)

    async def shutdown(self, *, grace_s: float) -> None:
        """Close idle connections, let requests in flight finish (up to ``grace_s``), close."""
        self.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        while True:
            for connection in list(self.connections):
                connection.close_if_idle()
            if not self.connections or loop.time() >= deadline:
                break
            await asyncio.sleep(0.02)  # polling the requests in flight, bounded by the grace
        for connection in list(self.connections):
            connection.abort()

    def _schedule_sweep(self) -> None:
        every = max(0.05, min(self.header_timeout, self.idle_timeout) / 4)
        self._sweeper = asyncio.get_running_loop().call_later(every, self._sweep)

    def _sweep(self) -> None:
        now = time.monotonic()
        for connection in list(self.connections):
            connection.check_timeouts(now)
        self._schedule_sweep()


class _Refused(asyncio.Protocol):
    """A connection over the cap: a 503 and the end."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        body = messages.too_many_connections_body()
        writer = cast(asyncio.WriteTransport, transport)
        writer.write(_BUSY % (len(body), body))
        writer.close()


class HeadTooLarge(Exception):
    """The request line and headers passed :data:`HEAD_LIMIT`."""

    status = 431


class MalformedRequest(Exception):
    """httptools refused the request."""

    status = 400


class Connection(asyncio.Protocol):
    """One client connection: parse, hand each request to the handler, write its answer."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._head_started: float | None = None
        self._reading: IncomingRequest | None = None  # the request whose body is arriving
        self._queue: deque[IncomingRequest] = deque()  # heads complete, not yet answered
        self._busy = False  # the handler has the first request of the queue
        self._paused = False
        self._closing = False
        self.last_active = time.monotonic()

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        broken = BodyError("the client closed the connection during the upload")
        if self._reading is not None:
            self._reading.fail(broken)
        for request in self._queue:
            request.fail(broken)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.last_active = now
        if self._head_started is None and self._reading is None:
            self._head_started = now
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(MalformedRequest())
        except httptools.HttpParserError as exc:  # a callback's exception arrives wrapped
            cause = exc.__context__
            self._refuse(cause if isinstance(cause, HeadTooLarge) else MalformedRequest())
            return
        if self._queue and not self._busy and not self._closing:
            self._dispatch()

    # --- httptools callbacks -------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)
        if self._head_size > HEAD_LIMIT:
            raise HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value)
        if self._head_size > HEAD_LIMIT:
            raise HeadTooLarge
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_started = None
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
        headers = self._headers
        self._url = b""  # for the next request's head
        self._headers = []
        self._head_size = 0
        method = self._parser.get_method()
        request = IncomingRequest(
            self,
            _METHODS.get(method) or method.decode("latin-1"),
            path,
            query.decode("latin-1") if query else "",
            headers,
            {name.lower(): value for name, value in reversed(headers)},  # first wins
            bool(self._parser.should_keep_alive()),
        )
        self._reading = request
        self._queue.append(request)
        if len(self._queue) > _MAX_WAITING:
            self._pause()

    def on_body(self, body: bytes) -> None:
        request = self._reading
        if request is not None and request.feed(body) > BODY_BUFFER and not request.whole:
            self._pause()

    def on_message_complete(self) -> None:
        request = self._reading
        self._reading = None
        if request is not None:
            request.finish()

    # --- the handler's side ----------------------------------------------------------------

    def want_body(self) -> None:
        """The handler waits for body bytes: read again if reading was paused for them."""
        if self._paused and len(self._queue) <= _MAX_WAITING:
            self._paused = False
            if self._transport is not None:
                self._transport.resume_reading()

    def write_raw(self, data: bytes) -> None:
        if self._transport is not None and not self._closing:
            self._transport.write(data)

    def close_if_idle(self) -> None:
        """Close the connection unless a request is being answered or waits."""
        if not self._queue and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close now, whatever is in flight."""
        if self._transport is not None:
            self._transport.abort()

    def check_timeouts(self, now: float) -> None:
        """The header and idle timeouts (called by the server's sweep)."""
        if self._transport is None:
            return
        if self._queue:  # a request is being answered: the handler's timeouts apply
            return
        started = self._head_started
        if started is None:
            late = now - self.last_active > self._server.idle_timeout
        else:
            late = now - started > self._server.header_timeout
        if late:
            self._transport.close()

    # --- answering -------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Hand the first waiting request to the handler."""
        if self._busy or not self._queue or self._transport is None or self._closing:
            return
        request = self._queue[0]
        self._busy = True
        try:
            self._server.handler(request, partial(self._write, request))
        except Exception:  # a bug in the handler: the client still gets an answer
            logger.exception("The router failed on %s %s", request.method, request.path)
            if self._busy and self._queue and self._queue[0] is request:
                self._write(request, Reply(500, [], b""))

    def _write(self, request: IncomingRequest, reply: Reply) -> None:
        """Write ``request``'s answer (its deliver callback: once; a second call is ignored)."""
        if not self._busy or not self._queue or self._queue[0] is not request:
            return
        self._busy = False
        transport = self._transport
        if transport is None or self._closing:
            return
        close = not request.keep_alive or not request.complete or self._server.draining
        status = reply.status
        reason = reply.reason or _REASONS.get(status, "Unknown")
        fields = reply.fields
        if reply.headers:
            fields += "".join(f"{name}: {value}\r\n" for name, value in reply.headers).encode(
                "latin-1", "replace"
            )
        body = reply.body
        transport.write(
            b"HTTP/1.1 %d %s\r\n%sContent-Length: %d\r\n%s%s\r\n%s"
            % (
                status,
                reason.encode("latin-1", "replace"),
                fields,
                len(body),
                b"Connection: close\r\n" if close else b"",
                self._server.date(),
                b"" if request.method == "HEAD" else body,
            )
        )
        self.last_active = time.monotonic()
        if close:
            self._closing = True
            self._queue.clear()
            transport.close()
            return
        self._queue.popleft()
        if self._paused and len(self._queue) <= _MAX_WAITING // 2:
            self._paused = False
            transport.resume_reading()
        if self._queue:  # pipelined: the next one, once this call has returned
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _pause(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def _refuse(self, error: HeadTooLarge | MalformedRequest) -> None:
        self._server.bad_request(error)
        transport = self._transport
        if transport is None or self._closing:
            return
        self._closing = True
        if self._reading is not None:
            self._reading.fail(BodyError("the client sent a malformed body"))
        if not self._busy:  # no answer is being made: this one is the next on the wire
            text = b"Request head too large" if error.status == 431 else b"Bad Request"
            reason = _REASONS[error.status]
            transport.write(
                f"HTTP/1.1 {error.status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(text)}\r\nConnection: close\r\n\r\n".encode()
                + text
            )
        transport.close()
