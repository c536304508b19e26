"""bench/instances.py's arithmetic and table: instances for a rate, the product's
recommendation with its headroom, and which fastserve row is fastserve's answer.

No servers and no timing: outcomes are made by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from capacity import SearchOutcome, Step

BENCH = Path(__file__).resolve().parents[2] / "bench" / "instances.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_instances", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def outcome(capacity: float, *, capped: bool = False) -> SearchOutcome:
    step = Step(
        offered_rps=capacity,
        achieved_rps=capacity,
        p50_ms=2.0,
        p99_ms=30.0,
        mean_ms=3.0,
        error_rate=0.0,
        sent=int(3 * capacity),
        errors=0,
        status_counts={200: int(3 * capacity)},
        passed=capacity > 0,
    )
    return SearchOutcome(
        capacity_rps=capacity,
        limited_by="rate_cap" if capped else "latency",
        steps=(step,) if capacity > 0 else (),
        knee_fail_rps=None if capped else capacity * 1.05,
    )


@pytest.mark.parametrize(
    ("capacity", "count"),
    [(1000.0, 2), (999.0, 3), (2000.0, 1), (6750.0, 1), (666.67, 3), (0.0, None)],
)
def test_instances_for_a_rate_round_up(
    bench: ModuleType, capacity: float, count: int | None
) -> None:
    assert bench.instances_for(2000.0, capacity) == count


@pytest.mark.parametrize(
    ("capacity", "count"), [(1000.0, 3), (2000.0, 2), (2600.0, 1), (500.0, 6), (0.0, None)]
)
def test_the_recommendation_adds_thirty_percent(
    bench: ModuleType, capacity: float, count: int | None
) -> None:
    assert bench.recommended(outcome(capacity), 2000.0) == count


def test_fastserve_answer_is_its_better_row_and_ratios_are_against_azmlinfsrv(
    bench: ModuleType,
) -> None:
    rows = [
        bench.Row("m", "azmlinfsrv", "WORKER_COUNT=1", outcome(800.0), 30.0),
        bench.Row("m", "fastserve", "batching off", outcome(4000.0), 30.0),
        bench.Row("m", "fastserve", "batching on", outcome(6000.0, capped=True), 30.0),
    ]
    assert bench.best(rows, "m", "fastserve") is rows[2]
    assert bench.best(rows, "other", "fastserve") is None
    lines = bench.table(rows, 2000.0, 50.0).splitlines()
    assert len(lines) == 5
    azml, off, on = lines[2:]
    assert "| 800 req/s |" in azml and "| 3 |" in azml and "| 1.0x |" in azml
    assert "**fastserve**" not in off and "| 5.0x |" in off and "| 1 |" in off
    assert "**fastserve**" in on and "**≥ 6,000 req/s**" in on and "| 7.5x |" in on
