"""Rendering a result (text, JSON dict, progress line, PNG chart); the recorder's timeline."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from PIL import Image

from loadtest import (
    LoadTestPlan,
    LoadTestResult,
    Progress,
    render_chart_png,
    render_progress,
    render_text,
    run_load_test,
    to_dict,
)
from loadtest.recorder import Recorder
from tests.loadtest.targets import Target

pytestmark = pytest.mark.slow(budget=30)

SECRET = "Bearer do-not-print-me"


@pytest.fixture(scope="module")
def results(target: Target) -> Iterator[dict[str, LoadTestResult]]:
    """One closed- and one open-loop result against the target, made once."""
    import asyncio

    async def make() -> dict[str, LoadTestResult]:
        closed = LoadTestPlan.closed(
            url=target.url("/status/report"),
            requests=200,
            concurrency=4,
            headers={"Authorization": SECRET},
            body=b'{"data": [[1, 2]]}',
            deployment="green",
        )
        opened = LoadTestPlan.open(url=target.url("/fast"), rate=100, duration=1.5)
        return {
            "closed": await run_load_test(closed),
            "open": await run_load_test(opened),
        }

    yield asyncio.run(make())


def test_text_summary(results: dict[str, LoadTestResult]) -> None:
    text = render_text(results["closed"])
    assert "closed loop, 200 requests, concurrency 4" in text
    assert "deployment: green" in text
    assert "sent 200, completed 200, ok 160, errors 40" in text
    for label in ("P50", "P90", "P95", "P99", "P99.9", "max", "mean"):
        assert label in text
    assert "200" in text and "429" in text and "500" in text
    assert SECRET not in text
    opened = render_text(results["open"])
    assert "open loop, 100 req/s for 1.5s" in opened
    assert re.search(r"late sends \(>10 ms\) \d+, dropped sends 0", opened)
    # Only the open loop has a second, uncorrected clock.
    assert re.search(r"From send    P50 [\d.]+, P99 [\d.]+ ms \(uncorrected", opened)
    assert "From send" not in text


def test_json_dict(results: dict[str, LoadTestResult]) -> None:
    data = to_dict(results["closed"])
    encoded = json.dumps(data)
    assert SECRET not in encoded
    assert data["plan"]["mode"] == "closed"
    assert data["plan"]["deployment"] == "green"
    assert data["status_counts"] == {"200": 160, "429": 20, "500": 20}
    assert data["errors"] == 40
    latency = data["latency_ms"]
    assert latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p99_9"] <= latency["max"]
    assert data["timeline"] and sum(b["responses"] for b in data["timeline"]) == 200
    curve = data["percentile_curve"]
    assert curve[0][0] == 0.0 and curve[-1] == [100.0, latency["max"]]
    assert [p for p, _ in curve] == sorted(p for p, _ in curve)
    assert data["latency_from_send_ms"] is None  # a closed loop times from the send anyway
    sent = to_dict(results["open"])["latency_from_send_ms"]
    assert sent is not None and 0 < sent["p50"] <= sent["p99"] <= sent["max"]


def test_progress_line() -> None:
    line = render_progress(
        Progress(
            elapsed=3.2,
            sent=120,
            completed=118,
            ok=117,
            errors=1,
            dropped=0,
            p99_ms=12.5,
            planned=1000,
        )
    )
    assert line == "  3.2s  sent 120  ok 117  errors 1  P99 12.50 ms"
    empty = Progress(
        elapsed=0.1, sent=0, completed=0, ok=0, errors=0, dropped=0, p99_ms=None, planned=1
    )
    assert render_progress(empty).endswith("P99 -")


@pytest.mark.parametrize("kind", ["closed", "open"])
def test_chart_is_a_png(results: dict[str, LoadTestResult], kind: str) -> None:
    png = render_chart_png(results[kind])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.size == (1200, 450)


def test_timeline_stays_bounded() -> None:
    recorder = Recorder(start_ns=0, planned=0, bucket_ns=1_000_000_000, max_buckets=8)
    second = 1_000_000_000
    for t in range(20):  # one response per second for 20 s, latency t+1 ms
        recorder.record((t + 1) * 1_000_000, 200, t * second + 1)
    timeline = recorder.timeline(20 * second)
    assert len(timeline) <= 8
    assert {b.width for b in timeline} == {4.0}  # 1 s buckets merged twice
    assert sum(b.responses for b in timeline) == 20
    first = timeline[0]
    assert first.start == 0.0 and first.responses == 4
    assert first.max_ms == pytest.approx(4.0, rel=0.01)
    assert recorder.latency_stats() is not None


def test_the_time_from_send_is_kept_only_when_asked() -> None:
    kept = Recorder(start_ns=0, planned=2, from_send=True)
    plain = Recorder(start_ns=0, planned=2)
    for recorder in (kept, plain):
        recorder.record(50_000_000, 200, 1)  # waited 45 ms for a connection, then 5 ms
        recorder.record_from_send(5_000_000)
    corrected, from_send = kept.latency_stats(), kept.from_send_stats()
    assert corrected is not None and from_send is not None
    assert corrected.max == pytest.approx(50.0, rel=0.01)
    assert from_send.max == pytest.approx(5.0, rel=0.01) and from_send.count == 1
    assert plain.from_send_stats() is None


async def test_a_result_without_responses_renders(closed_port: int) -> None:
    plan = LoadTestPlan.closed(url=f"http://127.0.0.1:{closed_port}/score", requests=5)
    result = await run_load_test(plan)
    assert "no response received" in render_text(result)
    assert "connection_error" in render_text(result)
    assert to_dict(result)["latency_ms"] is None
    png = render_chart_png(result)
    Image.open(io.BytesIO(png)).verify()
