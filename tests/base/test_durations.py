"""The one duration grammar: what it reads, what it refuses (naming the text), and that
``format_duration`` writes what ``parse_duration`` reads back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from base.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1h 30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s5ms", timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
        ("0.5s", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
        ("  4h ", timedelta(hours=4)),
        ("0s", timedelta(0)),
    ],
)
def test_numbers_with_units(value: str, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "seconds"), [(90, 90), ("90", 90), (1.5, 1.5), ("0.25", 0.25), (0, 0), ("0", 0)]
)
def test_a_bare_number_is_seconds(value: object, seconds: float) -> None:
    assert parse_duration(value) == timedelta(seconds=seconds)


def test_a_timedelta_passes_through() -> None:
    assert parse_duration(timedelta(minutes=7)) == timedelta(minutes=7)


@pytest.mark.parametrize(
    ("value", "shown", "reason"),
    [
        ("", "''", "empty"),
        ("   ", "'   '", "empty"),
        ("-3", "'-3'", "negative"),
        ("-5m", "'-5m'", "negative"),
        (-1, "'-1'", "negative"),
        (timedelta(seconds=-1), "'-1 day, 23:59:59'", "negative"),
        (float("nan"), "'nan'", "not a finite number"),
        (float("inf"), "'inf'", "not a finite number"),
        ("5x", "'5x'", "unknown unit 'x'"),
        ("5M", "'5M'", "unknown unit 'M'"),
        ("5 minutes", "'5 minutes'", "unknown unit 'minutes'"),
        ("1h-30m", "'1h-30m'", "unknown unit '-30m'"),
        ("m", "'m'", "no number"),
        ("30m1h", "'30m1h'", "largest first"),
        ("1h1h", "'1h1h'", "once each"),
        ("100000000000d", "'100000000000d'", "too long"),
        (True, "'True'", "expected text or a number"),
        (None, "'None'", "expected text or a number"),
    ],
)
def test_what_is_not_a_duration_is_refused_naming_the_text(
    value: object, shown: str, reason: str
) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(value)
    message = str(caught.value)
    assert message.startswith(f"{shown} is not a duration"), message
    assert reason in message, message
    assert "90s, 5m or 1h30m (a bare number is seconds)" in message
    assert isinstance(caught.value, ValueError)  # pydantic validators report it as is


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(hours=4), "4h"),
        (timedelta(days=7), "7d"),
        (timedelta(hours=36), "1d12h"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=50), "50ms"),
        (timedelta(microseconds=1500), "1.5ms"),
        (timedelta(minutes=1, milliseconds=500), "1m500ms"),
        (timedelta(seconds=-90), "-1m30s"),
    ],
)
def test_format_writes_the_grammar(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    "value",
    [
        timedelta(seconds=s)
        for s in (0.000001, 0.05, 0.999999, 1, 59.5, 61.25, 3599, 3661.000001, 86400 * 30 + 7)
    ],
)
def test_format_then_parse_gives_the_same_duration(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value
