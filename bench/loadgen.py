"""Benchmark: the load-test engine's highest sustained rate on one core, next to wrk and hey.

The target is ``bench/loadgen_target.c``, a one-thread epoll HTTP/1.1 server compiled
here with ``cc`` (a Python asyncio server stands in if there is no compiler) and pinned
alone to CPU 1; every load generator runs pinned to CPU 0, one at a time; all at
nice -10 when allowed, so that other work on a shared machine skews them less:

1. target capacity: wrk (closed loop, 64 connections): how far the target goes;
2. engine sweep: open loop at rising rates, 3 s each; a rate is *sustained* when the
   engine delivers it (throughput >= 98%, nothing dropped, at most 1% of sends late
   by more than 2 ms) -- the highest such rate is the engine's;
3. percentiles at the same rate: the engine's open loop (latency from the intended
   send time), wrk paced by a Lua ``delay()`` (latency from the actual send), and hey
   with ``-q`` (its report has 0.1 ms resolution), at 5,000 req/s and at the engine's
   highest sustained rate.

wrk and hey come from Debian's packages: when missing, they are installed with
``apt-get update`` and ``apt-get install -y wrk hey`` (printed as it runs); when that
fails, their rows say so. Every request is a GET on 127.0.0.1; each run is bounded.

Usage::

    python bench/loadgen.py [--duration 3] [--rates 2000 4000 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from loadtest import Limits, LoadTestPlan, run_load_test  # noqa: E402

TARGET_C = Path(__file__).with_name("loadgen_target.c")
GENERATOR_CPU, TARGET_CPU = 0, 1
RATES = (2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 12000, 14000, 16000)
LIMITS = Limits(max_requests=1_000_000, max_duration=60, max_rate=100_000, max_concurrency=1024)
PACE_MS = 10  # wrk's Lua delay between requests on a connection
PYTHON_TARGET = """
import asyncio, os, sys
RESPONSE = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"
class Server(asyncio.Protocol):
    def connection_made(self, transport): self.transport = transport
    def data_received(self, data):
        self.transport.write(RESPONSE * data.count(b"\\r\\n\\r\\n"))
async def main():
    server = await asyncio.get_running_loop().create_server(Server, "127.0.0.1", 0, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


@dataclass
class Row:
    tool: str
    mode: str
    offered: str
    achieved: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    note: str = ""


# ---------------------------------------------------------------------------- setup


def pin(pid: int, cpu: int) -> None:
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {cpu})


def raise_priority() -> str:
    """Nice -10 for this process and its children (target, engine, wrk, hey), when allowed,
    so that other work on a shared machine skews the numbers less."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    except OSError:
        return "normal priority"
    return "all processes at nice -10"


def ensure_tools() -> dict[str, str | None]:
    """wrk and hey, installed from Debian's packages when missing."""
    missing = [tool for tool in ("wrk", "hey") if shutil.which(tool) is None]
    if missing and shutil.which("apt-get"):
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", *missing]):
            print(f"$ {' '.join(command)}", flush=True)
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"  failed ({done.returncode}): {done.stderr.strip()[-300:]}", flush=True)
                break
    return {tool: shutil.which(tool) for tool in ("wrk", "hey")}


def start_target(workdir: Path) -> tuple[subprocess.Popen[str], int, str]:
    """The C target if it compiles, else the Python one; pinned to the target CPU."""
    binary = workdir / "loadgen_target"
    compiler = shutil.which("cc") or shutil.which("gcc")
    command: list[str]
    if (
        compiler
        and not subprocess.run([compiler, "-O2", "-o", str(binary), str(TARGET_C)]).returncode
    ):
        command, kind = [str(binary)], "C epoll server (bench/loadgen_target.c)"
    else:
        command, kind = [sys.executable, "-c", PYTHON_TARGET], "Python asyncio server (no cc)"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise SystemExit(f"target did not start: {line!r}")
    pin(process.pid, TARGET_CPU)
    return process, int(line.split()[1]), kind


# ---------------------------------------------------------------------------- generators


def run_engine(spec: dict[str, float]) -> dict[str, float]:
    """One engine run in a child process pinned to the generator CPU."""
    done = subprocess.run(
        [sys.executable, __file__, "--engine", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def _engine_child(spec: dict[str, float]) -> dict[str, float]:
    url = f"http://127.0.0.1:{int(spec['port'])}/"
    if spec.get("rate"):
        plan = LoadTestPlan.open(
            url=url,
            rate=spec["rate"],
            duration=spec["duration"],
            concurrency=int(spec["concurrency"]),
            method="GET",
            late_threshold=0.002,
        )
    else:
        plan = LoadTestPlan.closed(
            url=url,
            requests=int(spec["requests"]),
            concurrency=int(spec["concurrency"]),
            method="GET",
        )
    cpu = time.process_time()
    result = await run_load_test(plan, limits=LIMITS)
    cpu = time.process_time() - cpu
    assert result.latency is not None
    return {
        "cpu_us": 1e6 * cpu / max(result.completed, 1),
        "throughput": result.throughput,
        "p50": result.latency.p50,
        "p99": result.latency.p99,
        "sent": result.sent,
        "late": result.late_sends,
        "dropped": result.dropped_sends,
        "errors": result.errors,
    }


def _requests_per_second(out: str) -> float:
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not found:
        raise RuntimeError(f"no Requests/sec in: {out[-500:]}")
    return float(found.group(1))


def _latency_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, port: int, connections: int, duration: float, pace_ms: int = 0) -> Row:
    # wrk's -d takes whole seconds.
    duration = max(1, round(duration))
    """wrk, one thread; paced by a Lua delay() when ``pace_ms`` is set."""
    command = [wrk, "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f"function delay()\n  return {pace_ms}\nend\n")
    if pace_ms:
        command += ["-s", script.name]
    command.append(f"http://127.0.0.1:{port}/")
    out = subprocess.run(
        ["taskset", "-c", str(GENERATOR_CPU), *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
    ).stdout
    os.unlink(script.name)
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)", out, re.M))
    p50 = re.match(r"([\d.]+)(\w+)", percentiles["50"])
    p99 = re.match(r"([\d.]+)(\w+)", percentiles["99"])
    assert p50 and p99
    achieved = _requests_per_second(out)
    mode = (
        f"paced, {connections} conns x {pace_ms} ms" if pace_ms else f"closed, {connections} conns"
    )
    return Row(
        tool="wrk",
        mode=mode,
        offered="-",
        achieved=achieved,
        p50_ms=_latency_ms(*p50.groups()),
        p99_ms=_latency_ms(*p99.groups()),
        note="latency from actual send",
    )


def run_hey(hey: str, port: int, rate: float, duration: float, workers: int = 50) -> Row:
    command = [hey, "-z", f"{duration:g}s", "-c", str(workers), "-q", f"{rate / workers:g}"]
    command.append(f"http://127.0.0.1:{port}/")
    out = subprocess.run(
        ["taskset", "-c", str(GENERATOR_CPU), *command],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 30,
        env={**os.environ, "GOMAXPROCS": "1"},
    ).stdout
    found = dict(re.findall(r"^\s+(\d+)% in ([\d.]+) secs", out, re.M))
    achieved = _requests_per_second(out)
    return Row(
        tool="hey",
        mode=f"rate-limited, {workers} workers",
        offered=f"{rate:g}/s",
        achieved=achieved,
        p50_ms=float(found["50"]) * 1000,
        p99_ms=float(found["99"]) * 1000,
        note="0.1 ms resolution",
    )


# ---------------------------------------------------------------------------- the run


def engine_open(port: int, rate: float, duration: float) -> tuple[Row, bool]:
    got = run_engine({"port": port, "rate": rate, "duration": duration, "concurrency": 64})
    sustained = (
        got["throughput"] >= 0.98 * rate
        and got["dropped"] == 0
        and got["errors"] == 0
        and got["late"] <= 0.01 * got["sent"]
    )
    late = 100 * got["late"] / max(got["sent"], 1)
    row = Row(
        tool="engine",
        mode="open, 64 conns",
        offered=f"{rate:g}/s",
        achieved=got["throughput"],
        p50_ms=got["p50"],
        p99_ms=got["p99"],
        note=f"CPU {got['cpu_us']:.0f} µs/req, late>2ms {late:.1f}%, dropped {int(got['dropped'])}"
        + ("" if sustained else ", NOT sustained"),
    )
    return row, sustained


def engine_closed(port: int, concurrency: int, requests: int) -> Row:
    got = run_engine({"port": port, "requests": requests, "concurrency": concurrency})
    return Row(
        tool="engine",
        mode=f"closed, {concurrency} conns",
        offered="-",
        achieved=got["throughput"],
        p50_ms=got["p50"],
        p99_ms=got["p99"],
        note=f"its ceiling on one core; CPU {got['cpu_us']:.0f} µs/req",
    )


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(title: str, rows: list[Row]) -> str:
    lines = [
        f"### {title}",
        "",
        "| generator (CPU 0) | mode | offered | achieved req/s | P50 ms | P99 ms | note |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.tool} | {r.mode} | {r.offered} | {fmt(r.achieved, ',.0f')} | "
        f"{fmt(r.p50_ms, '.3f')} | {fmt(r.p99_ms, '.3f')} | {r.note} |"
        for r in rows
    ]
    return "\n".join(lines)


def compare(port: int, rate: float, duration: float, tools: dict[str, str | None]) -> list[Row]:
    """The engine, wrk (paced) and hey at about the same rate."""
    rows = [engine_open(port, rate, duration)[0]]
    wrk, hey = tools["wrk"], tools["hey"]
    connections = max(1, round(rate * PACE_MS / 1000))
    if wrk:
        # A paced connection sends a little under 1000 / PACE_MS requests/s (timer
        # granularity plus the response time): calibrate the count on a short run.
        probe = run_wrk(wrk, port, connections, 1.0, pace_ms=PACE_MS)
        if probe.achieved:
            connections = max(1, round(rate / (probe.achieved / connections)))
        rows.append(run_wrk(wrk, port, connections, duration, pace_ms=PACE_MS))
    else:
        rows.append(Row(tool="wrk", mode="-", offered="-", note="not available (apt-get failed)"))
    if hey:
        rows.append(run_hey(hey, port, rate, duration))
    else:
        rows.append(Row(tool="hey", mode="-", offered="-", note="not available (apt-get failed)"))
    return rows


def differences(rows: list[Row]) -> str:
    """How far the engine's P50/P99 are from each other tool's (the first row is the engine)."""
    engine, parts = rows[0], []
    for other in rows[1:]:
        if None in (engine.p50_ms, engine.p99_ms, other.p50_ms, other.p99_ms):
            continue
        assert engine.p50_ms and engine.p99_ms and other.p50_ms and other.p99_ms
        p50 = 100 * (engine.p50_ms / other.p50_ms - 1)
        p99 = 100 * (engine.p99_ms / other.p99_ms - 1)
        parts.append(f"vs {other.tool}: P50 {p50:+.0f}%, P99 {p99:+.0f}%")
    return "Engine " + "; ".join(parts) if parts else "No other tool to compare with."


def machine() -> str:
    model = platform.processor() or "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        found = re.search(r"Model name:\s+(.+)", out)
        model = found.group(1).strip() if found else model
    except OSError:
        pass
    load = os.getloadavg()
    return (
        f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" load average at start {load[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--rates", type=float, nargs="+", default=RATES)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # the child: one engine run, pinned, JSON on stdout
        pin(0, GENERATOR_CPU)
        print(json.dumps(asyncio.run(_engine_child(json.loads(args.engine)))))
        return
    print(f"Machine: {machine()}", flush=True)
    priority = raise_priority()
    tools = ensure_tools()
    with tempfile.TemporaryDirectory() as workdir:
        target, port, kind = start_target(Path(workdir))
        try:
            print(f"Target: {kind} on 127.0.0.1:{port}, CPU {TARGET_CPU}", flush=True)
            capacity: list[Row] = []
            if tools["wrk"]:
                capacity.append(run_wrk(tools["wrk"], port, 64, args.duration))
                capacity[-1].note = "target capacity"
            capacity.append(engine_closed(port, 16, int(8000 * args.duration)))
            sweep: list[Row] = []
            best, failures = 0.0, 0
            for rate in args.rates:
                row, sustained = engine_open(port, rate, args.duration)
                print(f"  engine open loop {rate:g}/s: {row.note}", flush=True)
                sweep.append(row)
                if sustained:
                    best, failures = max(best, rate), 0
                else:
                    failures += 1
                    if failures == 2:
                        break
            at_target = compare(port, 5000, args.duration, tools)
            at_best = compare(port, best, args.duration, tools) if best and best != 5000 else []
        finally:
            target.kill()
            target.wait()
    print()
    print(f"Machine: {machine()}; target: {kind}; {priority}")
    print()
    print(table("Capacity (closed loop)", capacity))
    print()
    print(table("Engine open-loop sweep (sustained: >= 98% delivered, <= 1% late > 2 ms)", sweep))
    print()
    print(f"**Highest sustained rate of the engine on one core: {best:,.0f} req/s**")
    print()
    print(table("Same rate: 5,000 req/s", at_target))
    print()
    print(differences(at_target))
    if at_best:
        print()
        print(table(f"Same rate: {best:,.0f} req/s (the engine's highest)", at_best))
        print()
        print(differences(at_best))


if __name__ == "__main__":
    main()
