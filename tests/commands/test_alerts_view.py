"""Alert messages and the /alerts listing as Block Kit (limits checked by slack_sdk)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.rules import Rule
from alerts.settings import parse_alert_settings
from alerts.source import SOURCE_ALL, source_key
from alerts.state import AlertKey, AlertState
from alerts.store import StoredAlert
from commands import alerts
from commands.alerts_view import render_alert_message, render_alert_reply, span
from commands.errors import UsageError

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def text_of(blocks: list[dict[str, object]]) -> str:
    texts = (b.get("text") for b in blocks)
    return "\n".join(str(t.get("text", "")) for t in texts if isinstance(t, dict))


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.2, "0.2s"), (5, "5s"), (90, "1m 30s"), (840, "14m"), (3600, "1h"), (3900, "1h 5m")],
)
def test_spans(seconds: float, shown: str) -> None:
    assert span(timedelta(seconds=seconds)) == shown


def test_no_traffic_alert_without_a_share_has_no_shift_button() -> None:
    key = AlertKey(endpoint="ep-one", deployment="blue", rule="no_traffic")
    state = AlertState(key=key, status="firing", since=T0, fired_at=T0, value=0.0, peak=0.0)
    alert = StoredAlert(state=state, rule=Rule(kind="no_traffic"), traffic_share=0)
    reply = render_alert_message(alert)
    blocks = reply.block_dicts()
    assert "No requests answered since" in text_of(blocks)
    actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert "flightdeck_alert_shift_away" not in actions
    reminder = render_alert_reply("reminder", alert).block_dicts()
    assert "no requests on *blue*" in text_of(reminder)


def test_a_listing_failure_and_long_details_fit() -> None:
    state = AlertState(
        key=source_key(SOURCE_ALL), status="firing", since=T0, fired_at=T0, detail="x" * 5000
    )
    blocks = render_alert_message(StoredAlert(state=state)).block_dicts()
    assert blocks[0]["text"]["text"] == "Metrics of the endpoint listing cannot be read"
    settings = parse_alert_settings({"channel": "C0ALERTS"})
    listing = alerts.render_alerts(
        alerts.ListAlerts(), [StoredAlert(state=state)], settings=settings, now=T0
    )
    assert "metrics cannot be read since" in text_of(listing.block_dicts())


def test_parse() -> None:
    assert alerts.parse("") == alerts.ListAlerts()
    assert alerts.parse("product-recommender") == alerts.ListAlerts(endpoint="product-recommender")
    assert isinstance(alerts.parse("help"), alerts.AlertsHelp)
    with pytest.raises(UsageError, match="Unexpected words"):
        alerts.parse("a b")
    with pytest.raises(UsageError):
        alerts.parse("9lives")
