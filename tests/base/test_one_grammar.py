"""The same text means the same duration in every place Flightdeck reads one: the alerts
config, the rollouts config and ``--interval``, ``/loadtest`` and ``flightdeck loadtest``
``--duration``, the load-test caps, and ``online-endpoint metrics --window`` (which takes
whole minutes only, and says so)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic import ValidationError as PydanticValidationError

from alerts.settings import parse_alert_settings
from base.durations import parse_duration
from bot.config import LoadTestSettings
from cli.metrics import parse_window
from commands.canary import canary_spec
from commands.loadtest import LoadtestRequest, duration_seconds, parse
from deploy.errors import FlightdeckError, ValidationError
from rollouts import RolloutSettings, parse_interval

TEXTS = ["90s", "90", "1m30s", "5m", "2m", "1h", "1.5m"]


@pytest.mark.parametrize("text", TEXTS)
def test_each_reader_gives_the_same_duration(text: str) -> None:
    expected = parse_duration(text)
    alerts = parse_alert_settings({"channel": "C0A", "repeat_interval": text})
    assert alerts is not None and alerts.repeat_interval == expected
    settings = RolloutSettings.model_validate({"min_interval": "1s", "interval": text})
    assert settings.interval == expected
    assert parse_interval(text, low=timedelta(seconds=1)) == expected
    spec = canary_spec(
        "green",
        {"--interval": text},
        confirm_promotion=False,
        settings=settings,
        max_load_rate=50.0,
    )
    assert spec.interval == expected
    request = parse(f"product-recommender --rate 5 --duration {text}")
    assert isinstance(request, LoadtestRequest)
    assert request.duration == duration_seconds(text) == expected.total_seconds()
    caps = LoadTestSettings.model_validate({"max_duration": text})
    assert caps.max_duration == expected.total_seconds()


def test_a_bare_number_is_seconds_everywhere() -> None:
    assert parse_duration("90") == timedelta(seconds=90)
    alerts = parse_alert_settings({"channel": "C0A", "poll_interval": 5})
    assert alerts is not None and alerts.poll_interval == timedelta(seconds=5)
    assert RolloutSettings.model_validate({"tick": 5}).tick == timedelta(seconds=5)
    assert duration_seconds("5") == 5.0
    assert LoadTestSettings.model_validate({"max_duration": 300}).max_duration == 300.0


@pytest.mark.parametrize(("text", "minutes"), [("5m", 5), ("1h", 60), ("120s", 2), ("300", 5)])
def test_metrics_windows_read_the_same_grammar(text: str, minutes: int) -> None:
    assert parse_window(text) == parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["90s", "5", "1.5m"])
def test_metrics_refuse_what_is_not_whole_minutes_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_window(text)
    message = str(caught.value)
    assert f"--window '{text}' is " in message and "whole minutes" in message, message
    assert "e.g. --window 5m" in message


@pytest.mark.parametrize("text", ["5 mins", "30m1h", "-90s"])
def test_every_reader_refuses_the_same_bad_text_naming_it(text: str) -> None:
    quoted = f"'{text}' is not a duration"
    for problem in (
        _problem(lambda: parse_alert_settings({"channel": "C0A", "repeat_interval": text})),
        _problem(lambda: RolloutSettings.model_validate({"interval": text})),
        _problem(lambda: parse_interval(text, low=timedelta(seconds=1))),
        _problem(lambda: duration_seconds(text)),
        _problem(lambda: LoadTestSettings.model_validate({"max_duration": text})),
        _problem(lambda: parse_window(text)),
    ):
        assert quoted in problem, problem


def _problem(read: Callable[[], object]) -> str:
    """The message of the reader's own error: a domain error, or pydantic's for a config key."""
    with pytest.raises((FlightdeckError, PydanticValidationError)) as caught:
        read()
    return str(caught.value)
