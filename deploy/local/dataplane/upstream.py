"""A lean HTTP/1.1 client for the router's upstream leg: one write per request, pooled sockets.

The router sends every scoring request on to an instance on 127.0.0.1. aiohttp's
ClientSession spends about 300 µs of CPU a request on this machine (request and
response objects, timers, tracing hooks), and even an asyncio transport costs a few
loop turns and a task to connect; this client drives non-blocking sockets from the
loop's reader and writer callbacks, writes the request in one call (on loopback, on
a new connection too, in the call that connects) and parses the answer in place,
which the benchmark (bench/router.py) shows as router overhead saved.

It speaks only what the upstreams (azmlinfsrv: gunicorn) need: requests with a
``Content-Length`` body; answers framed by ``Content-Length``, chunked, or the end
of the connection; keep-alive when the server allows it (gunicorn's sync worker
closes after each answer). A pooled connection found closed before any byte of the
answer is retried once on a new one.

    pool = UpstreamPool()
    async with asyncio.timeout(5.0):
        answer = await pool.request("127.0.0.1", 5001, "POST", "/score", fields, body)
    await pool.close()
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from multidict import CIMultiDict

__all__ = [
    "HOP_BY_HOP",
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
#: Fields never passed on (lower case): they frame the answer on this connection, or are
#: hop-by-hop.
HOP_BY_HOP = frozenset(
    (b"connection", b"content-length", b"keep-alive", b"transfer-encoding", b"upgrade")
)
_MAX_IDLE_PER_HOST = 64
_READ_SIZE = 262144
_NO_BODY = (204, 304)
# Linux: a socket made non-blocking, without the ioctl() that setblocking(False) costs.
_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)


class UpstreamError(Exception):
    """The upstream could not be reached, closed early or answered something not HTTP."""


class StaleConnection(UpstreamError):
    """A pooled connection closed before answering a byte: send again on another."""


@dataclass(frozen=True, slots=True)
class StreamedBody:
    """A request body sent as it arrives: ``length`` bytes in ``chunks``, never held whole."""

    length: int
    chunks: AsyncIterator[bytes]


class UpstreamAnswer(NamedTuple):
    """An upstream's answer, read whole.

    ``fields`` is its header block as sent, each line ending in CRLF, less the fields that
    framed it, the hop-by-hop ones and those the pool drops (the router passes it on
    without decoding it); :attr:`headers` parses it.
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


class _Connection:
    """One non-blocking socket to an upstream, driven by the loop's reader and writer
    callbacks (no transport); parses one answer at a time.

    Opened without awaiting: on loopback the handshake is done by the time ``connect``
    returns, so the request goes out in the same call; otherwise the bytes wait for the
    socket to become writable. A failure before the connection was made is reported as
    "cannot connect".
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        where: str,
        drop: frozenset[bytes],
    ) -> None:
        self._loop = loop
        self._drop = drop  # lower-case names of the fields not passed on (HOP_BY_HOP's too)
        self._sock = sock
        self._fd = sock.fileno()
        self._where = where
        self.closed = False
        self.reused = False
        self._connected = False  # a byte went out or the socket became writable
        self._buffer = bytearray()
        self._out = bytearray()  # bytes the socket did not take yet
        self._waiter: OnAnswer | None = None
        self._head: tuple[int, str, bytes] | None = None
        self._length = -1  # body bytes expected; -1: chunked; -2: until the connection ends
        self._chunks: list[bytes] = []
        self._keep_alive = False
        self._writable: asyncio.Future[None] | None = None
        self._watched = False  # the loop reads the socket (from the first send on)

    @classmethod
    def open(
        cls,
        loop: asyncio.AbstractEventLoop,
        address: tuple[int, Any],
        where: str,
        drop: frozenset[bytes],
    ) -> _Connection:
        """Start connecting to ``address`` (family, sockaddr); answers lose the fields ``drop``
        names.

        Raises ``UpstreamError`` if the connection is refused at once.
        """
        family, sockaddr = address
        sock = socket.socket(family, socket.SOCK_STREAM | _NONBLOCK)
        try:
            if not _NONBLOCK:
                sock.setblocking(False)
            if family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            error = sock.connect_ex(sockaddr)
        except OSError as exc:
            sock.close()
            raise UpstreamError(f"cannot connect to {where}: {exc.strerror or exc}") from exc
        if error not in (0, errno.EINPROGRESS):
            sock.close()
            raise UpstreamError(f"cannot connect to {where}: {os.strerror(error)}")
        return cls(loop, sock, where, drop)

    def send(self, data: bytes, waiter: OnAnswer) -> None:
        """Send a request (or its head); ``waiter`` is told of its answer."""
        self._waiter = waiter
        self._head = None
        self._chunks = []
        self._write(data)
        if not self._watched and not self.closed:  # after the bytes: the instance starts sooner
            self._watched = True
            self._loop.add_reader(self._fd, self._on_readable)

    async def write_more(self, data: bytes) -> None:
        """Write part of a streamed body, waiting while the socket's buffer is full."""
        if self.closed:
            raise UpstreamError("the instance closed the connection during the upload")
        self._write(data)
        if self._out:
            if self._writable is None or self._writable.done():
                self._writable = self._loop.create_future()
            await self._writable

    def _write(self, data: bytes) -> None:
        if self.closed:
            return
        if self._out:
            self._out += data
            return
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            if exc.errno == errno.ENOTCONN and not self._connected:
                sent = 0  # still connecting (BSD, macOS): sent once the socket is writable
            else:  # told from the loop: the caller is not re-entered
                self._loop.call_soon(self._fail, exc)
                return
        if sent:
            self._connected = True
        if sent < len(data):
            self._out += data[sent:]
            self._loop.add_writer(self._fd, self._on_writable)

    def _on_writable(self) -> None:
        if not self._connected:
            error = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                self._fail(OSError(error, os.strerror(error)))
                return
            self._connected = True
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        del self._out[:sent]
        if not self._out:
            self._loop.remove_writer(self._fd)
            self._wake_writer()

    def _on_readable(self) -> None:
        try:
            data = self._sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        if not data:
            self._ended()
            return
        self._connected = True
        waiter = self._waiter
        if waiter is None:  # bytes nobody asked for: the connection is unusable
            self.abort()
            return
        try:
            answer = None
            if self._head is None and not self._buffer:  # the usual case: a whole answer
                end = data.find(b"\r\n\r\n")
                if end >= 0:
                    status, reason, fields = self._read_head(data[:end])
                    if status >= 200 and self._length == len(data) - end - 4:
                        answer = UpstreamAnswer(status, reason, fields, data[end + 4 :])
            if answer is None:  # in parts, chunked, 100 Continue first...: the general way
                self._buffer += data
                answer = self._parse()
        except UpstreamError as exc:
            self._waiter = None
            self.abort()
            waiter(None, exc)
            return
        if answer is not None:
            self._waiter = None
            waiter(answer, None)

    def _ended(self) -> None:
        """The upstream closed its side: an answer framed by the end, or an error."""
        waiter = self._waiter
        self._waiter = None
        head = self._head
        answer = None
        if head is not None and self._length == -2:  # framed by the end of the connection
            answer = UpstreamAnswer(head[0], head[1], head[2], bytes(self._buffer))
        self.abort()
        if waiter is not None:
            if answer is not None:
                waiter(answer, None)
            else:
                waiter(None, UpstreamError("closed the connection before answering"))

    def _fail(self, exc: OSError) -> None:
        waiter = self._waiter
        self._waiter = None
        connected = self._connected
        self.abort()
        if waiter is not None:
            reason = exc.strerror or str(exc) or type(exc).__name__
            if not connected:
                reason = f"cannot connect to {self._where}: {reason}"
            waiter(None, UpstreamError(reason))

    def abort(self) -> None:
        """Close now; whoever waits for an answer is not told (it gave up)."""
        if self.closed:
            return
        self.closed = True
        self._waiter = None
        if self._watched:
            self._loop.remove_reader(self._fd)
        if self._out:
            self._out.clear()
            self._loop.remove_writer(self._fd)
        self._sock.close()
        self._wake_writer()

    def _wake_writer(self) -> None:
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)

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
        """Status, reason and the header block passed on (CRLF-terminated lines, less the
        fields this connection drops); framing and keep-alive noted."""
        line_end = head.find(b"\r\n")
        if line_end < 0:
            line_end = len(head)
        # "HTTP/1.x NNN reason": the version, a three-digit code, then a space or the end
        code = head[9:12]
        if (
            head[:7] != b"HTTP/1."
            or head[8:9] != b" "
            or len(code) != 3
            or not code.isdigit()
            or (line_end > 12 and head[12:13] != b" ")
        ):
            status_line = head[:line_end].decode("latin-1")
            raise UpstreamError(f"not an HTTP answer: {status_line[:80]!r}")
        status = int(code)
        reason = head[13:line_end].decode("latin-1")
        kept: list[bytes] = []
        connection = b""
        length: bytes | None = None
        chunked = False
        drop = self._drop
        if line_end < len(head):
            for line in head[line_end + 2 :].split(b"\r\n"):
                name, colon, value = line.partition(b":")
                # a name is a token: no colon-less line, no space before the colon, no fold
                if not colon or not name or name[0] in b" \t" or name[-1] in b" \t":
                    raise UpstreamError(f"a malformed header line: {line[:80].decode('latin-1')!r}")
                lower = name.lower()
                if lower not in drop:
                    kept.append(line)
                elif lower == b"content-length":
                    if length is None:
                        length = value.strip()
                elif lower == b"connection":
                    connection += b"," + value.lower()
                elif lower == b"transfer-encoding":
                    chunked = chunked or b"chunked" in value.lower()
        if head[7:8] == b"0":  # HTTP/1.0
            self._keep_alive = b"keep-alive" in connection
        else:
            self._keep_alive = b"close" not in connection
        if status in _NO_BODY or status < 200:
            self._length = 0
        elif chunked:
            self._length = -1
        elif length is not None:
            if not length.isdigit():
                raise UpstreamError(f"a bad Content-Length: {length[:40].decode('latin-1')!r}")
            self._length = int(length)
        else:
            self._length = -2
            self._keep_alive = False
        kept.append(b"")  # each line ends in CRLF
        return status, reason, b"\r\n".join(kept) if len(kept) > 1 else b""

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
    """Keep-alive connections per (host, port); not thread-safe (one event loop).

    Answers come without the fields that framed them or are hop-by-hop (:data:`HOP_BY_HOP`)
    and without those named in ``drop`` (the router drops ``Date``: it writes its own).
    """

    def __init__(self, *, drop: Iterable[str] = ()) -> None:
        self._drop = HOP_BY_HOP | {name.lower().encode("latin-1") for name in drop}
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._addresses: dict[tuple[str, int], tuple[int, Any]] = {}
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def request(
        self,
        host: str,
        port: int,
        method: str,
        target: str,
        fields: bytes,
        body: bytes | StreamedBody,
        *,
        unix_socket: str | None = None,
    ) -> UpstreamAnswer:
        """Send one request with the header lines ``fields`` (each ending in CRLF) and read
        its answer (over ``unix_socket`` when given).

        A ``StreamedBody`` goes out as it arrives, on a new connection (it cannot be
        sent twice, so a stale pooled socket must not be risked).
        Raises ``UpstreamError`` when the upstream cannot be reached or answers badly.
        Bound it with ``asyncio.timeout``: a cancelled request drops its connection.
        """
        if isinstance(body, StreamedBody):
            head = encode_head(host, port, method, target, fields, body.length)
            return await self._stream(host, port, head, body, unix_socket)
        data = encode_request(host, port, method, target, fields, body)
        connection = self._take(host, port, unix_socket)
        try:
            answer = await self._exchange(connection, data)
        except UpstreamError:
            if not (connection.reused and connection.answered_nothing):
                raise
            connection = self._take(host, port, unix_socket, fresh=True)  # a stale socket
            answer = await self._exchange(connection, data)
        self._release(host, port, connection)
        return answer

    def start(
        self,
        host: str,
        port: int,
        data: bytes,
        on_answer: OnAnswer,
        *,
        unix_socket: str | None = None,
    ) -> Callable[[], None]:
        """Send ``data`` (from :func:`encode_request`) now, on an idle pooled connection or
        a new one (connected without waiting), and return the function that aborts it.

        The router's hot path: no task, no future. ``on_answer`` is called once, from a
        later loop callback, with the answer or the error, unless the abort (a timeout)
        is called first. A :class:`StaleConnection` error says a pooled socket was closed
        before it answered a byte: nothing was answered, and :meth:`request` may send
        again. Raises ``UpstreamError`` when the pool is closed or the connection is
        refused at once.
        """
        connection = self._take(host, port, unix_socket)

        def answered(answer: UpstreamAnswer | None, error: UpstreamError | None) -> None:
            if answer is not None:  # the caller first, then the bookkeeping
                on_answer(answer, None)
                self._release(host, port, connection)
                return
            stale = connection.answered_nothing
            connection.abort()
            if stale and error is not None:
                error = StaleConnection(str(error))
            on_answer(None, error)

        connection.send(data, answered)
        return connection.abort

    async def _stream(
        self, host: str, port: int, head: bytes, body: StreamedBody, unix_socket: str | None
    ) -> UpstreamAnswer:
        connection = self._take(host, port, unix_socket, fresh=True)
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

    def _take(
        self, host: str, port: int, unix_socket: str | None, *, fresh: bool = False
    ) -> _Connection:
        """An idle pooled connection (unless ``fresh``) or a new one, connecting (to
        ``unix_socket`` when given: the same instance, without TCP)."""
        if self._closed:
            raise UpstreamError("the router is stopping")
        idle = self._idle.get((host, port))
        while idle and not fresh:
            connection = idle.pop()
            if not connection.closed:
                connection.reused = True
                return connection
        loop = self._loop
        if loop is None:  # one loop for the pool's life (its sockets are watched by it)
            loop = self._loop = asyncio.get_running_loop()
        if unix_socket is not None:
            return _Connection.open(loop, (socket.AF_UNIX, unix_socket), unix_socket, self._drop)
        address = self._addresses.get((host, port))
        if address is None:
            address = self._addresses[(host, port)] = _resolve(host, port)
        return _Connection.open(loop, address, f"{host}:{port}", self._drop)

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
                connection.abort()
        self._idle.clear()


def encode_head(
    host: str, port: int, method: str, target: str, fields: bytes, length: int
) -> bytes:
    """A request head with the header lines ``fields`` (each ending in CRLF), announcing a
    body of ``length`` bytes (``-1``: no ``Content-Length``)."""
    line = f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\n".encode("latin-1")
    if length >= 0:
        return b"%s%sContent-Length: %d\r\n\r\n" % (line, fields, length)
    return b"%s%s\r\n" % (line, fields)


def encode_request(
    host: str, port: int, method: str, target: str, fields: bytes, body: bytes
) -> bytes:
    """A whole request, head and body, for one write."""
    length = len(body) if body or method == "POST" else -1
    return encode_head(host, port, method, target, fields, length) + body


def _resolve(host: str, port: int) -> tuple[int, Any]:
    """The (family, sockaddr) to connect to; an IP address needs no lookup (the platform's
    instances are on 127.0.0.1), a name is looked up once per pool, blocking."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UpstreamError(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    family, _, _, _, sockaddr = found[0]
    return int(family), tuple(sockaddr)


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
