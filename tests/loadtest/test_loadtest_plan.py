"""LoadTestPlan validation and Limits: each bad input names what is wrong."""

from __future__ import annotations

import pytest

from loadtest import (
    DEPLOYMENT_HEADER,
    InvalidPlanError,
    LimitExceededError,
    Limits,
    LoadTestPlan,
    Mode,
    TargetNotAllowedError,
)

URL = "http://127.0.0.1:8080/ep/score"


def test_closed_plan_defaults_and_headers() -> None:
    plan = LoadTestPlan.closed(
        url=URL, requests=100, body=b"{}", headers={"Authorization": "Bearer k"}, deployment="blue"
    )
    assert plan.mode is Mode.CLOSED
    assert plan.concurrency == 10
    assert plan.planned_requests == 100
    assert plan.request_headers() == {
        "Authorization": "Bearer k",
        "Content-Type": "application/json",
        DEPLOYMENT_HEADER: "blue",
    }
    # Keys stay out of logs and tracebacks.
    assert "Bearer" not in repr(plan)


def test_open_plan_counts_requests() -> None:
    plan = LoadTestPlan.open(url=URL, rate=250, duration=4)
    assert plan.mode is Mode.OPEN
    assert plan.planned_requests == 1000
    assert plan.request_headers() == {}


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"url": "ftp://x/score", "mode": "closed", "requests": 1}, "url", "http"),
        ({"url": "http:///score", "mode": "closed", "requests": 1}, "url", "http"),
        ({"url": URL, "mode": "sideways", "requests": 1}, "mode", "closed"),
        ({"url": URL, "mode": "closed"}, "requests", "--requests"),
        ({"url": URL, "mode": "closed", "requests": 1, "rate": 5}, "rate", "--rate"),
        ({"url": URL, "mode": "open", "duration": 5}, "rate", "--rate"),
        ({"url": URL, "mode": "open", "rate": 5}, "duration", "--duration"),
        ({"url": URL, "mode": "open", "rate": 5, "duration": 1, "requests": 3}, "requests", ""),
        ({"url": URL, "mode": "closed", "requests": 0}, "requests", "above 0"),
        ({"url": URL, "mode": "closed", "requests": 5, "concurrency": -1}, "concurrency", ""),
        ({"url": URL, "mode": "open", "rate": 0, "duration": 1}, "rate", "above 0"),
        ({"url": URL, "mode": "closed", "requests": 5, "timeout": 0}, "timeout", ""),
        ({"url": URL, "mode": "closed", "requests": 5, "method": "PO ST"}, "method", ""),
        ({"url": URL, "mode": "closed", "requests": 5, "headers": {"a b": "x"}}, "headers", ""),
        ({"url": URL, "mode": "closed", "requests": 5, "headers": {"X": "a\r\nb"}}, "headers", ""),
        ({"url": URL, "mode": "closed", "requests": 5, "headers": {"X": "café"}}, "headers", ""),
        ({"url": "http://h/scöre", "mode": "closed", "requests": 1}, "url", "percent-encoded"),
        ({"url": URL, "mode": "closed", "requests": 5, "deployment": "bad name"}, "deployment", ""),
    ],
)
def test_invalid_plans_name_the_option(kwargs: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(InvalidPlanError) as caught:
        LoadTestPlan(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("plan", "field", "option"),
    [
        (LoadTestPlan.closed(url=URL, requests=1001), "requests", "--requests"),
        (LoadTestPlan.closed(url=URL, requests=10, concurrency=11), "concurrency", "--concurrency"),
        (LoadTestPlan.open(url=URL, rate=51, duration=1, concurrency=5), "rate", "--rate"),
        (
            LoadTestPlan.open(url=URL, rate=1, duration=90, concurrency=5),
            "duration",
            "--duration 1m30s is above the configured limit of 1m",
        ),
        (LoadTestPlan.open(url=URL, rate=50, duration=30, concurrency=5), "rate", "1500 requests"),
    ],
)
def test_limits_name_the_option_and_cap(plan: LoadTestPlan, field: str, option: str) -> None:
    limits = Limits(max_requests=1000, max_duration=60, max_rate=50, max_concurrency=10)
    with pytest.raises(LimitExceededError) as caught:
        limits.check(plan)
    assert caught.value.field == field
    assert option in caught.value.message
    assert "limit" in caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/score",
        "http://127.8.9.10/score",
        "http://localhost:8080/score",
        "http://[::1]:8080/score",
    ],
)
def test_loopback_targets_are_allowed(url: str) -> None:
    Limits(allow_only_loopback=True).check(LoadTestPlan.closed(url=url, requests=1))


@pytest.mark.parametrize(
    "url",
    [
        "https://ep.westeurope.inference.ml.azure.com/score",
        "http://10.0.0.4/score",
        "http://192.168.1.1/score",
        "http://localhost.evil.example/score",
    ],
)
def test_other_targets_are_refused_with_the_local_backend(url: str) -> None:
    plan = LoadTestPlan.closed(url=url, requests=1)
    with pytest.raises(TargetNotAllowedError) as caught:
        Limits(allow_only_loopback=True).check(plan)
    assert "loopback" in caught.value.message
    Limits(allow_only_loopback=False).check(plan)  # Azure: allowed


def test_target_parsing() -> None:
    target = LoadTestPlan.closed(url="http://[::1]:8080/a/score?x=1", requests=1).target
    assert (target.host, target.port, target.path) == ("::1", 8080, "/a/score?x=1")
    assert target.host_header == "[::1]:8080"
    https = LoadTestPlan.closed(url="https://h.example/score", requests=1).target
    assert (https.port, https.tls, https.host_header) == (443, True, "h.example")


def test_time_cap_of_a_closed_loop_defaults_to_the_limit() -> None:
    limits = Limits(max_duration=42)
    assert limits.time_cap(LoadTestPlan.closed(url=URL, requests=5)) == 42
    assert limits.time_cap(LoadTestPlan.closed(url=URL, requests=5, duration=3)) == 3


def test_from_options_picks_the_mode() -> None:
    closed = LoadTestPlan.from_options(url=URL)
    assert (closed.mode, closed.requests, closed.concurrency) == (Mode.CLOSED, 100, 10)
    capped = LoadTestPlan.from_options(url=URL, requests=500, concurrency=4, duration=20)
    assert (capped.mode, capped.requests, capped.duration) == (Mode.CLOSED, 500, 20)
    opened = LoadTestPlan.from_options(url=URL, rate=50, duration=10, deployment="blue")
    assert (opened.mode, opened.rate, opened.concurrency) == (Mode.OPEN, 50, 64)
    assert opened.deployment == "blue"


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"rate": 5, "duration": 1, "requests": 10}, "requests", "not both"),
        ({"rate": 5}, "duration", "--duration"),
        ({"requests": -3}, "requests", "above 0"),
    ],
)
def test_from_options_errors(options: dict[str, float], field: str, words: str) -> None:
    with pytest.raises(InvalidPlanError) as caught:
        LoadTestPlan.from_options(url=URL, **options)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert words in caught.value.message
