"""``flightdeck rollout`` through the real entry point, against the local daemon.

One daemon for the module serving the sample endpoint: blue (v1) at 100%, green (v2) at
0%. Rollouts with one-second intervals (the config allows them) and ``--with-load`` so
that each interval has requests to judge; the bot's database is the home's, as for Slack.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.flightdeck_cli import (
    LocalPlatform,
    flightdeck_script,
    local_platform,
    poll,
    write_deployment,
    write_endpoint,
)

pytestmark = pytest.mark.slow(budget=90)

EP = "product-recommender"
FAST = ("--interval", "1s", "--min-requests", "5", "--max-p99", "5s", "--with-load", "20")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    root = tmp_path_factory.mktemp("cli-rollout")
    specs = root / "specs"
    specs.mkdir()
    with local_platform(root / "home") as running:
        running.cli("online-endpoint", "create", "--file", str(write_endpoint(specs))).ok()
        settings = {"max_concurrent_requests_per_instance": 8, "request_timeout_ms": 5000}
        blue = write_deployment(specs, request_settings=settings)
        green = write_deployment(specs, name="green", version="v2", request_settings=settings)
        running.cli("online-deployment", "create", "--file", str(blue), "--all-traffic").ok()
        running.cli("online-deployment", "create", "--file", str(green)).ok()
        yield running


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "flightdeck.yml"
    path.write_text("rollouts: {min_interval: 1s, tick: 0.2s}\n", encoding="utf-8")
    return path


@pytest.fixture
def blue(platform: LocalPlatform) -> LocalPlatform:
    """All traffic on blue before each test."""
    platform.cli("online-endpoint", "update", "--name", EP, "--traffic", "blue=100 green=0").ok()
    return platform


def traffic(platform: LocalPlatform) -> dict[str, int]:
    shown = platform.cli("online-endpoint", "show", "--name", EP).ok().json()
    return {k: v for k, v in shown["traffic"].items() if v}


def test_start_drives_a_good_canary_to_100(blue: LocalPlatform, config: Path) -> None:
    result = blue.cli(
        "rollout", "start", EP, "green", "--steps", "50,100", *FAST, "--config", str(config)
    ).ok()
    data = result.json()
    assert (data["status"], data["outcome"], data["traffic"]) == (
        "done",
        "promoted",
        {"green": 100},
    )
    assert data["requested_by"].startswith("cli:")
    assert [r["verdict"] for r in data["results"]] == ["pass"]
    assert data["results"][0]["requests"] >= 5
    assert "step 1 of 2: green at 50%" in result.stderr
    assert "(50%): pass: " in result.stderr and "promoted: green takes 100%" in result.stderr
    assert traffic(blue) == {"green": 100}
    assert blue.cli("rollout", "status", EP, "--config", str(config)).ok().json() == []
    (latest,) = blue.cli("rollout", "status", EP, "--all", "--config", str(config)).ok().json()
    assert latest["id"] == data["id"]


def test_dry_run_and_bad_input_change_nothing(blue: LocalPlatform, config: Path) -> None:
    plan = blue.cli(
        "rollout", "start", EP, "green", "--steps", "20,100", "--dry-run", "--config", str(config)
    ).ok().json()  # fmt: skip
    assert plan["dry_run"] is True and plan["step_weights"][0] == {"blue": 80, "green": 20}
    assert plan["rollback"] == {"blue": 100}
    for args, problem in (
        (("--steps", "10,50"), "the last step must be 100"),
        (("--interval", "0.5s"), "must be between 1s and 1h"),
        (("--with-load", "5000"), "above the configured limit of 50"),
    ):
        line = blue.cli("rollout", "start", EP, "green", *args, "--config", str(config))
        assert problem in line.error_line()
    missing = blue.cli("rollout", "start", EP, "purple", "--config", str(config)).error_line()
    assert "purple" in missing
    assert traffic(blue) == {"blue": 100}
    assert blue.cli("rollout", "status", "--config", str(config)).ok().json() == []


def test_detached_then_pause_resume_abort(blue: LocalPlatform, config: Path) -> None:
    cfg = ("--config", str(config))
    started = blue.cli(
        "rollout", "start", EP, "green", "--steps", "10,100", "--interval", "5m", "--detach", *cfg
    ).ok().json()  # fmt: skip
    assert (started["status"], started["traffic"]) == ("running", {"blue": 90, "green": 10})
    assert traffic(blue) == {"blue": 90, "green": 10}
    again = blue.cli("rollout", "start", EP, "green", "--detach", *cfg).error_line()
    assert "A rollout of green is running on product-recommender" in again
    assert blue.cli("rollout", "pause", EP, *cfg).ok().json()["status"] == "paused"
    resumed = blue.cli("rollout", "resume", EP, "--detach", *cfg).ok().json()
    assert resumed["status"] == "running"
    aborted = blue.cli("rollout", "abort", EP, *cfg).ok().json()
    assert (aborted["status"], aborted["outcome"]) == ("done", "aborted")
    assert traffic(blue) == {"blue": 100}
    nothing = blue.cli("rollout", "abort", EP, *cfg).error_line()
    assert "No rollout is running on product-recommender" in nothing


def test_start_names_the_slack_channel_a_bot_shows_it_in(
    blue: LocalPlatform, tmp_path: Path
) -> None:
    config = tmp_path / "flightdeck.yml"
    config.write_text(
        "rollouts: {min_interval: 1s, tick: 0.2s}\nalerts: {channel: C0ALERTS}\n",
        encoding="utf-8",
    )
    cfg = ("--config", str(config))
    # A channel name is not an ID: refused before anything changes.
    bad = blue.cli("rollout", "start", EP, "green", "--detach", "--channel", "#ops", *cfg)
    assert "'#ops' is not a Slack channel ID" in bad.error_line()
    assert traffic(blue) == {"blue": 100}
    assert blue.cli("rollout", "status", *cfg).ok().json() == []
    # By default, the endpoint's alerts channel; --channel overrides it.
    dry = blue.cli("rollout", "start", EP, "green", "--dry-run", *cfg).ok().json()
    assert dry["channel"] == "C0ALERTS"
    started = blue.cli(
        "rollout", "start", EP, "green", "--steps", "10,100", "--interval", "5m", "--detach",
        "--channel", "C0ROLLOUTS", *cfg,
    ).ok().json()  # fmt: skip
    assert started["channel"] == "C0ROLLOUTS"
    assert blue.cli("rollout", "status", EP, *cfg).ok().json()[0]["channel"] == "C0ROLLOUTS"
    assert blue.cli("rollout", "abort", EP, *cfg).ok().json()["outcome"] == "aborted"


def test_ctrl_c_pauses_the_rollout(blue: LocalPlatform, config: Path, tmp_path: Path) -> None:
    env = {**os.environ, "FLIGHTDECK_HOME": str(blue.home)}
    env.pop("FLIGHTDECK_BACKEND", None)
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as sink:
        process = subprocess.Popen(
            [str(flightdeck_script()), "rollout", "start", EP, "green", "--steps", "10,100",
             "--interval", "5m", "--config", str(config)],
            env=env, stdout=subprocess.PIPE, stderr=sink, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            poll(lambda: "step 1 of 2" in errors.read_text(), timeout=60, what="the first step")
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130
    assert json.loads(out)["status"] == "paused"
    assert "`flightdeck rollout resume product-recommender` continues it" in errors.read_text()
    assert blue.cli("rollout", "abort", EP, "--config", str(config)).ok().json()["outcome"] == (
        "aborted"
    )
