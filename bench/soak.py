"""Soak benchmark: the scoring router for a few minutes under good, slow and hostile clients.

The router (``deploy.local.dataplane.router.Router``, its default guards) and a trivial
aiohttp stand-in instance run in a child process; this process is the load, all on
127.0.0.1:

- good: 8 keep-alive clients scoring in a closed loop (the latencies reported);
- slow: 40 slow-loris connections, each sending a request head one byte every 2 s
  (the header timeout cuts them; they come back);
- hostile: malformed requests carrying the key (about 50 a second), and 600 idle
  connections kept open (reopened as the idle timeout closes them).

Every ``--every`` seconds a row: good requests, their p50/p95/p99 latency, errors
(anything but a 200 to a good client, or a failed connection), and the router
process's open files, RSS and open connections. It stops by itself after
``--seconds`` (default 180); the child stops with it, or on its own 30 s later.

Usage::

    python bench/soak.py [--seconds 180] [--every 15]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

KEY = "soak-primary-key-0123456789"
GOOD_CLIENTS = 8
SLOW_CLIENTS = 40
IDLE_CONNECTIONS = 600
MALFORMED_PER_SECOND = 50
BODY = json.dumps({"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}).encode()


# ---------------------------------------------------------------- the child: router + instance


async def serve(seconds: float) -> None:
    """Run a stand-in instance and a router in front of it; print the router port."""
    from aiohttp import web

    from deploy.local.dataplane.router import Router
    from deploy.local.dataplane.routes import DeploymentRoute, EndpointRoute, Upstream

    async def score(request: web.BaseRequest) -> web.Response:
        await request.read()
        return web.Response(body=b'{"result": [1]}', content_type="application/json")

    instance = web.ServerRunner(web.Server(score), access_log=None)
    await instance.setup()
    site = web.TCPSite(instance, "127.0.0.1", 0)
    await site.start()
    instance_port = int(instance.addresses[0][1])
    import resource

    from deploy.local.control.daemon import MAX_CONNECTIONS

    router = Router(host="127.0.0.1", port=0)
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    router.max_connections = max(64, min(MAX_CONNECTIONS, soft // 2))  # as the daemon does
    port = await router.start()
    upstream = Upstream(instance="blue-1", url=f"http://127.0.0.1:{instance_port}")
    deployment = DeploymentRoute(
        name="blue",
        upstreams=(upstream,),
        request_timeout_ms=5000,
        max_concurrent_requests_per_instance=64,
    )
    router.update(
        EndpointRoute(
            name="soak",
            auth_mode="key",
            keys=(KEY, KEY + "-2"),
            traffic={"blue": 100},
            deployments={"blue": deployment},
        )
    )
    print(json.dumps({"port": port}), flush=True)
    try:
        await asyncio.sleep(seconds)  # stops by itself, whatever the parent does
    finally:
        await router.stop()
        await instance.cleanup()


# ---------------------------------------------------------------- the load


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    slow_cut: int = 0
    refused: int = 0
    malformed: int = 0
    idle_reopened: int = 0


async def good_client(url: str, tally: Tally, stop: float) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                async with session.post(url, data=BODY, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                tally.latencies.append((time.perf_counter() - started) * 1000)
            else:
                tally.errors += 1
                await asyncio.sleep(0.05)


async def slow_client(port: int, tally: Tally, stop: float) -> None:
    head = f"POST /soak/score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n".encode()
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(1)
            continue
        try:
            for byte in head:
                if time.monotonic() >= stop:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                with contextlib.suppress(TimeoutError):
                    answer = await asyncio.wait_for(reader.read(64), 2.0)
                    if answer.startswith(b"HTTP/1.1 503"):
                        tally.refused += 1
                        await asyncio.sleep(1)
                        break
                    if answer == b"":
                        tally.slow_cut += 1
                        break
        except OSError:
            tally.slow_cut += 1
        finally:
            writer.close()


async def malformed_client(port: int, tally: Tally, stop: float) -> None:
    bad = f"POST /soak/score HTTP/1.1\r\nAuthorization: Bearer {KEY}\x01\r\n\r\n".encode()
    while time.monotonic() < stop:
        with contextlib.suppress(OSError, TimeoutError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(bad)
            await asyncio.wait_for(reader.read(1024), 2.0)
            writer.close()
            tally.malformed += 1
        await asyncio.sleep(1 / MALFORMED_PER_SECOND)


async def idle_holder(port: int, tally: Tally, stop: float) -> None:
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(1)
            continue
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(reader.read(1), max(0.1, stop - time.monotonic()))
        writer.close()
        tally.idle_reopened += 1


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def drive(port: int, router: psutil.Process, seconds: float, every: float) -> None:
    url = f"http://127.0.0.1:{port}/soak/score"
    tally = Tally()
    start = time.monotonic()
    stop = start + seconds
    tasks = [asyncio.create_task(good_client(url, tally, stop)) for _ in range(GOOD_CLIENTS)]
    tasks += [asyncio.create_task(slow_client(port, tally, stop)) for _ in range(SLOW_CLIENTS)]
    tasks += [asyncio.create_task(idle_holder(port, tally, stop)) for _ in range(IDLE_CONNECTIONS)]
    tasks.append(asyncio.create_task(malformed_client(port, tally, stop)))
    print(
        f"{'t (s)':>6} {'good':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'slow cut':>8} {'malformed':>9} {'open files':>10} {'conns':>6} {'RSS MiB':>8}"
    )
    everything: list[float] = []
    errors_total = 0
    while time.monotonic() < stop:
        await asyncio.sleep(min(every, max(0.0, stop - time.monotonic())))
        window, tally.latencies = tally.latencies, []
        errors, tally.errors = tally.errors, 0
        everything += window
        errors_total += errors
        with router.oneshot():
            files = router.num_fds()
            rss = router.memory_info().rss / 2**20
            conns = len(router.net_connections(kind="tcp"))
        print(
            f"{time.monotonic() - start:6.0f} {len(window):7d} {percentile(window, 0.5):7.1f} "
            f"{percentile(window, 0.95):7.1f} {percentile(window, 0.99):7.1f} {errors:6d} "
            f"{tally.slow_cut:8d} {tally.malformed:9d} {files:10d} {conns:6d} {rss:8.1f}",
            flush=True,
        )
    await asyncio.gather(*tasks, return_exceptions=True)
    mean = statistics.fmean(everything) if everything else float("nan")
    print(
        f"total: {len(everything)} good requests, mean {mean:.1f} ms, "
        f"p50 {percentile(everything, 0.5):.1f} / p95 {percentile(everything, 0.95):.1f} / "
        f"p99 {percentile(everything, 0.99):.1f} ms, {errors_total} errors, "
        f"{tally.slow_cut} slow-loris connections cut by the header timeout "
        f"({tally.refused} refused at the cap), {tally.malformed} malformed requests, "
        f"{tally.idle_reopened} idle connections closed by the router"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python bench/soak.py [--seconds 180]``."""
    parser = argparse.ArgumentParser(prog="bench/soak.py")
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--every", type=float, default=15.0)
    parser.add_argument("--serve", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        asyncio.run(serve(args.serve))
        return 0
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo)}
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(args.seconds + 30)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(json.loads(child.stdout.readline())["port"])
        asyncio.run(drive(port, psutil.Process(child.pid), args.seconds, args.every))
    finally:
        child.terminate()
        child.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
