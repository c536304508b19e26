"""The router's hot path (the body at hand: no task) and its server.

A scoring request whose body has arrived is forwarded from the loop's callback, on a pooled
keep-alive connection or a new one (connected without waiting), and answered from the
upstream's callback. These tests hold that path to the same answers as the general one
(424, 408, 502, a stale pooled connection sent again), check that a body larger than the
socket buffers goes out whole, and check the HTTP server under it: pipelined requests in
order, chunked bodies, a client that goes away mid-request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from deploy.local.dataplane.router import Router
from deploy.local.dataplane.routes import DeploymentRoute, Upstream
from tests.deploy.local.router_kit import (
    KEYS,
    ModelServer,
    deployment_route,
    endpoint_route,
    running_router,
    score,
    wait_for,
)
from tests.support.azmlinfsrv import free_port


@pytest.fixture
async def blue() -> AsyncIterator[ModelServer]:
    async with ModelServer(name="blue") as server:
        yield server


@pytest.fixture
async def router(blue: ModelServer) -> AsyncIterator[Router]:
    async with running_router() as router:
        router.update(
            endpoint_route(
                "demo", {"blue": 100}, deployment_route("blue", blue, request_timeout_ms=1000)
            )
        )
        yield router


async def _read_request(reader: asyncio.StreamReader) -> bool:
    """Read one request (head and Content-Length body); False when the connection ended."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    return True


@contextlib.asynccontextmanager
async def _routed_to(
    instance: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[Router]:
    """A router whose endpoint ``demo`` has one deployment: a raw asyncio ``instance``."""
    server = await asyncio.start_server(instance, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream = Upstream(instance="blue-1", url=f"http://127.0.0.1:{port}")
    try:
        async with running_router() as router:
            route = DeploymentRoute(name="blue", upstreams=(upstream,))
            router.update(endpoint_route("demo", {"blue": 100}, route))
            yield router
    finally:
        server.close()
        await server.wait_closed()


async def _on_the_hot_path(router: Router, session: aiohttp.ClientSession) -> None:
    """Warm the pool: the first request connects, and leaves its connection."""
    assert (await score(router, "demo", session=session)).status == 200


async def test_a_first_request_connects_without_a_task(router: Router, blue: ModelServer) -> None:
    hold = asyncio.Event()
    blue.hold = hold
    pending = asyncio.create_task(score(router, "demo"))
    await wait_for(lambda: blue.started == 1, what="the request at the instance")
    assert router.requests_in_tasks == 0  # connected and sent from the callback
    assert router.in_flight("demo", "blue") == 1
    hold.set()
    assert (await pending).status == 200
    assert router.in_flight("demo", "blue") == 0


async def test_a_body_larger_than_the_socket_buffers_goes_out_whole() -> None:
    """8 MiB, held whole (streaming raised past it): the socket takes it in parts."""
    body = bytes(range(256)) * (8 * 4096)
    received: list[int] = []

    async def instance(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        got = b""
        while len(got) < length:  # a slow reader: 64 KiB at a time, yielding in between
            got += await reader.read(65536)
            await asyncio.sleep(0)
        received.append(len(got))
        answer = hashlib.sha256(got).hexdigest().encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
        await writer.drain()
        writer.close()

    async with _routed_to(instance) as router:
        router.stream_above_bytes = 16 * 1024 * 1024
        answer = await score(router, "demo", body=body)
    assert answer.status == 200
    assert received == [len(body)]
    assert answer.body == hashlib.sha256(body).hexdigest().encode()


async def test_a_pooled_request_runs_without_a_task(router: Router, blue: ModelServer) -> None:
    hold = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        await _on_the_hot_path(router, session)
        blue.hold = hold
        pending = asyncio.create_task(score(router, "demo", session=session))
        await wait_for(lambda: blue.started == 2, what="the second request at the instance")
        assert router.requests_in_tasks == 0  # forwarded from the callback
        assert router.in_flight("demo", "blue") == 1
        hold.set()
        answer = await pending
    assert answer.status == 200
    assert answer.deployment == "blue"
    assert router.in_flight("demo", "blue") == 0


@pytest.mark.parametrize("status", [400, 500])
async def test_the_hot_path_answers_424_with_the_models_status(router: Router, status: int) -> None:
    async with aiohttp.ClientSession() as session:
        await _on_the_hot_path(router, session)
        answer = await score(
            router, "demo", session=session, headers={"x-test-status": str(status)}
        )
    assert answer.status == 424
    assert answer.headers["ms-azureml-model-error-statuscode"] == str(status)
    assert answer.json()["served_by"] == "blue"


@pytest.mark.slow(budget=30)
async def test_the_hot_path_gives_up_at_the_request_timeout(router: Router) -> None:
    async with aiohttp.ClientSession() as session:
        await _on_the_hot_path(router, session)
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await score(router, "demo", session=session, headers={"x-test-delay-ms": "3000"})
        elapsed = loop.time() - started
        assert answer.status == 408
        assert 1.0 <= elapsed < 2.9
        assert router.in_flight("demo", "blue") == 0
        # The timed-out connection was dropped, not pooled: the next request is answered.
        assert (await score(router, "demo", session=session)).status == 200


async def test_a_stale_pooled_connection_is_sent_again_on_a_new_one() -> None:
    """An instance that answers one request per connection and closes the connection when
    the next one comes (as a server past its keep-alive timeout does, in the instant the
    router reuses it): the pooled socket dies unanswered, and the request is sent again on
    a new connection, not lost."""
    answered = 0
    dropped = 0

    async def instance(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered, dropped
        first = True
        while await _read_request(reader):
            if not first:
                dropped += 1
                break
            first = False
            answered += 1
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # keep-alive
            await writer.drain()
        writer.close()

    async with _routed_to(instance) as router:
        for _ in range(3):
            answer = await score(router, "demo")
            assert answer.status == 200, answer.body
            assert answer.body == b"ok"
    assert answered == 3
    assert dropped == 2  # requests 2 and 3 each found the pooled socket stale


async def test_an_instance_that_dies_mid_request_is_502() -> None:
    """After its first answer the instance reads each request and closes, answering nothing.
    On the pooled socket that looks stale, so it is sent once more on a new connection
    (as before this path existed); that one fails too: 502."""
    requests = 0

    async def instance(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        while await _read_request(reader):
            requests += 1
            if requests > 1:
                break  # dies, answering nothing
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    async with _routed_to(instance) as router:
        assert (await score(router, "demo")).status == 200
        answer = await score(router, "demo")
        assert answer.status == 502
        assert answer.deployment == "blue"
        assert requests == 3  # the pooled attempt, then one on a new connection
        assert router.in_flight("demo", "blue") == 0


async def test_header_bytes_pass_as_sent_and_hop_by_hop_fields_do_not() -> None:
    """Field values are bytes on the wire (latin-1 and all): they reach the instance and
    come back as sent; the credentials and hop-by-hop fields stop at the router."""
    heads: list[bytes] = []

    async def instance(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        heads.append(head)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\nX-Made-By: caf\xe9\r\nKeep-Alive: timeout=5\r\n"
            b"Date: Mon, 07 Dec 2026 02:00:00 GMT\r\nContent-Length: 2\r\n\r\nok"
        )
        await writer.drain()
        writer.close()

    async with _routed_to(instance) as router:
        request = _request(b"{}", close=True, extra="X-Name: caf\xe9\r\nKeep-Alive: 5\r\n")
        latin_1 = request.replace("\xe9".encode(), b"\xe9")  # _request encodes UTF-8
        received = await _raw(router, latin_1)
    assert b"\r\nX-Name: caf\xe9\r\n" in heads[0], heads
    assert b"authorization" not in heads[0].lower() and b"keep-alive" not in heads[0].lower()
    head = received.split(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 200 OK\r\n"), received
    assert b"\r\nX-Made-By: caf\xe9\r\n" in head
    assert b"keep-alive" not in head.lower()
    assert head.lower().count(b"\r\ndate: ") == 1  # the router's own
    assert b"Date: Mon, 07 Dec 2026 02:00:00 GMT" not in head
    assert head.lower().count(b"\r\ncontent-length: ") == 1
    assert received.endswith(b"\r\n\r\nok")


# ---------------------------------------------------------------- the HTTP server under it


async def _raw(router: Router, data: bytes) -> bytes:
    """Send ``data`` on one connection; read until the router closes it or 2 s pass."""
    host, port = router.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    received = b""
    try:
        async with asyncio.timeout(2):
            while chunk := await reader.read(65536):
                received += chunk
    except TimeoutError:
        pass
    writer.close()
    return received


def _request(body: bytes, *, close: bool = False, extra: str = "") -> bytes:
    head = (
        f"POST /demo/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEYS[0]}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head.encode() + body


async def test_pipelined_requests_are_answered_in_order(router: Router, blue: ModelServer) -> None:
    bodies = [f'{{"n": {index}}}'.encode() for index in range(5)]
    data = b"".join(_request(body, close=index == 4) for index, body in enumerate(bodies))
    received = await _raw(router, data)
    assert received.count(b"HTTP/1.1 200 OK") == 5
    positions = [received.find(b'\\"n\\": ' + str(index).encode()) for index in range(5)]
    assert all(position > 0 for position in positions), received[:400]
    assert positions == sorted(positions)
    assert [r.body for r in blue.received] == bodies


async def test_a_chunked_body_reaches_the_instance_whole(router: Router, blue: ModelServer) -> None:
    head = (
        f"POST /demo/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEYS[0]}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    received = await _raw(router, head + b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 200 OK"), received[:200]
    assert blue.received[0].body == b"hello world"
    assert blue.received[0].headers["Content-Length"] == "11"


async def test_a_chunked_body_over_the_limit_is_413(blue: ModelServer) -> None:
    async with running_router(max_body_bytes=1024) as router:
        router.update(endpoint_route("demo", {"blue": 100}, deployment_route("blue", blue)))
        head = (
            f"POST /demo/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEYS[0]}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        chunk = b"800\r\n" + b"x" * 2048 + b"\r\n"
        received = await _raw(router, head + chunk + b"0\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 413"), received[:200]
    assert blue.received == []


async def test_a_client_gone_mid_request_leaves_nothing_in_flight(
    router: Router, blue: ModelServer
) -> None:
    async with aiohttp.ClientSession() as session:
        await _on_the_hot_path(router, session)
    hold = asyncio.Event()
    blue.hold = hold
    host, port = router.base_url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(_request(b'{"data": [1]}'))
    await wait_for(lambda: blue.started == 2, what="the request at the instance")
    writer.close()  # gone before the answer
    await wait_for(lambda: router.open_connections == 0, what="the router to drop it")
    hold.set()
    await wait_for(lambda: router.in_flight("demo", "blue") == 0, what="the answer to land")
    assert (await score(router, "demo")).status == 200


async def test_requests_arriving_together_on_new_connections_respect_the_limit() -> None:
    """The 429 check and the count in flight are one step, also on the general path (a new
    upstream connection is made in a task): 2 x 1 slot x 1 instance lets two in, not three."""
    hold = asyncio.Event()
    async with ModelServer(name="blue", hold=hold) as blue, running_router() as router:
        route = deployment_route("blue", blue, max_concurrent_requests_per_instance=1)
        router.update(endpoint_route("demo", {"blue": 100}, route))
        pending = [asyncio.create_task(score(router, "demo")) for _ in range(3)]
        done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        assert [task.result().status for task in done] == [429]
        hold.set()
        statuses = sorted(answer.status for answer in await asyncio.gather(*pending))
    assert statuses == [200, 200, 429]
    assert blue.started == 2


async def test_a_head_over_64_kib_is_431_and_closes(router: Router, blue: ModelServer) -> None:
    huge = "x" * (65 * 1024)
    received = await _raw(router, _request(b"{}", extra=f"X-Big: {huge}\r\n"))
    assert received.startswith(b"HTTP/1.1 431"), received[:200]
    assert b"Connection: close" in received
    assert blue.received == []


async def test_an_instance_with_a_unix_socket_is_reached_there(tmp_path: Path) -> None:
    """Its TCP port has nothing on it: the answers can only come over the socket."""
    path = tmp_path / "instance.sock"

    async def instance(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await _read_request(reader):  # one request a connection, as gunicorn does
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nunix")
            await writer.drain()
        writer.close()

    server = await asyncio.start_unix_server(instance, str(path))
    upstream = Upstream(
        instance="blue-1", url=f"http://127.0.0.1:{free_port()}", unix_socket=str(path)
    )
    try:
        async with running_router() as router, aiohttp.ClientSession() as session:
            router.update(
                endpoint_route(
                    "demo", {"blue": 100}, DeploymentRoute(name="blue", upstreams=(upstream,))
                )
            )
            answers = [await score(router, "demo", session=session) for _ in range(3)]
            assert [(a.status, a.body) for a in answers] == [(200, b"unix")] * 3
            server.close()
            await server.wait_closed()
            path.unlink()
            gone = await score(router, "demo", session=session)
    finally:
        server.close()
    assert gone.status == 502
    assert str(path) in gone.json()["error"]["message"]
