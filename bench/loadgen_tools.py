"""The parts of bench/loadgen.py that are not the engine: the target, wrk, hey, the tables.

wrk and hey come from Debian's packages (``ensure_tools`` installs them when missing);
the target is bench/loadgen_target.c, compiled here, or a Python stand-in.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TARGET_C = Path(__file__).with_name("loadgen_target.c")
GENERATOR_CPU, TARGET_CPU = 0, 1
PYTHON_TARGET = """
import asyncio, os, sys
RESPONSE = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok"
DELAY = int(sys.argv[1]) / 1e6 if len(sys.argv) > 1 else 0.0
class Server(asyncio.Protocol):
    def connection_made(self, transport): self.transport = transport
    def data_received(self, data):
        out = RESPONSE * data.count(b"\\r\\n\\r\\n")
        if DELAY:
            asyncio.get_running_loop().call_later(DELAY, self.transport.write, out)
        else:
            self.transport.write(out)
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
    late_pct: float | None = None


def pin(pid: int, cpu: int) -> None:
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(pid, {cpu})


def raise_priority() -> str:
    """Nice -10 for this process and its children (target, engine, wrk, hey), when allowed.

    Linux schedules each session as one group (autogroup), and a process's nice only
    weighs within its group: the benchmark runs in a session of its own (see ``main``)
    and lowers that group's nice, so that other work on a shared machine skews it less.
    """
    done = []
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)
        done.append("nice -10")
    except OSError:
        pass
    try:
        Path("/proc/self/autogroup").write_text("-10")
        done.append("its own session group at nice -10")
    except OSError:
        pass
    return "processes at " + ", ".join(done) if done else "normal priority"


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


def build_target(workdir: Path) -> tuple[list[str], str]:
    """The command of the C target if it compiles, else of the Python one."""
    binary = workdir / "loadgen_target"
    compiler = shutil.which("cc") or shutil.which("gcc")
    build = [compiler or "cc", "-O2", "-o", str(binary), str(TARGET_C)]
    if compiler and subprocess.run(build, check=False).returncode == 0:
        return [str(binary)], "C epoll server (bench/loadgen_target.c)"
    return [sys.executable, "-c", PYTHON_TARGET], "Python asyncio server (no cc)"


def start_target(command: list[str], delay_us: int = 0) -> tuple[subprocess.Popen[str], int]:
    """A target process pinned to the target CPU, answering after ``delay_us``."""
    args = [str(delay_us)] if delay_us else []
    process = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise SystemExit(f"target did not start: {line!r}")
    pin(process.pid, TARGET_CPU)
    return process, int(line.split()[1])


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


def median_row(runs: list[Row]) -> Row:
    """One row from repeated runs of one tool: the median of each figure."""

    def median(values: list[float | None]) -> float | None:
        known = sorted(v for v in values if v is not None)
        return known[len(known) // 2] if known else None

    first = runs[0]
    return Row(
        tool=first.tool,
        mode=first.mode,
        offered=first.offered,
        achieved=median([r.achieved for r in runs]),
        p50_ms=median([r.p50_ms for r in runs]),
        p99_ms=median([r.p99_ms for r in runs]),
        note=f"median of {len(runs)}; "
        + (
            f"late>5ms at most {max(r.late_pct or 0.0 for r in runs):.1f}%"
            if first.tool == "engine"
            else first.note
        ),
    )


def differences(rows: list[Row]) -> str:
    """How far each engine row's P50/P99 are from each other tool's, one line per engine row."""
    engines = [r for r in rows if r.tool.startswith("engine")]
    others = [r for r in rows if not r.tool.startswith("engine")]
    return "\n\n".join(_differences(engine, others) for engine in engines)


def _differences(engine: Row, others: list[Row]) -> str:
    parts = []
    for other in others:
        if None in (engine.p50_ms, engine.p99_ms, other.p50_ms, other.p99_ms):
            continue
        assert engine.p50_ms and engine.p99_ms and other.p50_ms and other.p99_ms
        p50 = 100 * (engine.p50_ms / other.p50_ms - 1)
        p99 = 100 * (engine.p99_ms / other.p99_ms - 1)
        parts.append(f"vs {other.tool}: P50 {p50:+.0f}%, P99 {p99:+.0f}%")
    name = engine.tool[0].upper() + engine.tool[1:]
    return f"{name} " + "; ".join(parts) if parts else "No other tool to compare with."


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
