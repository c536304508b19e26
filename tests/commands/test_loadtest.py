"""``/loadtest`` parsing: ``--duration`` in the one duration grammar (a bare number is
seconds), and what is wrong named with the command's help."""

from __future__ import annotations

import pytest

from commands.errors import UsageError
from commands.loadtest import LoadtestRequest, duration_seconds, parse
from deploy.errors import ValidationError

EP = "product-recommender"


@pytest.mark.parametrize(
    ("text", "seconds"), [("30", 30), ("90s", 90), ("2m", 120), ("1m30s", 90), ("0.5", 0.5)]
)
def test_duration_reads_the_one_grammar(text: str, seconds: float) -> None:
    request = parse(f"{EP} --rate 5 --duration {text}")
    assert isinstance(request, LoadtestRequest)
    assert (request.rate, request.duration) == (5.0, seconds)
    assert duration_seconds(text) == seconds


def test_duration_caps_a_closed_loop_too() -> None:
    request = parse(f"{EP} --requests 100 --duration 2m")
    assert isinstance(request, LoadtestRequest) and request.duration == 120


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("soon", "`--duration`: 'soon' is not a duration"),
        ("5 mins", "unknown unit 'mins'"),
        ("-5", "it is negative"),
        ("0s", "`--duration` must be above 0."),
        ("30m1h", "largest first"),
    ],
)
def test_bad_durations_are_usage_errors_naming_the_flag(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(f"{EP} --rate 5 --duration '{text}'")
    assert problem in caught.value.problem, caught.value.problem
    assert "/loadtest" in caught.value.help_text
    with pytest.raises(ValidationError, match="--duration"):
        duration_seconds(text)


def test_an_open_loop_without_duration_says_how_to_write_one() -> None:
    with pytest.raises(UsageError, match=r"Open loop needs --duration D \(e\.g\. 30s or 2m"):
        parse(f"{EP} --rate 5")
