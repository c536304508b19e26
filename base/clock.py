"""Clocks and UTC: the one home of "now" and of aware/naive conversions.

Everything that decides on time (alerts, rollouts, approvals, the autoscaler) takes a
``Clock`` so that tests pass fixed times; databases store naive UTC.

    clock: Clock = utc_now
    stored = to_naive_utc(clock())
    assert as_utc(stored) == ...
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "as_utc", "to_naive_utc", "utc_now"]

#: A function that tells the time, aware, in UTC.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC time; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_naive_utc(value: datetime) -> datetime:
    """An aware time as naive UTC (what every database stores alike)."""
    return value.astimezone(UTC).replace(tzinfo=None)
