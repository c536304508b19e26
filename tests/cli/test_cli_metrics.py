"""Metrics and autoscale settings through the real ``flightdeck`` entry point and daemon.

One daemon for the module (a tmp home, free ports) with the sample endpoint: ``online-endpoint
metrics`` prints Azure Monitor's names, the control API serves Prometheus text behind the
admin token, and ``online-deployment update --set scale_settings.*`` sets the policy the
daemon's autoscaler then polls (its decisions appear in the metrics)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.metrics import azure_names, by_status_code_class, parse_window
from deploy.errors import ValidationError
from deploy.local.state.home import Home
from deploy.types import DeploymentMetrics, MetricsSnapshot, MinuteMetrics
from tests.support.flightdeck_cli import (
    LocalPlatform,
    local_platform,
    poll,
    write_deployment,
    write_endpoint,
    write_request,
)

EP = "product-recommender"
NAMES = ["--name", "blue", "--endpoint-name", EP]


@dataclass
class Deployed:
    platform: LocalPlatform
    specs: Path


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("cli-metrics")
    specs = root / "specs"
    specs.mkdir()
    with local_platform(root / "home") as platform:
        platform.cli("online-endpoint", "create", "--file", str(write_endpoint(specs))).ok()
        platform.cli(
            "online-deployment", "create", "--file", str(write_deployment(specs)), "--all-traffic"
        ).ok()
        yield Deployed(platform=platform, specs=specs)


def _metrics(deployed: Deployed, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = (
        deployed.platform.cli("online-endpoint", "metrics", "--name", EP, *extra).ok().json()
    )
    return data


def _get(url: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.slow(budget=60)
def test_metrics_under_azure_names_and_in_prometheus_text(deployed: Deployed) -> None:
    request = write_request(deployed.specs)
    for _ in range(3):
        deployed.platform.cli("online-endpoint", "invoke", "-n", EP, "-r", str(request)).ok()

    def sampled() -> bool:
        window = _metrics(deployed, "--window", "5m")["deployments"]["blue"]["window"]
        return bool(window["DeploymentCapacity"] is not None and window["Requests"] >= 3)

    poll(sampled, timeout=30, what="requests and capacity in the metrics")
    data = _metrics(deployed, "--window", "5m")
    window = data["deployments"]["blue"]["window"]
    assert window["RequestsByStatusCode"]["200"] >= 3
    assert window["RequestsByStatusCodeClass"]["2xx"] >= 3
    minutes = data["deployments"]["blue"]["minutes"]
    assert (
        sum(m["RequestsByStatusCodeClass"].get("2xx", 0) for m in minutes)
        == (window["RequestsByStatusCodeClass"]["2xx"])
    )
    assert window["RequestLatency_P50"] > 0
    assert window["RequestLatency_P50"] <= window["RequestLatency_P99"]
    assert window["DeploymentCapacity"] == 1.0
    assert window["CpuMemoryUtilizationPercentage"] > 0
    assert window["CpuUtilizationPercentage"] is not None
    assert len(data["deployments"]["blue"]["minutes"]) in (5, 6)

    home = Home(root=deployed.platform.home)
    info = home.read_daemon_info()
    assert info is not None
    status, text = _get(info.control_url + "/metrics?window_minutes=5", home.admin_token())
    assert status == 200
    labels = 'deployment="blue",endpoint="product-recommender"'
    assert f"flightdeck_requests_per_minute{{{labels}}}" in text
    assert f'flightdeck_request_latency_ms{{{labels},quantile="0.99"}}' in text
    assert f"flightdeck_deployment_capacity{{{labels}}} 1.0" in text
    assert f'flightdeck_requests_by_status_code_class{{{labels},status_code_class="2xx"}}' in text
    assert _get(info.control_url + "/metrics", None)[0] == 401


@pytest.mark.slow(budget=30)
def test_bad_windows_are_one_line_errors(deployed: Deployed) -> None:
    cli = deployed.platform.cli
    assert (
        "between 1m and 1h" in cli("online-endpoint", "metrics", "-n", EP, "-w", "2h").error_line()
    )
    assert (
        "'soon' is not a duration"
        in cli("online-endpoint", "metrics", "-n", EP, "-w", "soon").error_line()
    )
    bare = cli("online-endpoint", "metrics", "-n", EP, "-w", "5").error_line()
    assert "--window '5' is 5s" in bare and "e.g. --window 5m" in bare, bare


@pytest.mark.parametrize(
    ("text", "minutes"), [("5m", 5), ("1h", 60), ("60s", 1), ("1m", 1), ("300", 5)]
)
def test_windows_are_whole_minutes_in_the_one_grammar(text: str, minutes: int) -> None:
    assert parse_window(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("5", "--window '5' is 5s: metrics windows are whole minutes from 1m to 1h"),
        ("90s", "--window '90s' is 1m30s: metrics windows are whole minutes"),
        ("0.5m", "--window '0.5m' is 30s"),
        ("61m", "--window '61m' must be between 1m and 1h"),
        ("5 min", "--window '5 min': '5 min' is not a duration (unknown unit 'min'"),
        ("-5m", "it is negative"),
    ],
)
def test_bad_windows_name_the_flag(text: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_window(text)
    assert problem in str(caught.value), str(caught.value)


@pytest.mark.slow(budget=30)
def test_scale_settings_set_the_policy_the_autoscaler_polls(deployed: Deployed) -> None:
    cli = deployed.platform.cli
    before = cli("online-deployment", "show", *NAMES).ok().json()
    bad = cli("online-deployment", "update", *NAMES, "--set", "scale_settings.max_instances=2")
    assert "scale_settings.min_instances" in bad.error_line()
    bad = cli(
        "online-deployment",
        "update",
        *NAMES,
        "--set",
        "scale_settings.min_instances=3",
        "--set",
        "scale_settings.max_instances=2",
    )
    assert "max_instances" in bad.error_line()
    assert (
        "scale_settings.bogus"
        in cli(
            "online-deployment", "update", *NAMES, "--set", "scale_settings.bogus=1"
        ).error_line()
    )
    assert cli("online-deployment", "show", *NAMES).ok().json() == before

    settings = ["min_instances=1", "max_instances=2", "polling_interval=1", "scale_down_delay=2"]
    sets = [arg for item in settings for arg in ("--set", f"scale_settings.{item}")]
    shown = cli("online-deployment", "update", *NAMES, *sets).ok().json()
    # Shown as the deployment YAML spells the policy (az ml's shape has no autoscale key).
    assert shown["scale_settings"]["max_instances"] == 2
    assert shown["scale_settings"]["polling_interval"] == 1

    def decided() -> bool:
        entry = _metrics(deployed, "--window", "1m")["deployments"]["blue"]
        return bool(entry.get("autoscale_decisions"))

    poll(decided, timeout=30, what="an autoscale decision in the metrics")
    last = _metrics(deployed, "--window", "1m")["deployments"]["blue"]["autoscale_decisions"][-1]
    assert last["current"] == 1 and last["desired"] == 1
    log = cli("online-deployment", "get-logs", *NAMES, "--container", "storage-initializer")
    assert "autoscale: utilization" in log.ok().stdout

    off = cli("online-deployment", "update", *NAMES, "--set", "scale_settings.type=default")
    assert "scale_settings" not in off.ok().json()
    assert json.loads(cli("online-deployment", "show", *NAMES).ok().stdout)["instance_count"] == 1


@pytest.mark.slow(budget=30)
def test_metrics_survive_a_daemon_restart(deployed: Deployed) -> None:
    before = _metrics(deployed, "--window", "60m")["deployments"]["blue"]["window"]
    assert before["Requests"] >= 3
    deployed.platform.down()
    deployed.platform.up()
    after = _metrics(deployed, "--window", "60m")["deployments"]["blue"]["window"]
    assert after["Requests"] >= before["Requests"]
    assert after["RequestsByStatusCode"]["200"] >= before["RequestsByStatusCode"]["200"]
    assert (Path(deployed.platform.home) / "metrics.db").is_file()


def test_requests_by_status_code_class_under_azure_names() -> None:
    assert by_status_code_class({"200": 7, "204": 1, "404": 2, "503": 1, "5xx": 4}) == {
        "2xx": 8,
        "4xx": 2,
        "5xx": 5,  # Azure gives a class without a code for some 5xx
    }
    start = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    first = MinuteMetrics(timestamp=start, requests=3, requests_by_status={"200": 2, "429": 1})
    second = MinuteMetrics(
        timestamp=start + timedelta(minutes=1), requests=2, requests_by_status={"503": 2}
    )
    window = MinuteMetrics(
        timestamp=start, requests=5, requests_by_status={"200": 2, "429": 1, "503": 2}
    )
    snapshot = MetricsSnapshot(
        endpoint=EP,
        start=start,
        end=start + timedelta(minutes=2),
        deployments={
            "blue": DeploymentMetrics(deployment="blue", minutes=(first, second), window=window)
        },
    )
    blue = azure_names(snapshot)["deployments"]["blue"]
    assert blue["window"]["RequestsByStatusCodeClass"] == {"2xx": 2, "4xx": 1, "5xx": 2}
    assert [m["RequestsByStatusCodeClass"] for m in blue["minutes"]] == [
        {"2xx": 2, "4xx": 1},
        {"5xx": 2},
    ]
