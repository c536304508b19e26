"""A metrics source's health as an alert: reported once when it fails, once when it recovers.

The source of an endpoint is ``Backend.metrics`` for it; the source of the listing
(``SOURCE_ALL``) is ``Backend.list_endpoints``. Its state is an ``AlertState`` whose
key has ``rule == SOURCE_RULE``, stored and posted like any alert, so that a source
failing on every poll is one message, not a flood, also across restarts.

    decision = evaluate_source(previous, error="daemon unreachable", now=now)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from alerts.state import AlertKey, AlertState, Decision

__all__ = ["SOURCE_ALL", "SOURCE_RULE", "evaluate_source", "is_source", "source_key"]

#: The rule name of source alerts.
SOURCE_RULE = "metrics_source"
#: The endpoint name of the listing's source (every endpoint).
SOURCE_ALL = "*"


def source_key(endpoint: str) -> AlertKey:
    """The key of ``endpoint``'s metrics source (``SOURCE_ALL`` for the listing)."""
    return AlertKey(endpoint=endpoint, deployment="", rule=SOURCE_RULE)


def is_source(key: AlertKey) -> bool:
    """True for a metrics source's key."""
    return key.rule == SOURCE_RULE


def evaluate_source(previous: AlertState, *, error: str | None, now: datetime) -> Decision:
    """The source failed with ``error`` at ``now`` (or answered, with ``None``).

    ``firing`` at the first failure, nothing while it keeps failing (the detail is
    kept up to date), ``resolved`` at the first answer after.
    """
    failing = previous.status == "firing"
    if error is not None:
        if failing:
            return Decision(state=replace(previous, detail=error))
        state = replace(
            previous,
            status="firing",
            since=now,
            fired_at=now,
            resolved_at=None,
            last_notified_at=now,
            detail=error,
            message_ts=None,
            acknowledged_by=None,
            acknowledged_at=None,
        )
        return Decision(state=state, notice="firing")
    if not failing:
        return Decision(state=previous)
    resolved = replace(previous, status="resolved", resolved_at=now, last_notified_at=now)
    return Decision(state=resolved, notice="resolved")
