"""Parsing what users type for a rollout, and the config section's bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError as PydanticValidationError

from deploy.errors import ValidationError
from rollouts import (
    RolloutSettings,
    parse_interval,
    parse_ms,
    parse_percent,
    parse_rate,
    parse_steps,
)
from tests.rollouts.kit import spec


def test_steps_rise_to_100() -> None:
    assert parse_steps("10,25,50,100") == (10, 25, 50, 100)
    assert parse_steps("5 50% 100") == (5, 50, 100)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("100", "at least two steps"),
        ("10,50", "last step must be 100"),
        ("50,25,100", "must rise"),
        ("0,100", "between 1 and 100"),
        ("10,ten,100", "weights in percent"),
    ],
)
def test_bad_steps_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        parse_steps(text)


def test_intervals_within_bounds() -> None:
    assert parse_interval("5m", low=timedelta(minutes=1)) == timedelta(minutes=5)
    assert parse_interval("90", low=timedelta(seconds=1)) == timedelta(seconds=90)
    assert parse_interval("1h", low=timedelta(seconds=1)) == timedelta(hours=1)
    with pytest.raises(ValidationError, match="`--interval 30s` must be between 1m and 1h"):
        parse_interval("30s", low=timedelta(minutes=1))
    with pytest.raises(ValidationError, match=r"`--interval soon`: 'soon' is not a duration"):
        parse_interval("soon", low=timedelta(seconds=1))
    with pytest.raises(ValidationError, match="largest first"):
        parse_interval("30s1m", low=timedelta(seconds=1))


def test_milliseconds_percentages_and_rates() -> None:
    assert parse_ms("500ms", what="--max-p99") == 500.0
    assert parse_ms("0.5s", what="--max-p99") == 500.0
    assert parse_ms("250", what="--max-p99") == 250.0
    with pytest.raises(ValidationError, match="--max-p99 fast"):
        parse_ms("fast", what="--max-p99")
    assert parse_percent("1%", what="--max-error-rate") == 1.0
    assert parse_percent("0.5", what="--max-error-rate") == 0.5
    with pytest.raises(ValidationError, match="between 0 and 100"):
        parse_percent("120%", what="--max-error-rate")
    assert parse_rate("20", high=50) == 20.0
    with pytest.raises(ValidationError, match="limit of 50"):
        parse_rate("80", high=50)


def test_a_spec_survives_json() -> None:
    original = spec(max_p99_increase=20.0, with_load=15.0, confirm_promotion=True)
    assert type(original).from_json(original.to_json()) == original


def test_settings_defaults_and_bounds() -> None:
    settings = RolloutSettings()
    assert settings.steps == (10, 25, 50, 100)
    assert settings.interval == timedelta(minutes=5)
    assert settings.lease >= timedelta(seconds=10)
    short = RolloutSettings.model_validate({"min_interval": "1s", "interval": "3s"})
    assert short.interval == timedelta(seconds=3)
    with pytest.raises(PydanticValidationError, match="min_interval"):
        RolloutSettings.model_validate({"interval": "10s"})
    assert RolloutSettings.model_validate({"interval": 120}).interval == timedelta(minutes=2)
    with pytest.raises(PydanticValidationError, match="must be between 50ms and 1m"):
        RolloutSettings.model_validate({"tick": "2m"})
    with pytest.raises(PydanticValidationError, match="'5 min' is not a duration"):
        RolloutSettings.model_validate({"interval": "5 min"})
    with pytest.raises(PydanticValidationError, match="last step must be 100"):
        RolloutSettings.model_validate({"steps": [10, 50]})
