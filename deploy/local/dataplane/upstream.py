"""A lean HTTP/1.1 client for the router's upstream leg: one write per request, pooled sockets.

The router sends every scoring request on to an instance on 127.0.0.1. aiohttp's
ClientSession spends about 300 µs of CPU a request on this machine (request and
response objects, timers, tracing hooks); this client, an ``asyncio.Protocol`` that
writes the request in one call and parses the answer in place, spends a fraction
of that, which the benchmark (bench/router.py) shows as router overhead saved.

It speaks only what the upstreams (azmlinfsrv: gunicorn) need: requests with a
``Content-Length`` body; answers framed by ``Content-Length``, chunked, or the end
of the connection; keep-alive when the server allows it (gunicorn's sync worker
closes after each answer). A pooled connection found closed before any byte of the
answer is retried once on a new one.

    pool = UpstreamPool()
    async with asyncio.timeout(5.0):
        answer = await pool.request("127.0.0.1", 5001, "POST", "/score", headers, body)
    await pool.close()
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import cast

from multidict import CIMultiDict

__all__ = [
    "OnAnswer",
    "StaleConnection",
    "StreamedBody",
    "UpstreamAnswer",
    "UpstreamError",
    "UpstreamPool",
    "encode_head",
    "encode_request",
]

_MAX_HEAD = 65536
# On the header block, lower-cased: the fields that frame the answer.
_FIELDS = re.compile(rb"(?:[^\r\n:]+:[^\r\n]*\r\n)*")
_CONNECTION = re.compile(rb"(?m)^connection[ \t]*:([^\r\n]*)")
_CONTENT_LENGTH = re.compile(rb"(?m)^content-length[ \t]*:([^\r\n]*)")
_CHUNKED = re.compile(rb"(?m)^transfer-encoding[ \t]*:[^\r\n]*chunked")
_MAX_IDLE_PER_HOST = 64
_NO_BODY = (204, 304)


class UpstreamError(Exception):
    """The upstream could not be reached, closed early or answered something not HTTP."""


class StaleConnection(UpstreamError):
    """A pooled connection closed before answering a byte: send again on another."""


@dataclass(frozen=True, slots=True)
class StreamedBody:
    """A request body sent as it arrives: ``length`` bytes in ``chunks``, never held whole."""

    length: int
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    """An upstream's answer, read whole.

    ``fields`` is its header block as sent, each line ending in CRLF (the router passes it
    on without decoding it); :attr:`headers` parses it.
    """

    status: int
    reason: str
    fields: bytes
    body: bytes

    @property
    def headers(self) -> CIMultiDict[str]:
        """The header fields, by name (case-insensitive)."""
        parsed: CIMultiDict[str] = CIMultiDict()
        for line in self.fields.decode("latin-1").split("\r\n")[:-1]:
            name, _, value = line.partition(":")
            parsed.add(name.strip(), value.strip())
        return parsed


#: Called once with the answer, or with the error that ended the exchange.
OnAnswer = Callable[[UpstreamAnswer | None, UpstreamError | None], None]


class _Connection(asyncio.Protocol):
    """One socket to an upstream; parses one answer at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._buffer = bytearray()
        self._waiter: OnAnswer | None = None
        self._head: tuple[int, str, bytes] | None = None
        self._length = -1  # body bytes expected; -1: chunked; -2: until the connection ends
        self._chunks: list[bytes] = []
        self._keep_alive = False
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A socket transport (asyncio's, or uvloop's, which subclasses neither class).
        self.transport = cast(asyncio.Transport, transport)

    def send(self, data: bytes, waiter: OnAnswer) -> None:
        if self.transport is None:
            raise UpstreamError("the connection was not made")
        self._waiter = waiter
        self._head = None
        self._chunks = []
        self.transport.write(data)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    async def write_more(self, data: bytes) -> None:
        """Write part of a streamed body, waiting while the socket's buffer is full."""
        if self.closed or self.transport is None:
            raise UpstreamError("the instance closed the connection during the upload")
        self.transport.write(data)
        if self._writable is not None and not self._writable.done():
            await self._writable

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        waiter = self._waiter
        if waiter is None:  # bytes nobody asked for: the connection is unusable
            self.abort()
            return
        try:
            answer = self._parse()
        except UpstreamError as exc:
            self._waiter = None
            self.abort()
            waiter(None, exc)
            return
        if answer is not None:
            self._waiter = None
            waiter(answer, None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.resume_writing()
        waiter = self._waiter
        if waiter is None:
            return
        self._waiter = None
        if self._head is not None and self._length == -2:  # framed by the end of the connection
            status, reason, headers = self._head
            waiter(UpstreamAnswer(status, reason, headers, bytes(self._buffer)), None)
            return
        reason = "closed the connection before answering" if exc is None else str(exc)
        waiter(None, UpstreamError(reason or type(exc).__name__))

    def abort(self) -> None:
        """Close now; whoever waits for an answer is not told (it gave up)."""
        self.closed = True
        self._waiter = None
        if self.transport is not None:
            self.transport.abort()

    @property
    def answered_nothing(self) -> bool:
        return self._head is None and not self._buffer

    @property
    def reusable(self) -> bool:
        return self._keep_alive and not self.closed and not self._buffer

    # ------------------------------------------------------------ parsing

    def _parse(self) -> UpstreamAnswer | None:
        buffer = self._buffer
        if self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD:
                    raise UpstreamError("the answer's headers are too long")
                return None
            self._head = self._read_head(bytes(buffer[:end]))
            del buffer[: end + 4]
            if self._head[0] < 200:  # 100 Continue and the like: the real answer follows
                self._head = None
                return self._parse()
        status, reason, headers = self._head
        if self._length >= 0:
            if len(buffer) < self._length:
                return None
            body = bytes(buffer[: self._length])
            del buffer[: self._length]
            return UpstreamAnswer(status, reason, headers, body)
        if self._length == -1:
            return self._parse_chunks(status, reason, headers)
        return None  # until the connection ends

    def _read_head(self, head: bytes) -> tuple[int, str, bytes]:
        """Status, reason and the header block (CRLF-terminated lines); framing noted."""
        line_end = head.find(b"\r\n")
        if line_end < 0:
            line_end = len(head)
        status_line = head[:line_end].decode("latin-1")
        fields = head[line_end + 2 :] + b"\r\n" if line_end < len(head) else b""
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise UpstreamError(f"not an HTTP answer: {status_line[:80]!r}")
        if not _FIELDS.fullmatch(fields):
            bad = next(line for line in fields.split(b"\r\n") if b":" not in line)
            raise UpstreamError(f"a malformed header line: {bad[:80].decode('latin-1')!r}")
        status = int(code)
        lower = fields.lower()
        found = _CONNECTION.search(lower)
        connection = found.group(1) if found else b""
        self._keep_alive = (
            b"keep-alive" in connection if version == "HTTP/1.0" else b"close" not in connection
        )
        length = _CONTENT_LENGTH.search(lower)
        if status in _NO_BODY or status < 200:
            self._length = 0
        elif _CHUNKED.search(lower):
            self._length = -1
        elif length is not None:
            text = length.group(1).strip()
            if not text.isdigit():
                raise UpstreamError(f"a bad Content-Length: {text[:40].decode('latin-1')!r}")
            self._length = int(text)
        else:
            self._length = -2
            self._keep_alive = False
        return status, reason, fields

    def _parse_chunks(self, status: int, reason: str, fields: bytes) -> UpstreamAnswer | None:
        buffer = self._buffer
        while True:
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                return None
            size_text = bytes(buffer[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise UpstreamError(f"a bad chunk size: {size_text[:20]!r}") from None
            if size == 0:  # the last chunk, then trailers (ignored) and an empty line
                if buffer[line_end + 2 : line_end + 4] == b"\r\n":
                    end = line_end + 4
                else:
                    trailers_end = buffer.find(b"\r\n\r\n", line_end + 2)
                    if trailers_end < 0:
                        return None
                    end = trailers_end + 4
                del buffer[:end]
                return UpstreamAnswer(status, reason, fields, b"".join(self._chunks))
            if len(buffer) < line_end + 2 + size + 2:
                return None
            start = line_end + 2
            self._chunks.append(bytes(buffer[start : start + size]))
            del buffer[: start + size + 2]


class UpstreamPool:
    """Keep-alive connections per (host, port); not thread-safe (one event loop)."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._closed = False

    async def request(
        self,
        host: str,
        port: int,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | StreamedBody,
    ) -> UpstreamAnswer:
        """Send one request and read its answer.

        A ``StreamedBody`` goes out as it arrives, on a new connection (it cannot be
        sent twice, so a stale pooled socket must not be risked).
        Raises ``UpstreamError`` when the upstream cannot be reached or answers badly.
        Bound it with ``asyncio.timeout``: a cancelled request drops its connection.
        """
        if isinstance(body, StreamedBody):
            head = encode_head(host, port, method, target, headers, body.length)
            return await self._stream(host, port, head, body)
        data = encode_request(host, port, method, target, headers, body)
        connection = await self._acquire(host, port)
        try:
            answer = await self._exchange(connection, data)
        except UpstreamError:
            if not (connection.reused and connection.answered_nothing):
                raise
            connection = await self._acquire(host, port, fresh=True)  # it was a stale socket
            answer = await self._exchange(connection, data)
        self._release(host, port, connection)
        return answer

    def start(
        self, host: str, port: int, data: bytes, on_answer: OnAnswer
    ) -> Callable[[], None] | None:
        """Send ``data`` (from :func:`encode_request`) on an idle pooled connection, now.

        The router's hot path: no task, no future. ``on_answer`` is called once with the
        answer or the error, unless the returned function (abort: a timeout) is called
        first. None when no idle connection is at hand: the caller uses :meth:`request`,
        which connects. A :class:`StaleConnection` error says the pooled socket was closed
        before it answered a byte: nothing was answered, and :meth:`request` may send again.
        """
        if self._closed:
            return None
        idle = self._idle.get((host, port))
        connection = None
        while idle:
            candidate = idle.pop()
            transport = candidate.transport
            if not candidate.closed and transport is not None and not transport.is_closing():
                connection = candidate
                break
        if connection is None:
            return None

        def answered(answer: UpstreamAnswer | None, error: UpstreamError | None) -> None:
            if answer is not None:
                self._release(host, port, connection)
            else:
                stale = connection.answered_nothing
                connection.abort()
                if stale and error is not None:
                    error = StaleConnection(str(error))
            on_answer(answer, error)

        connection.reused = True
        connection.send(data, answered)
        return connection.abort

    async def _stream(
        self, host: str, port: int, head: bytes, body: StreamedBody
    ) -> UpstreamAnswer:
        connection = await self._acquire(host, port, fresh=True)
        waiter = _future_answer()
        try:
            connection.send(head, _settle(waiter))
            sent = 0
            async for chunk in body.chunks:
                if waiter.done():  # answered before the upload ended: stop sending
                    break
                sent += len(chunk)
                await connection.write_more(chunk)
            if sent != body.length:
                connection.closed = True  # the instance waits for bytes that never come
                if not waiter.done():
                    raise UpstreamError("the client sent less than its Content-Length")
            answer = await waiter
        except BaseException:
            connection.abort()
            if not waiter.done():
                waiter.cancel()
            raise
        self._release(host, port, connection)
        return answer

    async def _exchange(self, connection: _Connection, data: bytes) -> UpstreamAnswer:
        waiter = _future_answer()
        connection.send(data, _settle(waiter))
        try:
            return await waiter
        except BaseException:
            connection.abort()  # timed out, cancelled or broken: never reuse it
            raise

    async def _acquire(self, host: str, port: int, *, fresh: bool = False) -> _Connection:
        if self._closed:
            raise UpstreamError("the router is stopping")
        idle = self._idle.get((host, port))
        while idle and not fresh:
            connection = idle.pop()
            transport = connection.transport
            if not connection.closed and transport is not None and not transport.is_closing():
                connection.reused = True
                return connection
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(_Connection, host, port)
        except OSError as exc:
            raise UpstreamError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
        return connection

    def _release(self, host: str, port: int, connection: _Connection) -> None:
        if not connection.reusable or self._closed:
            connection.abort()
            return
        idle = self._idle.setdefault((host, port), [])
        if len(idle) >= _MAX_IDLE_PER_HOST:
            connection.abort()
            return
        idle.append(connection)

    async def close(self) -> None:
        """Close every idle connection; further requests fail."""
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                if connection.transport is not None:
                    connection.transport.close()
        self._idle.clear()


def encode_head(
    host: str, port: int, method: str, target: str, headers: Iterable[tuple[str, str]], length: int
) -> bytes:
    """A request head announcing a body of ``length`` bytes (``-1``: no ``Content-Length``)."""
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    if length >= 0:
        lines.append(f"Content-Length: {length}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


def encode_request(
    host: str, port: int, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes
) -> bytes:
    """A whole request, head and body, for one write."""
    length = len(body) if body or method == "POST" else -1
    return encode_head(host, port, method, target, headers, length) + body


def _future_answer() -> asyncio.Future[UpstreamAnswer]:
    return asyncio.get_running_loop().create_future()


def _settle(waiter: asyncio.Future[UpstreamAnswer]) -> OnAnswer:
    """An ``OnAnswer`` that settles ``waiter`` (unless it was cancelled meanwhile)."""

    def settle(answer: UpstreamAnswer | None, error: UpstreamError | None) -> None:
        if waiter.done():
            return
        if answer is not None:
            waiter.set_result(answer)
        else:
            waiter.set_exception(error or UpstreamError("no answer"))

    return settle
