"""The router against hostile local clients: big bodies, slow and idle connections, floods.

Raw sockets play the client, so that what is sent (a head alone, half a body, a
malformed header line) is exactly what the test says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import psutil
import pytest

from deploy.local.dataplane.router import Router
from deploy.local.dataplane.routes import Upstream
from tests.deploy.local.router_kit import (
    KEYS,
    Clock,
    ModelServer,
    deployment_route,
    endpoint_route,
    score,
)

MiB = 1024 * 1024


@contextlib.asynccontextmanager
async def guarded_router(**settings: float) -> AsyncIterator[Router]:
    router = Router(clock=Clock())
    for name, value in settings.items():
        setattr(router, name, value)
    await router.start()
    try:
        yield router
    finally:
        await router.stop()


async def connect(router: Router) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = router.base_url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


def head(length: int, *, expect: bool = False, key: str = KEYS[0]) -> bytes:
    lines = [
        "POST /demo/score HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {key}",
        "Content-Type: application/octet-stream",
        f"Content-Length: {length}",
    ]
    if expect:
        lines.append("Expect: 100-continue")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def status_line(reader: asyncio.StreamReader, *, seconds: float = 3.0) -> str:
    return (await asyncio.wait_for(reader.readline(), seconds)).decode().strip()


async def closed_by_server(reader: asyncio.StreamReader, *, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


@pytest.fixture
async def blue() -> AsyncIterator[ModelServer]:
    async with ModelServer(name="blue") as server:
        yield server


# ---------------------------------------------------------------- big bodies


async def test_a_150_mib_body_is_refused_from_its_content_length_with_memory_flat(
    blue: ModelServer,
) -> None:
    async with guarded_router() as router:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        me = psutil.Process()
        before = me.memory_info().rss
        reader, writer = await connect(router)
        size = 150 * MiB
        writer.write(head(size))
        chunk = b"x" * MiB
        sent = [0]

        async def upload() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(size // MiB):
                    writer.write(chunk)
                    await writer.drain()
                    sent[0] += MiB

        sending = asyncio.create_task(upload())
        first = await status_line(reader, seconds=10)
        grown = me.memory_info().rss - before
        sent_before_answer = sent[0]
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        writer.close()
        assert first.startswith("HTTP/1.1 413"), first
        assert grown < 40 * MiB, f"the router grew by {grown / MiB:.0f} MiB"
        # Refused from the head: the answer came before the body was (even half) read.
        assert sent_before_answer < 50 * MiB, f"{sent_before_answer / MiB:.0f} MiB read first"
        assert blue.received == []


async def test_expect_100_continue_is_answered_at_once(blue: ModelServer) -> None:
    async with guarded_router() as router:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        body = b"x" * 500_000  # what curl would hold back for a second
        reader, writer = await connect(router)
        writer.write(head(len(body), expect=True))
        assert await status_line(reader, seconds=0.5) == "HTTP/1.1 100 Continue"
        assert await reader.readline() == b"\r\n"
        writer.write(body)
        assert (await status_line(reader, seconds=10)).startswith("HTTP/1.1 200")
        writer.close()
        assert blue.received[0].body == body


async def test_expect_100_continue_over_the_limit_gets_413_without_the_body(
    blue: ModelServer,
) -> None:
    async with guarded_router() as router:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        reader, writer = await connect(router)
        writer.write(head(150 * MiB, expect=True))
        assert (await status_line(reader, seconds=2)).startswith("HTTP/1.1 413")
        writer.close()


async def test_a_large_body_reaches_the_instance_while_it_is_still_arriving() -> None:
    arrived = asyncio.Event()
    seen: list[int] = []

    async def instance(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_head = await reader.readuntil(b"\r\n\r\n")
        length = int(request_head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        got = 0
        while got < length:
            data = await reader.read(65536)
            if not data:
                break
            got += len(data)
            arrived.set()
        seen.append(got)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(instance, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream = _RawInstance(Upstream(instance="blue-1", url=f"http://127.0.0.1:{port}"))
    try:
        async with guarded_router() as router:
            router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", upstream)))  # type: ignore[arg-type]
            size = 8 * MiB
            reader, writer = await connect(router)
            writer.write(head(size) + b"x" * (size // 2))
            await writer.drain()
            # Half the body is sent: a router that streams has passed some of it on.
            await asyncio.wait_for(arrived.wait(), 5)
            writer.write(b"x" * (size - size // 2))
            assert (await status_line(reader, seconds=10)).startswith("HTTP/1.1 200")
            writer.close()
            assert seen == [size]
    finally:
        server.close()
        await server.wait_closed()


# ---------------------------------------------------------------- slow and idle clients


async def test_a_head_sent_slowly_is_cut_off_by_the_header_timeout(blue: ModelServer) -> None:
    async with guarded_router(header_timeout=0.5, idle_timeout=30) as router:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        reader, writer = await connect(router)
        writer.write(b"POST /demo/score HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert await closed_by_server(reader, seconds=5)
        writer.close()
        # A whole request still goes through.
        assert (await score(router, "demo")).status == 200


async def test_an_idle_connection_is_closed_by_the_idle_timeout() -> None:
    async with guarded_router(idle_timeout=0.5) as router:
        reader, writer = await connect(router)
        assert await closed_by_server(reader, seconds=5)
        writer.close()


async def test_connections_past_the_cap_get_503_and_the_log_says_so_once(
    blue: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with guarded_router(max_connections=4, idle_timeout=30) as router:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        held = [await connect(router) for _ in range(4)]
        await _until(lambda: router.open_connections == 4)
        refused = []
        for _ in range(3):
            reader, writer = await connect(router)
            refused.append(await status_line(reader))
            writer.close()
        assert all(line.startswith("HTTP/1.1 503") for line in refused), refused
        assert caplog.text.count("connections open: the router refuses") == 1
        for _, writer in held:
            writer.close()
        await _until(lambda: router.open_connections == 0)
        assert (await score(router, "demo")).status == 200


# ---------------------------------------------------------------- malformed requests


async def test_a_malformed_request_is_one_log_line_without_its_headers(
    blue: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with guarded_router() as router:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        for _ in range(5):
            reader, writer = await connect(router)
            writer.write(
                b"POST /demo/score HTTP/1.1\r\nHost: x\r\n"
                + f"Authorization: Bearer {KEYS[0]}\x01\r\n".encode()
                + b"Bad Header Line\r\n\r\n"
            )
            assert " 400 " in await status_line(reader)
            writer.close()
    assert KEYS[0] not in caplog.text
    lines = [record for record in caplog.records if "bad request" in record.getMessage()]
    assert len(lines) == 1  # five in a second: one line; the next would carry a count
    assert "Traceback" not in caplog.text


async def _until(condition: object, seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


class _RawInstance:
    """Stands where a ModelServer would: only its ``upstream()`` is used by the route."""

    def __init__(self, upstream: Upstream) -> None:
        self._upstream = upstream

    def upstream(self) -> Upstream:
        return self._upstream
