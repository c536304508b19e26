"""A local aiohttp target for the load-test engine's tests, run as its own process.

    python target_server.py          # prints "PORT <n>" once listening on 127.0.0.1
    python target_server.py CERT KEY # the same over https (PEM certificate chain and key)

Routes (each ``{name}`` keeps its own request counter, so tests do not interfere):

- ``/fast``: 200 at once.
- ``/dist/{name}``: request k of the name waits 200 ms (k % 40 < 28: 70%), 400 ms
  (27.5%) or 1000 ms (2.5%): a known latency distribution. ``/durations/{name}`` returns
  how long each request actually took in the handler (seconds): the truth to compare with.
- ``/stall/{name}?after=A&ms=M&base=B``: each request waits B ms; request A starts a
  full stall of M ms: every request handled during it waits until it ends.
- ``/status/{name}``: k % 10 == 0 -> 500, k % 10 == 1 -> 429, else 200.
- ``/slow?ms=M``: waits M ms.
- ``/close``: 200 with ``Connection: close``.
- ``/chunked``: 200 with a chunked body.
- ``/echo/{name}``: 200; remembers the method, headers and body; ``/last/{name}`` returns them.
- ``/count/{name}``: how many requests ``/echo/{name}`` got.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import ssl
import sys
import time
from collections import defaultdict

from aiohttp import web

DIST_MS = (200.0,) * 28 + (400.0,) * 11 + (1000.0,)

counters: defaultdict[str, itertools.count[int]] = defaultdict(itertools.count)
stall_until: dict[str, float] = {}
last: dict[str, dict[str, object]] = {}
echo_count: defaultdict[str, int] = defaultdict(int)
durations: defaultdict[str, list[float]] = defaultdict(list)


def _next(route: str, request: web.Request) -> int:
    return next(counters[f"{route}/{request.match_info['name']}"])


async def fast(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="ok")


async def dist(request: web.Request) -> web.Response:
    started = time.perf_counter()
    k = _next("dist", request)
    await request.read()
    await asyncio.sleep(DIST_MS[k % len(DIST_MS)] / 1000)
    durations[request.match_info["name"]].append(time.perf_counter() - started)
    return web.Response(text="ok")


async def dist_durations(request: web.Request) -> web.Response:
    return web.json_response(durations[request.match_info["name"]])


async def stall(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    k = _next("stall", request)
    await request.read()
    loop = asyncio.get_running_loop()
    if k == int(request.query["after"]):
        stall_until[name] = loop.time() + int(request.query["ms"]) / 1000
    await asyncio.sleep(int(request.query.get("base", "0")) / 1000)
    until = stall_until.get(name, 0.0)
    if loop.time() < until:
        await asyncio.sleep(until - loop.time())
    return web.Response(text="ok")


async def status(request: web.Request) -> web.Response:
    k = _next("status", request)
    await request.read()
    code = {0: 500, 1: 429}.get(k % 10, 200)
    return web.Response(status=code, text=str(code))


async def slow(request: web.Request) -> web.Response:
    await request.read()
    await asyncio.sleep(int(request.query["ms"]) / 1000)
    return web.Response(text="ok")


async def close(request: web.Request) -> web.Response:
    await request.read()
    response = web.Response(text="bye")
    response.force_close()
    return response


async def chunked(request: web.Request) -> web.StreamResponse:
    await request.read()
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for part in (b"first,", b"second,", b"third"):
        await response.write(part)
    await response.write_eof()
    return response


async def echo(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await request.read()
    echo_count[name] += 1
    last[name] = {
        "method": request.method,
        "path": request.path_qs,
        "headers": dict(request.headers),
        "body": base64.b64encode(body).decode(),
    }
    return web.json_response({"echo": True})


async def last_request(request: web.Request) -> web.Response:
    return web.json_response(last.get(request.match_info["name"]))


async def count(request: web.Request) -> web.Response:
    return web.json_response(echo_count[request.match_info["name"]])


async def main(tls: ssl.SSLContext | None) -> None:
    app = web.Application()
    app.add_routes(
        [
            web.route("*", "/fast", fast),
            web.route("*", "/dist/{name}", dist),
            web.route("*", "/stall/{name}", stall),
            web.route("*", "/status/{name}", status),
            web.route("*", "/slow", slow),
            web.route("*", "/close", close),
            web.route("*", "/chunked", chunked),
            web.route("*", "/echo/{name}", echo),
            web.get("/last/{name}", last_request),
            web.get("/count/{name}", count),
            web.get("/durations/{name}", dist_durations),
        ]
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024, ssl_context=tls)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    # Exit when the test process closes our stdin (or dies).
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


def _tls(argv: list[str]) -> ssl.SSLContext | None:
    if not argv:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(argv[0], argv[1])
    return context


if __name__ == "__main__":
    asyncio.run(main(_tls(sys.argv[1:])))
