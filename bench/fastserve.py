"""Benchmark: the same score.py under azmlinfsrv, fastserve, and fastserve with micro-batching.

Every server serves the project's scoring/score.py (from a copy of scoring/ alone) with the
sample product recommender (v1), and answers ``POST /score {"data": [[1, 2, 3, 4, 5]]}`` from
closed-loop clients (each sends its next request when the answer arrives) at concurrency 20
and 64. Pinning, on a 2-core machine: the server (all its processes and threads) on CPU 0,
this load generator on CPU 1, so neither steals the other's core.

"req/s per core" divides the answers by the CPU seconds the server's processes used (user +
system, from /proc): it is what an instance's core buys, and it holds when other work shares
the machine, where wall-clock req/s does not. P50/P99 are client-side latencies (send to
last byte). The servers of one concurrency run side by side (idle while another is
measured) and are measured in turn, ``--repeat`` rounds, so that other load on the machine
falls on all of them alike; the table shows each one's run with the median req/s per core.
Prints a markdown table.

A second table gives the in-process limits on the server's core, measured in a child
process pinned to CPU 0 in every round (between the servers' runs, so that the load of the
moment falls on them too): ``InferenceSession.run`` on the request's row, the JSON body
parsed (orjson) and turned into the array and run, and ``score.run()`` as fastserve calls it
(through its decorators, from the parsed body, its answer encoded as JSON); beside each, the
share of it that the best fastserve row reaches in req/s per core.

``--batching`` measures micro-batching instead, on two models: the sample recommender (its
run ~10 µs) and samples/mlp_ranker.py (128 -> 3 x 1024 -> 2, its run ~135 µs a row alone,
~50 µs a row in a batch), at concurrency 1, 4, 8, 20 and 64. fastserve (WORKER_COUNT=64) with
batching off, with the default settings (adaptive: batch only what queues), and azmlinfsrv on
the MLP for reference; "vs off" compares each row with batching off in the same run, and
"spread" is the (max - min) / median of req/s per core over the rounds: the run-to-run noise.

Usage::

    python bench/fastserve.py [--seconds 5] [--repeat 3] [--concurrency 20 64]
    python bench/fastserve.py --batching [--seconds 3] [--repeat 3] [--concurrency 1 4 8 20 64]
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from samples import mlp_ranker, product_recommender  # noqa: E402
from tests.scoring.helpers import copy_scoring_alone  # noqa: E402
from tests.support.azmlinfsrv import (  # noqa: E402
    HOST,
    AzmlinfsrvProcess,
    azmlinfsrv_command,
    free_port,
    wait_until_healthy,
)

SERVER_CPU = 0
CLIENT_CPU = 1
MAX_REQUESTS_PER_RUN = 500_000
WARMUP_S = 0.5
BODY = json.dumps({"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}).encode()


def score_request(body: bytes) -> bytes:
    """The bytes of one ``POST /score`` with ``body``."""
    head = (
        f"POST /score HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


REQUEST = score_request(BODY)


@dataclass(frozen=True)
class Setup:
    """One server configuration: a name for the table, how to start it, its settings."""

    label: str
    settings: str
    command: Callable[[Path, int], list[str]]
    env: dict[str, str] = field(default_factory=dict)


def azmlinfsrv(script: Path, port: int) -> list[str]:
    return [*azmlinfsrv_command(), "--entry_script", str(script), "--port", str(port)]


def fastserve(script: Path, port: int) -> list[str]:
    folder = script.parent / "fastserve"  # the copy's own, as from a deployment's code folder
    return [sys.executable, str(folder), "--entry_script", str(script), "--port", str(port),
            "--host", HOST]  # fmt: skip


def setups(concurrency: int) -> list[Setup]:
    """The rows for one concurrency."""
    batch = {"FLIGHTDECK_BATCH_MAX_ROWS": "64", "FLIGHTDECK_BATCH_MAX_WAIT_MS": "0"}
    return [
        Setup("azmlinfsrv", "WORKER_COUNT=1", azmlinfsrv, {"WORKER_COUNT": "1"}),
        Setup("fastserve", "WORKER_COUNT=1", fastserve, {"WORKER_COUNT": "1"}),
        Setup("fastserve", f"WORKER_COUNT={concurrency}, batching off", fastserve,
              {"WORKER_COUNT": str(concurrency), "FLIGHTDECK_BATCH_MAX_ROWS": "0"}),
        Setup("fastserve + micro-batching", f"WORKER_COUNT={concurrency}, ≤64 rows, no wait",
              fastserve, {"WORKER_COUNT": str(concurrency), **batch}),
    ]  # fmt: skip


@dataclass
class Run:
    """One measured run."""

    answers: int
    errors: int
    seconds: float
    cpu_seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.answers / self.seconds

    @property
    def per_core(self) -> float:
        return self.answers / self.cpu_seconds if self.cpu_seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else 0.0


class _Client(asyncio.Protocol):
    """One closed-loop connection: send, read one answer, send again; reconnects on close."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.buffer = b""
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        if not self.load.going():
            self.transport.close()
            return
        self.sent_at = time.perf_counter()
        self.transport.write(self.load.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            start = head.find(b"content-length:")
            length = int(head[start + 15 : head.find(b"\r", start) % (len(head) + 1)])
            if len(self.buffer) < end + 4 + length:
                return
            self.load.answered(int(head[9:12]), time.perf_counter() - self.sent_at)
            self.buffer = self.buffer[end + 4 + length :]
            if b"connection: close" in head:
                assert self.transport is not None
                self.transport.close()
                return
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.reconnect()


class _Load:
    """``concurrency`` closed-loop clients until ``stop_at`` or the request cap."""

    def __init__(self, port: int, concurrency: int, stop_at: float, request: bytes) -> None:
        self.port, self.stop_at, self.open, self.request = port, stop_at, concurrency, request
        self.latencies: list[float] = []
        self.errors = 0
        self.recording = False
        self.done = asyncio.get_running_loop().create_future()

    def going(self) -> bool:
        return time.perf_counter() < self.stop_at and len(self.latencies) < MAX_REQUESTS_PER_RUN

    def answered(self, status: int, seconds: float) -> None:
        if not self.recording:
            return
        if status == 200:
            self.latencies.append(seconds * 1000)
        else:
            self.errors += 1

    def reconnect(self) -> None:
        if self.going():
            asyncio.get_running_loop().create_task(self.connect())
            return
        self.open -= 1
        if self.open == 0 and not self.done.done():
            self.done.set_result(None)

    async def connect(self) -> None:
        try:
            await asyncio.get_running_loop().create_connection(
                lambda: _Client(self), HOST, self.port
            )
        except OSError:
            self.errors += 1
            self.reconnect()


async def _measure(
    server: AzmlinfsrvProcess, concurrency: int, seconds: float, request: bytes = REQUEST
) -> Run:
    processes = [psutil.Process(server.process.pid)]
    processes += processes[0].children(recursive=True)
    load = _Load(server.port, concurrency, time.perf_counter() + WARMUP_S + seconds, request)
    for _ in range(concurrency):
        asyncio.get_running_loop().create_task(load.connect())
    await asyncio.sleep(WARMUP_S)  # a fixed warm-up period, not a wait for a condition
    cpu_start, started = _cpu(processes), time.perf_counter()
    load.recording = True
    await load.done
    elapsed, cpu = time.perf_counter() - started, _cpu(processes) - cpu_start
    return Run(len(load.latencies), load.errors, elapsed, cpu, load.latencies)


def _cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def _start(setup: Setup, script: Path, models: Path, tmp: Path) -> AzmlinfsrvProcess:
    port = free_port()
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZUREML_", "AML_", "FLIGHTDECK_", "FASTSERVE_"))
    }
    environ.update(AZUREML_MODEL_DIR=str(models), **setup.env)  # fmt: skip
    log_path = tmp / f"{setup.label.replace(' ', '_')}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            setup.command(script, port), cwd=tmp, env=environ, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
        )  # fmt: skip
    server = AzmlinfsrvProcess(process=process, port=port, log_path=log_path)
    wait_until_healthy(server, timeout=60)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (median shown)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=None,
                        help="default: 20 64 (1 4 8 20 64 with --batching)")  # fmt: skip
    parser.add_argument("--batching", action="store_true",
                        help="measure micro-batching on the sample model and the MLP")  # fmt: skip
    parser.add_argument("--limits-child", nargs=2, metavar=("SCRIPT", "MODEL_DIR"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.limits_child:
        print(json.dumps(_limits_here(Path(args.limits_child[0]), args.limits_child[1])))
        return 0
    os.sched_setaffinity(0, {CLIENT_CPU})
    if args.batching:
        args.concurrency = args.concurrency or [1, 4, 8, 20, 64]
        print(batching_table(args))
        return 0
    args.concurrency = args.concurrency or [20, 64]
    rows: list[str] = []
    baseline: dict[int, float] = {}
    best_fastserve = 0.0
    limits: dict[str, list[float]] = {}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-fastserve-") as folder:
        tmp = Path(folder)
        script = copy_scoring_alone(tmp / "code")
        models = tmp / "models"
        product_recommender.write_models(models)
        for concurrency in args.concurrency:
            cells = setups(concurrency)
            servers = [_start(setup, script, models / "model-v1", tmp) for setup in cells]
            runs: list[list[Run]] = [[] for _ in cells]
            try:  # interleaved: each repeat measures every server once, in turn
                for _ in range(args.repeat):
                    for index, server in enumerate(servers):
                        runs[index].append(asyncio.run(_measure(server, concurrency, args.seconds)))
                    for name, rate in _limits(script, models / "model-v1").items():
                        limits.setdefault(name, []).append(rate)
            finally:
                for server in servers:
                    server.stop()
            for setup, measured in zip(cells, runs, strict=True):
                run = sorted(measured, key=lambda r: r.per_core)[len(measured) // 2]
                baseline.setdefault(concurrency, run.per_core)
                rows.append(_row(setup, concurrency, run, baseline[concurrency]))
                if setup.label == "fastserve":
                    best_fastserve = max(best_fastserve, run.per_core)
    print(_table(rows, load_before, os.getloadavg()[0], args))
    print()
    print(_limits_table(limits, best_fastserve))
    return 0


@dataclass(frozen=True)
class Model:
    """A model for the batching table: its name, how to write it, one request's body."""

    name: str
    write: Callable[[Path], Path]  # writes the model below a folder; returns AZUREML_MODEL_DIR
    body: bytes


def _write_sample(folder: Path) -> Path:
    product_recommender.write_models(folder)
    return folder / "model-v1"


def _write_mlp(folder: Path) -> Path:
    mlp_ranker.write_model(folder / "mlp")
    return folder / "mlp"


BATCHING_MODELS = (
    Model("sample recommender", _write_sample, BODY),
    Model("MLP 128-3x1024-2", _write_mlp,
          json.dumps({"data": mlp_ranker.example_rows(1).tolist()}).encode()),
)  # fmt: skip
BATCH_THREADS = "64"


def batching_setups(model: Model) -> list[Setup]:
    """The rows for one model: batching off first (the baseline of "vs off")."""
    cells = [
        Setup("fastserve, batching off", f"WORKER_COUNT={BATCH_THREADS}, MAX_ROWS=0", fastserve,
              {"WORKER_COUNT": BATCH_THREADS, "FLIGHTDECK_BATCH_MAX_ROWS": "0"}),
        Setup("fastserve, default", f"WORKER_COUNT={BATCH_THREADS} (adaptive, ≤64 rows, no wait)",
              fastserve, {"WORKER_COUNT": BATCH_THREADS}),
    ]  # fmt: skip
    if model.body is not BODY:  # azmlinfsrv for reference where the model dominates
        cells.append(Setup("azmlinfsrv", "WORKER_COUNT=1", azmlinfsrv, {"WORKER_COUNT": "1"}))
    return cells


def batching_table(args: argparse.Namespace) -> str:
    """Micro-batching off against the default, per model and concurrency (interleaved rounds)."""
    load_before = os.getloadavg()[0]
    lines = [
        "| model | server | settings | conc. | req/s | req/s per core | vs off | spread | "
        "P50 ms | P99 ms | P50 vs off | P99 vs off |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-batching-") as folder:
        tmp = Path(folder)
        script = copy_scoring_alone(tmp / "code")
        for model in BATCHING_MODELS:
            model_dir = model.write(tmp / "models")
            request = score_request(model.body)
            for concurrency in args.concurrency:
                cells = batching_setups(model)
                servers = [_start(setup, script, model_dir, tmp) for setup in cells]
                runs: list[list[Run]] = [[] for _ in cells]
                try:  # interleaved: each round measures every server once, in turn
                    for _ in range(args.repeat):
                        for index, server in enumerate(servers):
                            run = asyncio.run(_measure(server, concurrency, args.seconds, request))
                            runs[index].append(run)
                finally:
                    for server in servers:
                        server.stop()
                off: Run | None = None
                for setup, measured in zip(cells, runs, strict=True):
                    rates = sorted(r.per_core for r in measured)
                    run = sorted(measured, key=lambda r: r.per_core)[len(measured) // 2]
                    off = off or run
                    spread = (rates[-1] - rates[0]) / run.per_core if run.per_core else 0.0
                    lines.append(
                        f"| {model.name} | {setup.label} | {setup.settings} | {concurrency} | "
                        f"{run.per_second:,.0f} | {run.per_core:,.0f} | "
                        f"{_ratio(run.per_core, off.per_core)} | {spread:.0%} | "
                        f"{run.percentile(50):.2f} | {run.percentile(99):.2f} | "
                        f"{_ratio(run.percentile(50), off.percentile(50))} | "
                        f"{_ratio(run.percentile(99), off.percentile(99))} |"
                    )
    note = (
        f"\nMachine: {_cpu_model()}, {os.cpu_count()} cores; server pinned to CPU {SERVER_CPU}, "
        f"load generator to CPU {CLIENT_CPU}; {args.seconds:g} s per run, median of "
        f"{args.repeat} interleaved rounds; load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after; Python {sys.version.split()[0]}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
    )
    return "\n".join(lines) + "\n" + note


def _ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "-"


LIMIT_CALLS = 20_000


def _limits(script: Path, model_dir: Path) -> dict[str, float]:
    """The in-process limits, measured in a child process pinned to the server's core."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "FLIGHTDECK_"))}
    environ["AZUREML_MODEL_DIR"] = str(model_dir)
    done = subprocess.run(
        [sys.executable, __file__, "--limits-child", str(script), str(model_dir)],
        env=environ, capture_output=True, text=True, check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
    )  # fmt: skip
    rates: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return rates


def _limits_here(script: Path, model_dir: str) -> dict[str, float]:
    """Calls per second of each in-process path (in this process: the child's)."""
    import importlib.util
    import logging

    import numpy as np
    import orjson

    logging.disable(logging.INFO)
    os.environ["AZUREML_MODEL_DIR"] = model_dir
    sys.path.insert(0, str(script.parent))
    spec = importlib.util.spec_from_file_location("entry_module", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    to_batch = sys.modules["input_rows"].to_batch  # score.py's sibling, imported by it
    model = module._model
    session, name = model.session, model.input.name
    outputs = list(model.output_names)
    row = np.asarray([[1.0, 2.0, 3.0, 4.0, 5.0]], dtype=np.float32)

    def session_run() -> object:
        return session.run(outputs, {name: row})

    def parse_and_run() -> object:
        return session.run(outputs, {name: to_batch(orjson.loads(BODY)["data"], model.input)})

    def score_run() -> object:
        return json.dumps(module.run(**orjson.loads(BODY))).encode()

    paths = {
        "InferenceSession.run": session_run,
        "JSON parse + array + InferenceSession.run": parse_and_run,
        "score.run() (decorated; JSON in and out)": score_run,
    }
    rates: dict[str, float] = {}
    for label, call in paths.items():
        for _ in range(1000):
            call()
        started = time.perf_counter()
        for _ in range(LIMIT_CALLS):
            call()
        rates[label] = LIMIT_CALLS / (time.perf_counter() - started)
    return rates


def _limits_table(limits: dict[str, list[float]], fastserve: float) -> str:
    lines = [
        "| in-process limit (one core) | calls/s (median) | fastserve req/s per core | share |",
        "|---|---:|---:|---:|",
    ]
    for label, rates in limits.items():
        rate = sorted(rates)[len(rates) // 2]
        share = fastserve / rate if rate else 0.0
        lines.append(f"| {label} | {rate:,.0f} | {fastserve:,.0f} | {share:.0%} |")
    return "\n".join(lines)


def _row(setup: Setup, concurrency: int, run: Run, baseline: float) -> str:
    cores = run.cpu_seconds / run.seconds
    ratio = run.per_core / baseline if baseline else 0.0
    return (
        f"| {setup.label} | {setup.settings} | {concurrency} | {run.answers} | {run.errors} | "
        f"{run.per_second:,.0f} | {cores:.2f} | {run.per_core:,.0f} | {ratio:.1f}x | "
        f"{run.percentile(50):.1f} | {run.percentile(99):.1f} |"
    )


def _table(rows: list[str], load_before: float, load_after: float, args: argparse.Namespace) -> str:
    machine = _cpu_model()
    head = (
        "| server | settings | concurrency | answers | errors | req/s | cores used | "
        "req/s per core | per core vs azmlinfsrv | P50 ms | P99 ms |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    note = (
        f"\nMachine: {machine}, {os.cpu_count()} cores; server pinned to CPU {SERVER_CPU}, "
        f"load generator to CPU {CLIENT_CPU}; {args.seconds:g} s per run, median of "
        f"{args.repeat} interleaved runs; load average {load_before:.2f} before, "
        f"{load_after:.2f} after; Python {sys.version.split()[0]}."
    )
    return head + "\n" + "\n".join(rows) + "\n" + note


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
