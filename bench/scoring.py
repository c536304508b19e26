"""Benchmark: scoring/score.py under azmlinfsrv against ONNX Runtime called directly.

Three paths score the same rows of the sample product recommender (v1):

- ``session.run``: an InferenceSession in this process, with score.py's default options
  (one intra-op thread, sequential, no spinning): the physical limit;
- ``score.run()``: score.py's own run() in this process, with the JSON decoding and encoding
  the server does around it: what the script adds;
- ``azmlinfsrv``: HTTP POST /score to a real azmlinfsrv (WORKER_COUNT workers) serving
  scoring/score.py, from an aiohttp client on 127.0.0.1.

each at concurrency 1 and 8 (threads in process, connections over HTTP) and batch 1 and 32,
for a fixed time per cell (bounded by a request cap); plus ``GET /`` on the same server (no
scoring: the server's own floor). Prints a markdown table.

Usage::

    python bench/scoring.py [--seconds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from samples import product_recommender  # noqa: E402
from tests.support.azmlinfsrv import AzmlinfsrvProcess, start_azmlinfsrv  # noqa: E402

CONCURRENCIES = (1, 8)
BATCHES = (1, 32)
MAX_REQUESTS_PER_CELL = 200_000
WARMUP_SECONDS = 0.5


@dataclass(frozen=True)
class Cell:
    """One measured cell of the table."""

    path: str
    concurrency: int
    batch: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))


def rows_for(batch: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Deterministic feature rows."""
    rng = np.random.default_rng(seed=batch)
    return rng.uniform(0.0, 10.0, size=(batch, product_recommender.FEATURES)).astype(np.float32)


def run_threads(
    call: Callable[[], None], concurrency: int, seconds: float
) -> tuple[int, list[float]]:
    """Call ``call`` in ``concurrency`` threads until the deadline; return count and latencies."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    deadline = time.perf_counter() + seconds
    cap = MAX_REQUESTS_PER_CELL // concurrency

    def loop(mine: list[float]) -> None:
        while time.perf_counter() < deadline and len(mine) < cap:
            started = time.perf_counter()
            call()
            mine.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=loop, args=(mine,)) for mine in latencies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = [value for mine in latencies for value in mine]
    return len(merged), merged


def measure_in_process(
    path: str, make_call: Callable[[int], Callable[[], None]], seconds: float
) -> list[Cell]:
    cells = []
    for concurrency in CONCURRENCIES:
        for batch in BATCHES:
            call = make_call(batch)
            run_threads(call, concurrency, WARMUP_SECONDS)
            started = time.perf_counter()
            count, latencies = run_threads(call, concurrency, seconds)
            elapsed = time.perf_counter() - started
            cells.append(Cell(path, concurrency, batch, count, 0, elapsed, latencies))
    return cells


def direct_session(model_path: Path) -> Callable[[int], Callable[[], None]]:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])

    def make_call(batch: int) -> Callable[[], None]:
        feed = {"features": rows_for(batch)}
        return lambda: session.run(None, feed) and None

    return make_call


def score_script(model_dir: Path) -> Callable[[int], Callable[[], None]]:
    sys.path.insert(0, str(REPO / "scoring"))
    os.environ["AZUREML_MODEL_DIR"] = str(model_dir)
    score = importlib.import_module("score")  # the scoring script, with its folder on sys.path

    score.init()

    def make_call(batch: int) -> Callable[[], None]:
        body = json.dumps({"data": rows_for(batch).tolist()}).encode()

        def call() -> None:
            answer = score.run(**json.loads(body))
            json.dumps(answer)

        return call

    return make_call


async def measure_served(server: AzmlinfsrvProcess, seconds: float) -> list[Cell]:
    cells = []
    url = server.url("/score")
    for concurrency in CONCURRENCIES:
        # The server's floor: the liveness route, no scoring (batch 0 in the table).
        await _http_load(server.url("/"), None, concurrency, WARMUP_SECONDS)
        started = time.perf_counter()
        count, errors, latencies = await _http_load(server.url("/"), None, concurrency, seconds)
        elapsed = time.perf_counter() - started
        cells.append(Cell("azmlinfsrv GET /", concurrency, 0, count, errors, elapsed, latencies))
        for batch in BATCHES:
            body = json.dumps({"data": rows_for(batch).tolist()}).encode()
            await _http_load(url, body, concurrency, WARMUP_SECONDS)
            started = time.perf_counter()
            count, errors, latencies = await _http_load(url, body, concurrency, seconds)
            elapsed = time.perf_counter() - started
            cells.append(Cell("azmlinfsrv", concurrency, batch, count, errors, elapsed, latencies))
    return cells


async def _http_load(
    url: str, body: bytes | None, concurrency: int, seconds: float
) -> tuple[int, int, list[float]]:
    """POST ``body`` (GET if None) from ``concurrency`` tasks until the deadline or the cap."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    cap = MAX_REQUESTS_PER_CELL
    headers = {"Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline and len(latencies) + errors < cap:
                started = time.perf_counter()
                method = "GET" if body is None else "POST"
                async with session.request(method, url, data=body, headers=headers) as response:
                    await response.read()
                    ok = response.status == 200
                if ok:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), errors, latencies


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def table(cells: list[Cell]) -> str:
    limits = {(c.concurrency, c.batch): c.per_second for c in cells if c.path == "session.run"}
    lines = [
        "| path | concurrency | batch | requests/s | rows/s | P50 ms | P99 ms | of the limit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ordered = sorted(cells, key=lambda c: (c.concurrency, c.batch))
    for cell in ordered:
        limit = limits.get((cell.concurrency, cell.batch))
        share = f"{cell.per_second / limit * 100:.1f}%" if limit else "-"
        rows = f"{cell.per_second * cell.batch:,.0f}" if cell.batch else "-"
        errors = f" ({cell.errors} errors)" if cell.errors else ""
        lines.append(
            f"| {cell.path}{errors} | {cell.concurrency} | {cell.batch or '-'} "
            f"| {cell.per_second:,.0f} | {rows} | {cell.percentile(50):.3f} "
            f"| {cell.percentile(99):.3f} | {share} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per cell")
    parser.add_argument("--workers", type=int, default=2, help="azmlinfsrv WORKER_COUNT")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 60 or not 1 <= args.workers <= 16:
        parser.error("--seconds must be in (0, 60] and --workers in [1, 16]")

    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as tmp_name:
        tmp = Path(tmp_name)
        model_dir = tmp / "azureml-models"
        model_path = product_recommender.write_models(model_dir)["v1"]
        (model_dir / "model-v2").joinpath("model.onnx").unlink()
        (model_dir / "model-v2").rmdir()
        cells = measure_in_process("session.run", direct_session(model_path), args.seconds)
        cells += measure_in_process("score.run()", score_script(model_dir), args.seconds)
        server = start_azmlinfsrv(
            entry_script=REPO / "scoring" / "score.py",
            model_dir=model_dir,
            log_path=tmp / "azmlinfsrv.log",
            worker_count=args.workers,
        )
        try:
            cells += asyncio.run(measure_served(server, args.seconds))
        finally:
            server.stop()

    print(f"Machine: {machine()}")
    print(
        f"Python {platform.python_version()}, onnxruntime {ort.__version__}, "
        f"azureml-inference-server-http {version('azureml-inference-server-http')}, "
        f"aiohttp {aiohttp.__version__}; azmlinfsrv WORKER_COUNT={args.workers}; "
        f"{args.seconds:g} s per cell after {WARMUP_SECONDS:g} s warm-up; model: product "
        "recommender v1 (5 features -> 2 probabilities)"
    )
    print()
    print(table(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
