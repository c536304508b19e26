"""Benchmark: how many instances serve 2,000 req/s at P99 ≤ 50 ms, under azmlinfsrv and fastserve.

For each model (the sample product recommender v1, and the bigger MLP ranker) and each server
(azmlinfsrv with ``WORKER_COUNT=1``; fastserve, one process, with micro-batching off and on),
ONE instance is started: one server process, with all its processes and threads pinned to
CPU 0. The product's own capacity search (``capacity.search`` driven by
``capacity.LoadStepper`` on the load-test engine, in this process, pinned to CPU 1) finds
the highest open-loop rate that instance sustains with P99 ≤ ``--target-p99`` and errors
< 1%: a ramp from ``--start-rate`` doubling each step, then bisection to 5%, each step
``--seconds`` long, a clearly failing step stopped early. Then:

- instances for ``--rate`` = ceil(rate / capacity), one core each;
- the product's recommendation (``capacity.recommend``): the same with its default 30%
  headroom, ceil(rate × 1.3 / capacity).

"One instance" here is one server process on one core. An Azure instance has more cores (a
Standard_DS3_v2 has 4) and runs one worker per core, so on Azure divide the counts by its
cores. fastserve's answer is the better of its two rows, and the table says which.

Every request is ``POST /score`` with one row to 127.0.0.1; each step is bounded in requests
and time, and the run ends by itself: 3–4 minutes with the defaults (a search takes at most
15 steps, each at most ``--seconds`` + 4 s; 10 minutes if all six took them all). Prints a
markdown table with the machine, the date and the load average before and after.

azmlinfsrv gets one connection from the engine, fastserve 64. gunicorn's sync worker serves
one connection at a time and blocks on one that is open but idle, and the engine keeps a pool
of open connections: with 64 of them azmlinfsrv failed the objective even at 62 req/s (P99
1 s), with 2 it passed ~844 req/s where it passed ~1,190 with one (short runs, 2026-12-06).
With one, requests wait in the engine's queue instead of gunicorn's backlog, and the wait
counts all the same: latency runs from each request's intended send time.

Usage::

    python bench/instances.py [--seconds 3] [--target-p99 50] [--rate 2000] [--only mlp]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from capacity import (  # noqa: E402
    DeploymentFacts,
    LoadStepper,
    Objective,
    PriceTable,
    SearchOutcome,
    SearchPlan,
    Step,
    recommend,
    search,
)
from loadtest import Limits  # noqa: E402
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
ENGINE_CPU = 1
#: The product's default headroom (``capacity: headroom: 30%`` in flightdeck.yml).
HEADROOM = 0.3
MAX_ERROR_RATE = 0.01
LIMITS = Limits(max_requests=2_000_000, max_duration=60, max_rate=100_000, max_concurrency=256)
BATCH_OFF = {"FLIGHTDECK_BATCH_MAX_ROWS": "0", "FLIGHTDECK_BATCH_MAX_WAIT_MS": "0"}
BATCH_ON = {"FLIGHTDECK_BATCH_MAX_ROWS": "64", "FLIGHTDECK_BATCH_MAX_WAIT_MS": "0"}


@dataclass(frozen=True)
class Model:
    """A model to serve: its name, how to write it into a folder (returning its
    AZUREML_MODEL_DIR), and one request's body."""

    name: str
    write: Callable[[Path], Path]
    body: bytes


@dataclass(frozen=True)
class Server:
    """One server configuration: its name, settings (for the table), command, environment,
    and how many connections the engine may hold open to it."""

    name: str
    settings: str
    command: Callable[[Path, int], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    connections: int = 64


@dataclass(frozen=True)
class Row:
    """One searched instance: what ran, what the search found, and how long it took."""

    model: str
    server: str
    settings: str
    outcome: SearchOutcome
    seconds: float


def instances_for(target_rps: float, capacity_rps: float) -> int | None:
    """Instances of ``capacity_rps`` each to serve ``target_rps``; ``None`` when nothing passed."""
    if capacity_rps <= 0:
        return None
    return max(1, math.ceil(target_rps / capacity_rps - 1e-9))


def recommended(outcome: SearchOutcome, target_rps: float) -> int | None:
    """The product's recommendation for one instance's ``outcome`` (``capacity.recommend``)."""
    facts = DeploymentFacts(
        name="bench", instance_type="one core", instances=1, worker_count=1, max_concurrent=1
    )
    rec = recommend(
        outcome, facts, target_rps=target_rps, headroom=HEADROOM, prices=PriceTable.default()
    )
    return None if rec is None else rec.instance_count


def best(rows: list[Row], model: str, server: str) -> Row | None:
    """The row of ``model`` and ``server`` with the highest capacity (the first on a tie)."""
    mine = [r for r in rows if r.model == model and r.server == server]
    return max(mine, key=lambda r: r.outcome.capacity_rps) if mine else None


def _azmlinfsrv(script: Path, port: int) -> list[str]:
    return [*azmlinfsrv_command(), "--entry_script", str(script), "--port", str(port)]


def _fastserve(script: Path, port: int) -> list[str]:
    folder = script.parent / "fastserve"  # the copy's own, as from a deployment's code folder
    return [sys.executable, str(folder), "--entry_script", str(script), "--port", str(port),
            "--host", HOST]  # fmt: skip


SERVERS = (
    # One connection for azmlinfsrv's sync worker: see the module's docstring.
    Server("azmlinfsrv", "WORKER_COUNT=1", _azmlinfsrv,
           {"WORKER_COUNT": "1", **BATCH_OFF}, connections=1),
    Server("fastserve", "1 process, batching off (run() inline)", _fastserve,
           {"WORKER_COUNT": "1", "FASTSERVE_PROCESSES": "1", **BATCH_OFF}),
    Server("fastserve", "1 process, WORKER_COUNT=64, batching ≤64 rows, no wait", _fastserve,
           {"WORKER_COUNT": "64", "FASTSERVE_PROCESSES": "1", **BATCH_ON}),
)  # fmt: skip


def models() -> tuple[Model, ...]:
    """The sample model (v1) and the bigger one, each with a one-row request."""

    def recommender(folder: Path) -> Path:
        return product_recommender.write_models(folder)["v1"].parent

    def mlp(folder: Path) -> Path:
        return mlp_ranker.write_model(folder).parent

    mlp_row = [round(float(x), 4) for x in mlp_ranker.example_rows(1)[0]]
    return (
        Model("product recommender v1 (5 → 2)", recommender,
              json.dumps({"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}).encode()),
        Model("MLP ranker (128 → 3×1024 → 2)", mlp,
              json.dumps({"data": [mlp_row]}).encode()),
    )  # fmt: skip


def _start(server: Server, script: Path, model_dir: Path, log: Path) -> AzmlinfsrvProcess:
    """Start ``server`` pinned to the server CPU; return once healthy, every thread pinned."""
    port = free_port()
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZUREML_", "AML_", "FLIGHTDECK_", "FASTSERVE_"))
        and k != "WORKER_COUNT"
    }
    environ.update(AZUREML_MODEL_DIR=str(model_dir), **server.env)  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            server.command(script, port), cwd=script.parent, env=environ,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
        )  # fmt: skip
    running = AzmlinfsrvProcess(process=process, port=port, log_path=log)
    wait_until_healthy(running, timeout=60)
    _pin_every_thread(process.pid)
    return running


def _pin_every_thread(pid: int) -> None:
    """Affinity is per thread: make sure every thread of the server's tree is on its CPU."""
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        for thread in process.threads():
            os.sched_setaffinity(thread.id, {SERVER_CPU})
            if os.sched_getaffinity(thread.id) != {SERVER_CPU}:
                raise RuntimeError(f"thread {thread.id} of {process.pid} is not on CPU 0")


async def _show(step: Step) -> None:
    verdict = "pass" if step.passed else f"FAIL ({step.failed_on})"
    p99 = "-" if step.p99_ms is None else f"{step.p99_ms:.1f}"
    print(f"    {step.offered_rps:>8,.0f} req/s: achieved {step.achieved_rps:,.0f}, P99 {p99} ms, "
          f"errors {step.error_rate:.1%}, late sends {step.late_fraction:.1%}: {verdict}",
          file=sys.stderr, flush=True)  # fmt: skip


def measure(server: Server, model: Model, script: Path, model_dir: Path, tmp: Path,
            args: argparse.Namespace) -> Row:  # fmt: skip
    """Start one instance, search its capacity, stop it."""
    print(f"  {model.name} / {server.name} ({server.settings})", file=sys.stderr, flush=True)
    running = _start(server, script, model_dir, tmp / f"{server.name}-{time.monotonic_ns()}.log")
    objective = Objective(max_p99_ms=args.target_p99, max_error_rate=MAX_ERROR_RATE)
    plan = SearchPlan(objective=objective, start_rate=args.start_rate, max_rate=args.max_rate,
                      step_seconds=args.seconds)  # fmt: skip
    stepper = LoadStepper(url=running.url("/score"), headers={"Content-Type": "application/json"},
                          body=model.body, deployment=None, objective=objective,
                          step_seconds=args.seconds,
                          limits=replace(LIMITS, max_concurrency=server.connections))  # fmt: skip
    started = time.monotonic()
    try:
        outcome = asyncio.run(search(plan, measure=stepper.measure, on_step=_show))
    finally:
        running.stop()
    plural = "" if server.connections == 1 else "s"
    settings = f"{server.settings}; {server.connections} connection{plural}"
    return Row(model.name, server.name, settings, outcome, time.monotonic() - started)


def table(rows: list[Row], target_rps: float, target_p99: float) -> str:
    """The markdown table; fastserve's answer (its better row per model) in bold."""
    lines = [
        f"| model | server | settings | highest rate at P99 ≤ {target_p99:g} ms | P50 / P99 ms "
        f"at that rate | instances for {target_rps:,.0f} req/s | with {HEADROOM:.0%} headroom "
        "(`capacity.recommend`) | vs azmlinfsrv | search |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        base = best(rows, row.model, "azmlinfsrv")
        top = best(rows, row.model, row.server)
        o = row.outcome
        knee = o.knee_step
        rate = f"{'≥ ' if o.limited_by == 'rate_cap' else ''}{o.capacity_rps:,.0f} req/s"
        lat = f"{knee.p50_ms:.1f} / {knee.p99_ms:.1f}" if knee and knee.p99_ms else "-"
        count = instances_for(target_rps, o.capacity_rps)
        rec = recommended(o, target_rps)
        ratio = (
            f"{o.capacity_rps / base.outcome.capacity_rps:.1f}x"
            if base and base.outcome.capacity_rps
            else "-"
        )
        mark = "**" if row.server != "azmlinfsrv" and row is top else ""
        lines.append(
            f"| {row.model} | {mark}{row.server}{mark} | {row.settings} | {mark}{rate}{mark} | "
            f"{lat} | {mark}{count if count else '-'}{mark} | {rec if rec else '-'} | {ratio} | "
            f"{len(o.steps)} steps, {row.seconds:.0f} s, limited by {o.limited_by} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per search step")
    parser.add_argument("--target-p99", type=float, default=50.0, help="P99 objective (ms)")
    parser.add_argument("--rate", type=float, default=2000.0, help="rate to size for (req/s)")
    parser.add_argument("--start-rate", type=float, default=250.0, help="the ramp's first step")
    parser.add_argument("--max-rate", type=float, default=32000.0, help="the ramp's cap")
    parser.add_argument("--only", default="", help="only models or servers containing this")
    args = parser.parse_args(argv)
    if not {SERVER_CPU, ENGINE_CPU} <= os.sched_getaffinity(0):
        print(f"needs CPUs {SERVER_CPU} and {ENGINE_CPU}", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {ENGINE_CPU})  # before any thread starts: they all inherit it
    load_before, started = os.getloadavg(), time.monotonic()
    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-instances-") as folder:
        tmp = Path(folder)
        script = copy_scoring_alone(tmp / "code")
        for number, model in enumerate(models()):
            chosen = [s for s in SERVERS if args.only.lower() in f"{model.name} {s.name}".lower()]
            if not chosen:
                continue
            model_dir = model.write(tmp / f"model-{number}")
            rows += [measure(s, model, script, model_dir, tmp, args) for s in chosen]
    load_after, took = os.getloadavg(), time.monotonic() - started
    print(table(rows, args.rate, args.target_p99))
    print()
    print(
        f"One instance = one server process (all its threads) pinned to CPU {SERVER_CPU}; the "
        f"load-test engine on CPU {ENGINE_CPU}. On Azure an instance has more cores and runs a "
        f"worker per core: divide the counts by its cores. Open-loop steps of {args.seconds:g} s, "
        f"P99 from each request's intended send time, errors < {MAX_ERROR_RATE:.0%}. "
        f"Machine: {machine()}. {date}; load average {_load(load_before)} before, "
        f"{_load(load_after)} after; the whole run took {took:.0f} s."
    )
    return 0


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    sys.exit(main())
