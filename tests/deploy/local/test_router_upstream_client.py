"""The router's upstream HTTP client against raw servers on loopback: framing, reuse, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from deploy.local.dataplane.upstream import UpstreamAnswer, UpstreamError, UpstreamPool
from tests.deploy.local.router_kit import ModelServer
from tests.support.azmlinfsrv import HOST, free_port

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(reply: Reply) -> AsyncIterator[tuple[int, list[int]]]:
    """A TCP server answering with ``reply``; yields its port and a connection counter."""
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await reply(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, HOST, 0)
    try:
        yield server.sockets[0].getsockname()[1], connections
    finally:
        server.close()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


@pytest.fixture
async def pool() -> AsyncIterator[UpstreamPool]:
    pool = UpstreamPool()
    yield pool
    await pool.close()


async def _post(pool: UpstreamPool, port: int, body: bytes = b"{}") -> UpstreamAnswer:
    fields = b"Content-Type: application/json\r\n"
    async with asyncio.timeout(5):
        return await pool.request(HOST, port, "POST", "/score?x=1", fields, body)


async def test_content_length_answers_and_keep_alive_reuse(pool: UpstreamPool) -> None:
    async with ModelServer(name="blue") as blue:
        for n in range(3):
            answer = await _post(pool, blue.port, f'{{"n": {n}}}'.encode())
            assert answer.status == 200
            assert b'"served_by": "blue"' in answer.body
        assert [r.body for r in blue.received] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
        assert blue.received[0].query == "x=1"
        assert blue.received[0].headers["Content-Length"] == "8"
        assert blue.received[0].headers["Host"] == f"{HOST}:{blue.port}"


async def test_chunked_answers_with_trailers(pool: UpstreamPool) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n")
        for piece in (b"5;ext=1\r\nhello\r\n", b"6\r\n world\r\n", b"0\r\nX-Trailer: t\r\n\r\n"):
            writer.write(piece)
            await writer.drain()
        await reader.read()  # keep-alive: wait until the client goes

    async with raw_server(reply) as (port, _):
        answer = await _post(pool, port)
        assert (answer.status, answer.body) == (200, b"hello world")
        assert answer.headers["X-A"] == "1"


async def test_answers_framed_by_the_end_of_the_connection(pool: UpstreamPool) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.0 503 Service Unavailable\r\n\r\nbusy, ")
        await writer.drain()
        writer.write(b"come back later")

    async with raw_server(reply) as (port, connections):
        for _ in range(2):
            answer = await _post(pool, port)
            assert answer.status == 503
            assert answer.reason == "Service Unavailable"
            assert answer.body == b"busy, come back later"
        assert len(connections) == 2  # not reusable


async def test_connection_close_answers_are_not_reused(pool: UpstreamPool) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")

    async with raw_server(reply) as (port, connections):
        for _ in range(3):
            assert (await _post(pool, port)).body == b"ok"
        assert len(connections) == 3


async def test_a_stale_pooled_connection_is_retried_once(pool: UpstreamPool) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await _read_request(reader)  # the next request on this socket: dropped unanswered

    async with raw_server(reply) as (port, connections):
        assert (await _post(pool, port)).body == b"ok"
        assert (await _post(pool, port)).body == b"ok"  # retried on a new socket
        assert len(connections) == 2


async def test_a_fresh_connection_closed_unanswered_is_an_error(pool: UpstreamPool) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)

    async with raw_server(reply) as (port, connections):
        with pytest.raises(UpstreamError, match="closed the connection"):
            await _post(pool, port)
        assert len(connections) == 1  # not retried: the request may have been processed


@pytest.mark.parametrize(
    "garbage",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\n: no name\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["not-http", "bad-header", "bad-status", "space-before-colon", "folded", "no-name"],
)
async def test_garbage_is_an_upstream_error(pool: UpstreamPool, garbage: bytes) -> None:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(garbage)
        await reader.read()

    async with raw_server(reply) as (port, _):
        with pytest.raises(UpstreamError):
            await _post(pool, port)


async def test_answers_come_without_framing_and_hop_by_hop_fields() -> None:
    """What framed the answer on this connection is not passed on, nor what the pool was
    told to drop; every other field is, as sent (bytes, order, case)."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nX-First: caf\xe9\r\nConnection: keep-alive\r\n"
            b"Keep-Alive: timeout=5\r\nDate: Mon, 07 Dec 2026 02:00:00 GMT\r\n"
            b"Content-Length: 2\r\nx-last: 1\r\n\r\nok"
        )
        await reader.read()

    for drop, expected in (
        ((), b"X-First: caf\xe9\r\nDate: Mon, 07 Dec 2026 02:00:00 GMT\r\nx-last: 1\r\n"),
        (("date",), b"X-First: caf\xe9\r\nx-last: 1\r\n"),
    ):
        pool = UpstreamPool(drop=drop)
        try:
            async with raw_server(reply) as (port, _):
                answer = await _post(pool, port)
        finally:
            await pool.close()
        assert (answer.status, answer.body) == (200, b"ok")
        assert answer.fields == expected


async def test_a_refused_connection_is_an_upstream_error(pool: UpstreamPool) -> None:
    with pytest.raises(UpstreamError, match="cannot connect"):
        await _post(pool, free_port())


async def test_a_timeout_drops_the_connection(pool: UpstreamPool) -> None:
    hold = asyncio.Event()
    async with ModelServer(name="slow", hold=hold) as slow:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await pool.request(HOST, slow.port, "POST", "/score", b"", b"{}")
        hold.set()
        assert (await _post(pool, slow.port)).status == 200
        await _post(pool, slow.port)
        assert slow.started == 3


async def test_a_closed_pool_refuses_requests(pool: UpstreamPool) -> None:
    await pool.close()
    with pytest.raises(UpstreamError, match="stopping"):
        await _post(pool, free_port())
