"""A lean HTTP/1.1 client connection for the engine's hot path.

aiohttp's client reaches about 6,000 requests/s on one core before any
bookkeeping; a load generator must leave the endpoint, not itself, as the
bottleneck. This protocol carries one request at a time over a keep-alive
connection, sends pre-built request bytes, and parses only what it needs from
the response: the status code, the body's framing (Content-Length, chunked, or
until close) and ``Connection: close``. The body is skipped, never decoded. No
task or future is made per request: completion is a callback to the owner.

https goes through asyncio's TLS transport with a verifying context
(``client_tls``: chain and host name checked), made once per run.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Protocol, cast

from loadtest import messages
from loadtest.errors import InvalidPlanError
from loadtest.plan import Target

__all__ = [
    "Connection",
    "ConnectionOwner",
    "ProtocolError",
    "build_request",
    "client_tls",
    "open_connection",
]

_MAX_HEAD = 64 * 1024
_HEAD_END = b"\r\n\r\n"
_USER_AGENT = "flightdeck-loadtest/1"

# Response parsing states.
_HEAD, _LENGTH, _CHUNKED, _UNTIL_CLOSE = 0, 1, 2, 3


class ProtocolError(Exception):
    """The server's response is not HTTP/1.x we can frame (a bug or a broken server)."""


class ConnectionOwner(Protocol):
    """What a connection reports to: the closed- or open-loop driver."""

    def on_response(self, conn: Connection, status: int) -> None:
        """A full response arrived on ``conn``; it is idle again unless it is closing."""

    def on_failure(self, conn: Connection, category: str) -> None:
        """The request on ``conn`` failed (``protocol_error`` or ``connection_error``)."""

    def on_closed(self, conn: Connection) -> None:
        """``conn`` is gone (closed by either side); it carries no request."""


def build_request(target: Target, method: str, headers: Mapping[str, str], body: bytes) -> bytes:
    """The bytes of one request, built once and sent as is for every request."""
    lines = [f"{method} {target.path} HTTP/1.1", f"Host: {target.host_header}"]
    names = {name.lower() for name in headers}
    if "user-agent" not in names:
        lines.append(f"User-Agent: {_USER_AGENT}")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _header_has(head: bytes, name: bytes, token: bytes) -> bool:
    """True when the (lower-cased) head has header ``name`` whose value holds ``token``."""
    found = head.find(name)
    if found < 0:
        return False
    line_end = head.find(b"\r", found + 1)
    return token in head[found + len(name) : line_end if line_end >= 0 else None]


def _chunked_end(buf: bytes | bytearray, pos: int) -> int:
    """Where a chunked body starting at ``pos`` ends, or -1 when more bytes are needed."""
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return -1
        try:
            size = int(bytes(buf[pos:line_end]).split(b";", 1)[0], 16)
        except ValueError as exc:
            raise ProtocolError("bad chunk size") from exc
        if size == 0:
            # Optional trailers, then an empty line.
            if buf[line_end : line_end + 4] == _HEAD_END:
                return line_end + 4
            end = buf.find(_HEAD_END, line_end)
            return -1 if end < 0 else end + 4
        pos = line_end + 2 + size + 2
        if pos > len(buf):
            return -1


class Connection(asyncio.Protocol):
    """One keep-alive connection. ``send`` writes a request; the owner hears the outcome.

    ``sent_ns`` and ``intended_ns`` are stamped by the owner for latency and timeouts.
    """

    __slots__ = (
        "_buf",
        "_closing",
        "_head_only",
        "_owner",
        "_remaining",
        "_state",
        "_status",
        "busy",
        "closed",
        "intended_ns",
        "sent_ns",
        "transport",
    )

    def __init__(self, owner: ConnectionOwner, *, head_only: bool = False) -> None:
        self._owner = owner
        self._head_only = head_only  # HEAD requests: responses carry no body
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._state = _HEAD
        self._status = 0
        self._remaining = 0
        self._closing = False
        self.busy = False
        self.closed = False
        self.sent_ns = 0
        self.intended_ns = 0

    # ------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (not always an asyncio.Transport subclass: uvloop's is not).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.busy:
            return  # bytes nobody waits for (after a timeout or a cancel): ignore
        try:
            if self._state == _HEAD:
                self._on_head_bytes(data)
            else:
                self._on_body_bytes(data)
        except ProtocolError:
            self._buf.clear()
            self.abort()
            self._owner.on_failure(self, messages.PROTOCOL_ERROR)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.busy:
            if self._state == _UNTIL_CLOSE:
                self._finish()
            else:
                self.busy = False
                self._owner.on_failure(self, messages.CONNECTION_ERROR)
        self._owner.on_closed(self)

    # ------------------------------------------------------------ requests

    def send(self, request: bytes) -> None:
        """Write one request; the connection must be idle and open."""
        assert self.transport is not None
        self.busy = True
        self._state = _HEAD
        self.transport.write(request)

    def abort(self) -> None:
        """Drop the connection now, whatever it carries (timeouts, cancellation)."""
        self.busy = False
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------ parsing

    def _on_head_bytes(self, data: bytes) -> None:
        buf = self._buf
        if buf:
            buf.extend(data)
            chunk: bytes = bytes(buf)
            buf.clear()
        else:
            chunk = data
        while True:
            head_end = chunk.find(_HEAD_END)
            if head_end < 0:
                if len(chunk) > _MAX_HEAD:
                    raise ProtocolError("response head too long")
                buf.extend(chunk)
                return
            if chunk[:7] != b"HTTP/1.":
                raise ProtocolError("not an HTTP/1.x response")
            try:
                status = int(chunk[9:12])
            except ValueError as exc:
                raise ProtocolError("bad status line") from exc
            if status >= 200:
                break
            chunk = chunk[head_end + 4 :]  # 1xx: an interim response; the real one follows
        self._status = status
        head = chunk[:head_end].lower()
        self._closing = head[7:8] == b"0" or _header_has(head, b"\nconnection:", b"close")
        rest = chunk[head_end + 4 :]
        if status in (204, 304) or self._head_only:
            self._finish()
            return
        found = head.find(b"\ncontent-length:")
        if found >= 0:
            line_end = head.find(b"\r", found + 1)
            try:
                self._remaining = int(head[found + 16 : line_end if line_end >= 0 else None])
            except ValueError as exc:
                raise ProtocolError("bad Content-Length") from exc
            self._state = _LENGTH
        elif _header_has(head, b"\ntransfer-encoding:", b"chunked"):
            self._state = _CHUNKED
        else:
            self._state = _UNTIL_CLOSE
            self._closing = True
        self._on_body_bytes(rest)

    def _on_body_bytes(self, data: bytes) -> None:
        state = self._state
        if state == _LENGTH:
            self._remaining -= len(data)
            if self._remaining <= 0:
                self._finish()
        elif state == _CHUNKED:
            buf = self._buf
            buf.extend(data)
            if _chunked_end(buf, 0) >= 0:
                buf.clear()
                self._finish()
        # _UNTIL_CLOSE: the body ends when the server closes; skip it.

    def _finish(self) -> None:
        self.busy = False
        self._state = _HEAD
        if self._closing and not self.closed:
            self.closed = True
            assert self.transport is not None
            self.transport.close()
        self._owner.on_response(self, self._status)


def client_tls(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context: the system's trust store (``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` as set now), or only the CAs of ``ca_file``.

    ``InvalidPlanError`` (field ``ca_file``) when that file cannot be loaded.
    """
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = messages.BAD_CA_FILE.format(path=ca_file, reason=reason)
        raise InvalidPlanError(message, field="ca_file") from None


async def open_connection(
    target: Target,
    owner: ConnectionOwner,
    connect_timeout: float,
    *,
    head_only: bool = False,
    tls: ssl.SSLContext | None = None,
) -> Connection:
    """Connect to ``target`` (TLS for https, with ``tls`` or a default verifying context).

    Raises ``ssl.SSLError`` when the handshake fails, other ``OSError`` or ``TimeoutError``.
    """
    loop = asyncio.get_running_loop()
    conn = Connection(owner, head_only=head_only)
    if target.tls:
        context = tls or client_tls()
        coro = loop.create_connection(
            lambda: conn, target.host, target.port, ssl=context, server_hostname=target.host
        )
    else:
        coro = loop.create_connection(lambda: conn, target.host, target.port)
    async with asyncio.timeout(connect_timeout):
        await coro
    return conn
