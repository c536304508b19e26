"""The recorder's per-minute data on disk: ``<home>/metrics.db`` (SQLite), a day of it.

Every ``flush`` upserts the minutes from the last flush's up to now (a late answer
rewrites its minute) and deletes minutes older than the retention period, so the
file stays bounded (a row is a few hundred bytes to a few KB). ``load`` puts the
last day back into a fresh recorder when the daemon starts.

    archive = MetricsArchive.open(home.root / "metrics.db")
    archive.load(recorder, now=time.time())
    ...
    archive.flush(recorder, now=time.time())     # every 30 s, and on stop
    archive.close()
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from deploy.local.metrics.recorder import RETENTION_MINUTES, MetricsRecorder, StoredMinute

__all__ = ["MetricsArchive"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS minutes (
    endpoint TEXT NOT NULL,
    deployment TEXT NOT NULL,
    minute INTEGER NOT NULL,
    counts TEXT NOT NULL,
    histogram BLOB NOT NULL,
    resources TEXT NOT NULL,
    PRIMARY KEY (endpoint, deployment, minute)
)
"""


class MetricsArchive:
    """A day of per-minute metrics in SQLite (one writer: the daemon)."""

    def __init__(self, *, connection: sqlite3.Connection, retention_minutes: int) -> None:
        self._db = connection
        self._retention = retention_minutes
        self._flushed_through: int | None = None

    @classmethod
    def open(cls, path: Path, *, retention_minutes: int = RETENTION_MINUTES) -> MetricsArchive:
        """Open (or create) the archive at ``path``."""
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(_SCHEMA)
        connection.commit()
        return cls(connection=connection, retention_minutes=retention_minutes)

    def load(self, recorder: MetricsRecorder, *, now: float) -> int:
        """Put the stored minutes of the last day into ``recorder``; return how many."""
        horizon = int(now // 60) - self._retention
        rows = self._db.execute(
            "SELECT endpoint, deployment, minute, counts, histogram, resources FROM minutes "
            "WHERE minute > ? ORDER BY minute",
            (horizon,),
        ).fetchall()
        recorder.restore(
            StoredMinute(
                endpoint=endpoint,
                deployment=deployment,
                minute=minute,
                counts={int(k): int(v) for k, v in json.loads(counts).items()},
                packed=bytes(histogram),
                resources=tuple(float(x) for x in json.loads(resources)),
            )
            for endpoint, deployment, minute, counts, histogram, resources in rows
        )
        return len(rows)

    def flush(self, recorder: MetricsRecorder, *, now: float) -> int:
        """Store the minutes since the last flush (the running one too); prune; return count."""
        current = int(now // 60)
        first = (
            current - self._retention
            if self._flushed_through is None
            else (self._flushed_through - 1)
        )
        rows = recorder.export(first, current + 1)
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO minutes VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        row.endpoint,
                        row.deployment,
                        row.minute,
                        json.dumps(row.counts),
                        row.packed,
                        json.dumps(list(row.resources)),
                    )
                    for row in rows
                ],
            )
            self._db.execute("DELETE FROM minutes WHERE minute <= ?", (current - self._retention,))
        self._flushed_through = current
        return len(rows)

    def forget(self, endpoint: str) -> None:
        """Delete an endpoint's stored minutes."""
        with self._db:
            self._db.execute("DELETE FROM minutes WHERE endpoint = ?", (endpoint,))

    def stored_minutes(self) -> int:
        """How many rows are stored (for tests and status)."""
        row = self._db.execute("SELECT COUNT(*) FROM minutes").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the file."""
        self._db.close()
