"""Benchmark: the load-test engine's highest sustained rate on one core, next to wrk and hey.

The target is ``bench/loadgen_target.c``, a one-thread epoll HTTP/1.1 server compiled
here with ``cc`` (a Python asyncio server stands in if there is no compiler) and pinned
alone to CPU 1; every load generator runs pinned to CPU 0, one at a time; all in a
session of their own at nice -10 when allowed, so that other work on a shared
machine skews them less:

1. target capacity: wrk (closed loop, 64 connections): how far the target goes;
2. engine sweep: open loop at rising rates, 3 s each; a rate is *sustained* when the
   engine delivers it (throughput >= 98%, nothing dropped, at most 1% of sends late
   by more than 5 ms) -- the highest such rate is the engine's;
3. percentiles at the same rate: the engine's open loop (latency from the intended
   send time), wrk paced by a Lua ``delay()`` (latency from the actual send), and hey
   with ``-q`` (its report has 0.1 ms resolution), at 5,000 req/s; interleaved, five
   rounds, the median of each figure; the engine's row "from send" is its latency
   from the actual send (uncorrected, as wrk and hey time it). Only 5,000 req/s:
   at the edge of the engine's capacity its open loop, rightly, counts its own late
   sends, which the sweep already shows;
4. each tool's own settings at 5,000 req/s on the trivial target, one run each: wrk
   spreading the rate over 5 to 250 paced connections, hey over 10 to 250 workers,
   the engine with 8 to 256 connections. Below a millisecond a tool's figure moves
   with its own settings (wrk's and hey's many times over), which shows how far any
   two tools can agree there;
5. the same as 3 at 5,000 req/s against a second target that answers after 2 ms: a
   known service time shows whether the tools agree on the endpoint's latency.

wrk and hey come from Debian's packages: when missing, they are installed with
``apt-get update`` and ``apt-get install -y wrk hey`` (printed as it runs); when that
fails, their rows say so. Every request is a GET on 127.0.0.1; each run is bounded.

Usage::

    python bench/loadgen.py [--duration 3] [--rates 2000 4000 ...] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from loadgen_tools import (  # noqa: E402
    GENERATOR_CPU,
    TARGET_CPU,
    Row,
    build_target,
    differences,
    ensure_tools,
    machine,
    median_row,
    pin,
    raise_priority,
    run_hey,
    run_wrk,
    start_target,
    table,
)

from loadtest import Limits, LoadTestPlan, run_load_test  # noqa: E402

RATES = (2000, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 14000, 16000, 20000, 24000, 28000, 32000)
LIMITS = Limits(max_requests=1_000_000, max_duration=60, max_rate=100_000, max_concurrency=1024)
PACE_MS = 10  # wrk's Lua delay between requests on a connection
LATE_S = 0.005  # a send this late means the engine fell behind
DELAY_US = 2000  # the second target's service time
RATE = 5000.0  # where the tools are compared
SPREAD_ENGINE = (8, 64, 256)  # connections
SPREAD_WRK = (1, 2, 5, 10, 20, 50)  # pace ms, over RATE x pace / 1000 connections
SPREAD_HEY = (10, 50, 250)  # workers
_SESSION_ENV = "FLIGHTDECK_LOADGEN_SESSION"


# ---------------------------------------------------------------------------- the engine


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
            late_threshold=LATE_S,
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
        "cpu_share": cpu / result.elapsed,
        "throughput": result.throughput,
        "p50": result.latency.p50,
        "p99": result.latency.p99,
        "send_p50": result.latency_from_send.p50 if result.latency_from_send else 0.0,
        "send_p99": result.latency_from_send.p99 if result.latency_from_send else 0.0,
        "sent": result.sent,
        "late": result.late_sends,
        "dropped": result.dropped_sends,
        "errors": result.errors,
    }


# ---------------------------------------------------------------------------- the run


def engine_open(
    port: int, rate: float, duration: float, concurrency: int = 64
) -> tuple[Row, bool, Row]:
    """The open loop's row (from the intended send), whether it kept up, and its
    uncorrected row (from each actual send, as wrk and hey time it)."""
    spec = {"port": port, "rate": rate, "duration": duration, "concurrency": concurrency}
    got = run_engine(spec)
    sustained = (
        got["throughput"] >= 0.98 * rate
        and got["dropped"] == 0
        and got["errors"] == 0
        and got["late"] <= 0.01 * got["sent"]
    )
    late = 100 * got["late"] / max(got["sent"], 1)
    row = Row(
        late_pct=late,
        tool="engine",
        mode=f"open, {concurrency} conns",
        offered=f"{rate:g}/s",
        achieved=got["throughput"],
        p50_ms=got["p50"],
        p99_ms=got["p99"],
        note=f"CPU {got['cpu_share']:.0%} ({got['cpu_us']:.0f} µs/req), late>5ms {late:.1f}%"
        f", dropped {int(got['dropped'])}" + ("" if sustained else ", NOT sustained"),
    )
    uncorrected = replace(
        row,
        tool="engine, from send",
        p50_ms=got["send_p50"],
        p99_ms=got["send_p99"],
        note="latency from actual send (uncorrected)",
    )
    return row, sustained, uncorrected


def engine_closed(port: int, concurrency: int, requests: int) -> Row:
    got = run_engine({"port": port, "requests": requests, "concurrency": concurrency})
    return Row(
        tool="engine",
        mode=f"closed, {concurrency} conns",
        offered="-",
        achieved=got["throughput"],
        p50_ms=got["p50"],
        p99_ms=got["p99"],
        note=f"its ceiling on one core; CPU {got['cpu_share']:.0%} ({got['cpu_us']:.0f} µs/req)",
    )


def compare(
    port: int, rate: float, duration: float, tools: dict[str, str | None], rounds: int
) -> list[Row]:
    """The engine, wrk (paced) and hey at about the same rate, interleaved ``rounds`` times."""
    wrk, hey = tools["wrk"], tools["hey"]
    connections = max(1, round(rate * PACE_MS / 1000))
    if wrk:
        # A paced connection sends a little under 1000 / PACE_MS requests/s (timer
        # granularity plus the response time): calibrate the count on a short run.
        probe = run_wrk(wrk, port, connections, 1.0, pace_ms=PACE_MS)
        if probe.achieved:
            connections = max(1, round(rate / (probe.achieved / connections)))
    runs: dict[str, list[Row]] = {"engine": [], "engine, from send": [], "wrk": [], "hey": []}
    for _ in range(rounds):
        row, _, uncorrected = engine_open(port, rate, duration)
        runs["engine"].append(row)
        runs["engine, from send"].append(uncorrected)
        if wrk:
            runs["wrk"].append(run_wrk(wrk, port, connections, duration, pace_ms=PACE_MS))
        if hey:
            runs["hey"].append(run_hey(hey, port, rate, duration))
    missing = Row(tool="-", mode="-", offered="-", note="not available (apt-get failed)")
    return [median_row(runs[tool]) if runs[tool] else replace(missing, tool=tool) for tool in runs]


def settings_spread(port: int, duration: float, tools: dict[str, str | None]) -> list[Row]:
    """Each tool at ``RATE`` under several of its own settings, one run each."""
    rows = [engine_open(port, RATE, duration, conns)[0] for conns in SPREAD_ENGINE]
    if wrk := tools["wrk"]:
        for pace in SPREAD_WRK:
            rows.append(run_wrk(wrk, port, round(RATE * pace / 1000), duration, pace_ms=pace))
    if hey := tools["hey"]:
        rows += [run_hey(hey, port, RATE, duration, workers) for workers in SPREAD_HEY]
    return rows


def spread_summary(rows: list[Row]) -> str:
    """Per tool, how far its P50 and P99 moved over its settings."""
    lines = []
    for tool in dict.fromkeys(r.tool for r in rows):
        p50 = [r.p50_ms for r in rows if r.tool == tool and r.p50_ms]
        p99 = [r.p99_ms for r in rows if r.tool == tool and r.p99_ms]
        if p50 and p99:
            lines.append(
                f"- {tool}: P50 {min(p50):.3f}–{max(p50):.3f} ms (x{max(p50) / min(p50):.1f}), "
                f"P99 {min(p99):.3f}–{max(p99):.3f} ms (x{max(p99) / min(p99):.1f})"
            )
    return "\n".join(
        [
            f"**Over its own settings at {RATE:,.0f} req/s, on the same target:**",
            *lines,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--rates", type=float, nargs="+", default=RATES)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs per tool")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # the child: one engine run, pinned, JSON on stdout
        pin(0, GENERATOR_CPU)
        print(json.dumps(asyncio.run(_engine_child(json.loads(args.engine)))))
        return
    if os.environ.get(_SESSION_ENV) != "1":  # rerun in a session (scheduling group) of its own
        env = {**os.environ, _SESSION_ENV: "1"}
        command = [sys.executable, __file__, *sys.argv[1:]]
        raise SystemExit(subprocess.run(command, env=env, start_new_session=True).returncode)
    print(f"Machine: {machine()}", flush=True)
    priority = raise_priority()
    tools = ensure_tools()
    with tempfile.TemporaryDirectory() as workdir:
        command, kind = build_target(Path(workdir))
        trivial, port = start_target(command)
        delayed, delayed_port = start_target(command, DELAY_US)
        try:
            print(f"Target: {kind} on 127.0.0.1:{port}, CPU {TARGET_CPU}", flush=True)
            report = measure(args, tools, port, delayed_port)
        finally:
            for process in (trivial, delayed):
                process.kill()
                process.wait()
    print()
    print(f"Machine: {machine()}; target: {kind}; {priority}")
    for section in report:
        print()
        print(section)


def measure(
    args: argparse.Namespace, tools: dict[str, str | None], port: int, delayed_port: int
) -> list[str]:
    """Every phase of the benchmark; the report's sections."""
    capacity: list[Row] = []
    if tools["wrk"]:
        capacity.append(run_wrk(tools["wrk"], port, 64, args.duration))
        capacity[-1].note = "target capacity"
    capacity.append(engine_closed(port, 16, int(8000 * args.duration)))
    sweep: list[Row] = []
    best, failures = 0.0, 0
    for rate in args.rates:
        row, sustained, _ = engine_open(port, rate, args.duration)
        print(f"  engine open loop {rate:g}/s: {row.note}", flush=True)
        sweep.append(row)
        if sustained:
            best, failures = max(best, rate), 0
        else:
            failures += 1
            if failures == 2:
                break
    sections = [
        table("Capacity (closed loop)", capacity),
        table("Engine open-loop sweep (sustained: >= 98% delivered, <= 1% late > 5 ms)", sweep),
        f"**Highest sustained rate of the engine on one core: {best:,.0f} req/s**",
    ]
    same = f"Same rate: {RATE:,.0f} req/s"
    rows = compare(port, RATE, args.duration, tools, args.rounds)
    sections += [table(f"{same}, trivial target", rows), differences(rows)]
    spread = settings_spread(port, args.duration, tools)
    title = f"Each tool's own settings: {RATE:,.0f} req/s, trivial target, one run each"
    sections += [table(title, spread), spread_summary(spread)]
    rows = compare(delayed_port, RATE, args.duration, tools, args.rounds)
    what = f"target answering after {DELAY_US / 1000:g} ms"
    sections += [table(f"{same}, {what}", rows), differences(rows)]
    return sections


if __name__ == "__main__":
    main()
