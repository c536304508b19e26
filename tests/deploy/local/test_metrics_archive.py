"""The recorder's minutes stored in SQLite and put back into a fresh recorder (a restart)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from deploy.local.metrics.archive import MetricsArchive
from deploy.local.metrics.recorder import MetricsRecorder
from deploy.types import DeploymentMetrics

T0 = 1_800_000_000.0  # a minute boundary


def _window(recorder: MetricsRecorder, now: float, minutes: int = 5) -> DeploymentMetrics:
    end = datetime.fromtimestamp(now, tz=UTC)
    start = datetime.fromtimestamp(now - minutes * 60, tz=UTC)
    return recorder.snapshot("ep", start, end).deployments["blue"]


def test_minutes_survive_a_restart_with_the_same_snapshot(tmp_path: Path) -> None:
    recorder = MetricsRecorder()
    for i in range(200):
        recorder.record("ep", "blue", 200 if i % 10 else 503, 5.0 + i, T0 + i)  # 4 minutes
    recorder.record_resources("ep", "blue", cpu=40.0, memory=2.0, capacity=2, now=T0 + 30)
    archive = MetricsArchive.open(tmp_path / "metrics.db")
    assert archive.flush(recorder, now=T0 + 199) == 4
    archive.close()

    restored = MetricsRecorder()
    again = MetricsArchive.open(tmp_path / "metrics.db")
    assert again.load(restored, now=T0 + 240) == 4
    assert _window(restored, T0 + 240) == _window(recorder, T0 + 240)
    blue = restored.snapshot(
        "ep", datetime.fromtimestamp(T0, tz=UTC), datetime.fromtimestamp(T0 + 240, tz=UTC)
    ).deployments["blue"]
    assert blue.window.requests == 200
    assert blue.window.requests_by_status == {"200": 180, "503": 20}
    assert blue.minutes[0].deployment_capacity == 2.0
    assert blue.minutes[0].cpu_utilization_percentage == 40.0

    # The restored running minute takes more answers (as a late minute).
    restored.record("ep", "blue", 200, 1.0, T0 + 199.5)
    assert _window(restored, T0 + 240).window.requests == 201
    again.close()


def test_minutes_older_than_the_retention_are_pruned_from_disk(tmp_path: Path) -> None:
    recorder = MetricsRecorder(retention_minutes=10)
    archive = MetricsArchive.open(tmp_path / "metrics.db", retention_minutes=10)
    for minute in range(30):
        recorder.record("ep", "blue", 200, 3.0, T0 + minute * 60)
        archive.flush(recorder, now=T0 + minute * 60 + 1)
    assert archive.stored_minutes() == 10
    assert recorder.retained_minutes() == 10
    fresh = MetricsRecorder(retention_minutes=10)
    assert archive.load(fresh, now=T0 + 29 * 60 + 1) == 10
    archive.close()
