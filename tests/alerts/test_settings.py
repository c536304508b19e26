"""The ``alerts:`` section: defaults, overrides, durations, and errors that name the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from alerts.errors import AlertConfigError
from alerts.rules import DEFAULT_RULES, Rule
from alerts.settings import parse_alert_settings


def test_no_section_means_alerts_off() -> None:
    assert parse_alert_settings(None) is None
    off = parse_alert_settings({"enabled": False})
    assert off is not None and not off.enabled and not off.watches("anything")


def test_defaults() -> None:
    settings = parse_alert_settings({"channel": "C0ALERTS"})
    assert settings is not None
    assert settings.poll_interval == timedelta(seconds=60)
    assert settings.window == settings.poll_interval
    assert settings.repeat_interval == timedelta(hours=4)
    assert settings.misfire_grace_time == settings.poll_interval
    assert settings.rules == DEFAULT_RULES
    assert settings.channel_for("any-endpoint") == "C0ALERTS"
    assert settings.fetch_window() == timedelta(minutes=15)


def test_rules_overrides_and_durations() -> None:
    settings = parse_alert_settings(
        {
            "channel": "C0ALERTS",
            "poll_interval": "1s",
            "window": 2,
            "repeat_interval": "1h30m",
            "rules": [
                {"kind": "latency_p99", "threshold": 300, "duration": "5s"},
                {"kind": "error_rate", "include_4xx": True},
                {"kind": "no_traffic"},
            ],
            "endpoints": {
                "product-recommender": {"channel": "C0RECS", "rules": [{"kind": "error_rate"}]},
                "scratch-pad": {"enabled": False},
            },
        }
    )
    assert settings is not None
    assert (settings.poll_interval, settings.window) == (timedelta(seconds=1), timedelta(seconds=2))
    assert settings.repeat_interval == timedelta(minutes=90)
    assert settings.rules == (
        Rule(kind="latency_p99", threshold=300, duration=timedelta(seconds=5)),
        Rule(kind="error_rate", threshold=1, duration=timedelta(minutes=2), include_4xx=True),
        Rule(kind="no_traffic", duration=timedelta(minutes=10)),
    )
    assert settings.rules_for("product-recommender") == (
        Rule(kind="error_rate", threshold=1, duration=timedelta(minutes=2)),
    )
    assert settings.rules_for("other") == settings.rules
    assert settings.channel_for("product-recommender") == "C0RECS"
    assert not settings.watches("scratch-pad") and settings.watches("other")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "alerts: no channel to post alerts to"),
        ({"channel": "#alerts"}, "alerts.channel: '#alerts' is not a channel ID"),
        (
            {"channel": "C0A", "poll_interval": "soon"},
            "alerts.poll_interval: 'soon' is not a duration",
        ),
        (
            {"channel": "C0A", "poll_interval": "2h"},
            "alerts.poll_interval: must be between 100ms and 1h, not 2h",
        ),
        ({"channel": "C0A", "poll_interval": 30, "window": 10}, "alerts.window: the window (10s)"),
        (
            {"channel": "C0A", "window": "20m"},
            "alerts.window: the window (20m) must be shorter than chart_minutes (15m)",
        ),
        ({"channel": "C0A", "repeat_interval": "0s"}, "alerts.repeat_interval: must be between"),
        ({"channel": "C0A", "chart_minutes": 0}, "alerts.chart_minutes: Input should be greater"),
        ({"channel": "C0A", "rules": [{"kind": "p99"}]}, "alerts.rules.0.kind: Input should be"),
        (
            {"channel": "C0A", "rules": [{"kind": "error_rate"}, {"kind": "error_rate"}]},
            "alerts.rules: the rule kind error_rate is given twice",
        ),
        (
            {"channel": "C0A", "rules": [{"kind": "latency_p99", "include_4xx": True}]},
            "alerts.rules.0: include_4xx applies to error_rate rules only",
        ),
        (
            {"channel": "C0A", "rules": [{"kind": "no_traffic", "threshold": 1}]},
            "alerts.rules.0: a no_traffic rule takes no threshold",
        ),
        (
            {"channel": "C0A", "rules": [{"kind": "latency_p99", "duration": "2d"}]},
            "alerts.rules.0.duration: must be between 0s and 1d, not 2d",
        ),
        (
            {"channel": "C0A", "rules": [{"kind": "latency_p99", "duration": "3 mins"}]},
            "alerts.rules.0.duration: '3 mins' is not a duration (unknown unit 'mins'",
        ),
        (
            {
                "channel": "C0A",
                "endpoints": {"ep-one": {"rules": [{"kind": "error_rate", "threshold": -1}]}},
            },
            "alerts.endpoints.ep-one.rules.0.threshold: Input should be greater than or equal to 0",
        ),
        (
            {"channel": "C0A", "endpoints": {"ep-one": {"chanel": "C0B"}}},
            "alerts.endpoints.ep-one.chanel",
        ),
        ({"channel": "C0A", "endpoints": {"9lives": {}}}, "alerts.endpoints: '9lives' is not"),
        ({"channel": "C0A", "every": "1m"}, "alerts.every: Extra inputs are not permitted"),
        (["C0A"], "alerts: expected a mapping"),
    ],
)
def test_errors_name_the_file_and_the_key(raw: object, message: str) -> None:
    with pytest.raises(AlertConfigError) as caught:
        parse_alert_settings(raw, source=Path("flightdeck.yml"))
    assert str(caught.value).startswith("flightdeck.yml: " + message), str(caught.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90), ("90", 90), ("90s", 90), ("1m30s", 90), ("5m", 300), ("2.5", 2.5), ("500ms", 0.5)],
)
def test_every_duration_key_reads_the_one_grammar(text: object, seconds: float) -> None:
    """A bare number is seconds here as everywhere (base.durations)."""
    settings = parse_alert_settings(
        {
            "channel": "C0A",
            "poll_interval": "100ms",
            "window": text,
            "misfire_grace_time": text,
            "rules": [{"kind": "latency_p99", "duration": text}],
        }
    )
    assert settings is not None
    expected = timedelta(seconds=seconds)
    assert (settings.window, settings.misfire_grace_time) == (expected, expected)
    assert settings.rules[0].duration == expected


@pytest.mark.parametrize(("text", "seconds"), [("4h", 14400), ("1h30m", 5400), ("2d", 172800)])
def test_longer_durations(text: str, seconds: float) -> None:
    settings = parse_alert_settings({"channel": "C0A", "repeat_interval": text})
    assert settings is not None and settings.repeat_interval == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "m", "5 minutes", "-3", "1h-30m", True])
def test_bad_durations_name_the_key(text: object) -> None:
    with pytest.raises(AlertConfigError, match=r"^alerts\.repeat_interval: .* is not a duration"):
        parse_alert_settings({"channel": "C0A", "repeat_interval": text})
