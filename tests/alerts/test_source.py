"""A metrics source's health, as a pure function of (previous state, error, now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.source import SOURCE_ALL, evaluate_source, is_source, source_key
from alerts.state import AlertKey, AlertState

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_failing_is_said_once_and_recovering_once() -> None:
    state = AlertState(key=source_key("ep-one"))
    steps = []
    for minute, error in enumerate([None, "down", "down", "still down", None, None, "down"]):
        decision = evaluate_source(state, error=error, now=T0 + timedelta(minutes=minute))
        state = decision.state
        steps.append((state.status, decision.notice, state.detail))
    assert steps == [
        ("ok", None, None),
        ("firing", "firing", "down"),
        ("firing", None, "down"),
        ("firing", None, "still down"),
        ("resolved", "resolved", "still down"),
        ("resolved", None, "still down"),
        ("firing", "firing", "down"),
    ]
    assert state.since == T0 + timedelta(minutes=6) and state.resolved_at is None


def test_source_keys() -> None:
    assert is_source(source_key(SOURCE_ALL))
    assert source_key("ep-one").as_id() == "ep-one//metrics_source"
    assert not is_source(AlertKey(endpoint="ep-one", deployment="blue", rule="error_rate"))
