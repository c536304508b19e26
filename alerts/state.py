"""An alert's state, and the pure function that moves it: (previous, value, now) -> next.

    ok -> pending (the condition holds, not yet for the rule's duration) -> firing -> resolved

``evaluate`` decides what to post: ``firing`` once when an alert starts firing,
``reminder`` every repeat interval while it fires (unless acknowledged or
silenced), ``resolved`` once when it clears. It reads no clock and keeps no
state of its own, so it is tested with fixed datetimes.

A silence holds back the ``firing`` notice too: an alert that started firing while
silenced is announced (``firing``) at the first observation after the silence ends
if it still fires, and clears without a ``resolved`` notice if nobody was told it
fired (``last_notified_at`` is ``None`` until something was announced).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from alerts.rules import Rule

__all__ = ["AlertKey", "AlertState", "Decision", "Notice", "Status", "evaluate"]

Status = Literal["ok", "pending", "firing", "resolved"]
Notice = Literal["firing", "reminder", "resolved"]


@dataclass(frozen=True, kw_only=True)
class AlertKey:
    """Which alert: one per endpoint, deployment and rule kind."""

    endpoint: str
    deployment: str
    rule: str

    def as_id(self) -> str:
        """A stable string id, e.g. ``product-recommender/blue/latency_p99``."""
        return f"{self.endpoint}/{self.deployment}/{self.rule}"


@dataclass(frozen=True, kw_only=True)
class AlertState:
    """Everything remembered about one alert between polls (and across restarts)."""

    key: AlertKey
    status: Status = "ok"
    since: datetime | None = None
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    last_notified_at: datetime | None = None
    value: float | None = None
    peak: float | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    silenced_until: datetime | None = None
    silenced_by: str | None = None
    channel: str | None = None
    message_ts: str | None = None
    #: What a failing metrics source said (source alerts only).
    detail: str | None = None

    def silenced(self, now: datetime) -> bool:
        """True while a silence is on."""
        return self.silenced_until is not None and now < self.silenced_until


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The next state, and what (if anything) to post about it."""

    state: AlertState
    notice: Notice | None = None


def evaluate(
    previous: AlertState,
    *,
    rule: Rule,
    value: float | None,
    now: datetime,
    repeat_interval: timedelta,
) -> Decision:
    """Move ``previous`` on by one observation of ``value`` at ``now``."""
    breached = rule.breached(value)
    state = replace(previous, value=value)
    if previous.status in ("ok", "resolved"):
        if not breached:
            return Decision(state=replace(state, status=previous.status))
        state = replace(
            state,
            status="pending",
            since=now,
            fired_at=None,
            resolved_at=None,
            peak=value,
            acknowledged_by=None,
            acknowledged_at=None,
            last_notified_at=None,
            message_ts=None,
        )
        previous = state
    if previous.status == "pending":
        if not breached:
            return Decision(state=replace(state, status="ok", since=None, peak=None))
        since = previous.since or now
        peak = _peak(previous.peak, value)
        if now - since < rule.duration:
            return Decision(state=replace(state, status="pending", since=since, peak=peak))
        firing = replace(state, status="firing", since=since, fired_at=now, peak=peak)
        if previous.silenced(now):
            return Decision(state=replace(firing, last_notified_at=None))
        return Decision(state=replace(firing, last_notified_at=now), notice="firing")
    # firing
    if not breached:
        resolved = replace(state, status="resolved", resolved_at=now)
        if previous.last_notified_at is None:  # nobody was told it fired
            return Decision(state=resolved)
        return Decision(state=replace(resolved, last_notified_at=now), notice="resolved")
    state = replace(state, peak=_peak(previous.peak, value))
    if previous.acknowledged_by is not None or previous.silenced(now):
        return Decision(state=state)
    if previous.last_notified_at is None:  # held back by a silence that has ended
        return Decision(state=replace(state, last_notified_at=now), notice="firing")
    if now - previous.last_notified_at < repeat_interval:
        return Decision(state=state)
    return Decision(state=replace(state, last_notified_at=now), notice="reminder")


def _peak(peak: float | None, value: float | None) -> float | None:
    if value is None:
        return peak
    return value if peak is None else max(peak, value)
