"""The lean HTTP/1.1 client: request bytes and response framing, split at every byte."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from loadtest.http1 import Connection, build_request
from loadtest.plan import Target


class Owner:
    """Records what a connection reports (the ConnectionOwner interface is ours)."""

    def __init__(self) -> None:
        self.responses: list[int] = []
        self.failures: list[str] = []
        self.closed = asyncio.Event()

    def on_response(self, conn: Connection, status: int) -> None:
        self.responses.append(status)

    def on_failure(self, conn: Connection, category: str) -> None:
        self.failures.append(category)

    def on_closed(self, conn: Connection) -> None:
        self.closed.set()


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Connection, Owner, socket.socket]]:
    """A connection over a real socket pair; the test plays the server on the other end."""
    ours, theirs = socket.socketpair()
    owner = Owner()
    conn = Connection(owner)
    loop = asyncio.get_running_loop()
    await loop.create_connection(lambda: conn, sock=ours)
    theirs.setblocking(False)
    yield conn, owner, theirs
    conn.abort()
    theirs.close()


def test_build_request() -> None:
    target = Target(scheme="http", host="127.0.0.1", port=8080, path="/ep/score?v=1")
    raw = build_request(target, "POST", {"Authorization": "Bearer k"}, b'{"a":1}')
    head, body = raw.split(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"POST /ep/score?v=1 HTTP/1.1",
        b"Host: 127.0.0.1:8080",
        b"User-Agent: flightdeck-loadtest/1",
        b"Authorization: Bearer k",
        b"Content-Length: 7",
    ]
    assert body == b'{"a":1}'
    get = build_request(target, "GET", {}, b"")
    assert b"Content-Length" not in get


RESPONSES = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world",
    "chunked": (
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
    ),
    "chunked-trailer": (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
    ),
    "interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 No\r\nContent-Length: 2\r\n\r\nno",
    "no-content": b"HTTP/1.1 204 No Content\r\n\r\n",
}
STATUS = {"length": 200, "chunked": 201, "chunked-trailer": 200, "interim": 503, "no-content": 204}


@pytest.mark.parametrize("name", sorted(RESPONSES))
async def test_response_framing_at_every_split(
    pair: tuple[Connection, Owner, socket.socket], name: str
) -> None:
    conn, owner, _ = pair
    raw = RESPONSES[name]
    for split in range(1, len(raw)):
        conn.send(b"GET / HTTP/1.1\r\n\r\n")
        conn.data_received(raw[:split])
        assert owner.responses == [], f"complete too early at byte {split}"
        conn.data_received(raw[split:])
        assert owner.responses == [STATUS[name]], f"not complete at split {split}"
        assert not conn.busy and not conn.closed
        owner.responses.clear()
    assert owner.failures == []


async def test_request_bytes_reach_the_server(
    pair: tuple[Connection, Owner, socket.socket],
) -> None:
    conn, _, theirs = pair
    loop = asyncio.get_running_loop()
    conn.send(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    received = await asyncio.wait_for(loop.sock_recv(theirs, 1000), 5)
    assert received.endswith(b"\r\n\r\n{}")


async def test_connection_close_header_closes_after_the_response(
    pair: tuple[Connection, Owner, socket.socket],
) -> None:
    conn, owner, _ = pair
    conn.send(b"GET / HTTP/1.1\r\n\r\n")
    conn.data_received(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n")
    assert owner.responses == [200]
    assert conn.closed


async def test_body_until_close(pair: tuple[Connection, Owner, socket.socket]) -> None:
    conn, owner, theirs = pair
    conn.send(b"GET / HTTP/1.1\r\n\r\n")
    conn.data_received(b"HTTP/1.0 200 OK\r\n\r\npartial")
    conn.data_received(b" body")
    assert owner.responses == []
    theirs.close()  # the server ends the body by closing
    await asyncio.wait_for(owner.closed.wait(), 5)
    assert owner.responses == [200]
    assert owner.failures == []


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
async def test_garbage_is_a_protocol_error(
    pair: tuple[Connection, Owner, socket.socket], raw: bytes
) -> None:
    conn, owner, _ = pair
    conn.send(b"GET / HTTP/1.1\r\n\r\n")
    conn.data_received(raw)
    assert owner.failures == ["protocol_error"]
    assert owner.responses == []
    assert conn.closed


async def test_server_closing_mid_response_is_a_connection_error(
    pair: tuple[Connection, Owner, socket.socket],
) -> None:
    conn, owner, theirs = pair
    conn.send(b"GET / HTTP/1.1\r\n\r\n")
    conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
    theirs.close()
    await asyncio.wait_for(owner.closed.wait(), 5)
    assert owner.failures == ["connection_error"]
    assert owner.responses == []
