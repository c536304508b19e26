"""``flightdeck loadtest`` through the real entry point, against the local daemon.

One daemon for the module (tmp home, free ports) serving the sample endpoint with a
blue deployment at 100%. Small bounded runs: a closed loop with its summary and chart,
an open loop as JSON with the deployment header and a request file, a cap from the
config refused, a non-loopback target refused, Ctrl-C printing partial results, the
progress bar drawn when stderr is a terminal.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
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
    write_request,
)

pytestmark = pytest.mark.slow(budget=60)

EP = "product-recommender"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    root = tmp_path_factory.mktemp("cli-loadtest")
    specs = root / "specs"
    specs.mkdir()
    with local_platform(root / "home") as running:
        running.cli("online-endpoint", "create", "--file", str(write_endpoint(specs))).ok()
        # Up to 8 requests at once on the instance (the test helper's default is 1).
        settings = {"max_concurrent_requests_per_instance": 8, "request_timeout_ms": 5000}
        blue = write_deployment(specs, request_settings=settings)
        running.cli("online-deployment", "create", "--file", str(blue), "--all-traffic").ok()
        yield running


def test_closed_loop_prints_the_summary_and_saves_the_chart(
    platform: LocalPlatform, tmp_path: Path
) -> None:
    chart = tmp_path / "chart.png"
    result = platform.cli(
        "loadtest", EP, "--requests", "50", "--concurrency", "5", "--chart", str(chart)
    ).ok()
    out = result.stdout
    assert f"{EP}/score  (closed loop, 50 requests, concurrency 5)" in out, out
    assert "sent 50, completed 50, ok 50, errors 0" in out, out
    assert "P50" in out and "P99.9" in out
    assert "  200" in out  # responses by status
    # Not a terminal: progress comes as lines on stderr (the last one with every request).
    assert "sent 50  ok 50  errors 0" in result.stderr, result.stderr
    assert chart.read_bytes().startswith(PNG_MAGIC)


def test_open_loop_as_json_with_deployment_and_request_file(
    platform: LocalPlatform, tmp_path: Path
) -> None:
    request = write_request(tmp_path)
    result = platform.cli(
        "loadtest",
        EP,
        "--rate", "40",
        "--duration", "1s",
        "--deployment", "blue",
        "--request-file", str(request),
        "--json",
    ).ok()  # fmt: skip
    data = json.loads(result.stdout)
    plan = data["plan"]
    assert (plan["mode"], plan["rate"], plan["duration_s"]) == ("open", 40, 1)
    assert plan["deployment"] == "blue"
    assert plan["body_bytes"] == len(request.read_bytes())
    assert plan["url"] == platform.scoring_uri(EP)
    assert data["sent"] == 40 and data["ok"] == 40 and data["errors"] == 0
    assert data["status_counts"] == {"200": 40}
    assert data["cancelled"] is False
    latency = data["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert set(data) >= {"late_sends", "dropped_sends", "timeline", "throughput_rps"}


def test_a_plan_over_the_configured_cap_is_refused(platform: LocalPlatform, tmp_path: Path) -> None:
    config = tmp_path / "flightdeck.yml"
    config.write_text("loadtest:\n  max_requests: 100\n  max_concurrency: 8\n")
    result = platform.cli("loadtest", EP, "--requests", "1000", "--config", str(config))
    assert result.error_line() == (
        "ERROR: --requests 1000 is above the configured limit of 100."
    ), result.stderr
    assert result.stdout == ""
    env = {"FLIGHTDECK_CONFIG": str(config)}
    result = platform.cli("loadtest", EP, "--requests", "10", "--concurrency", "9", env=env)
    assert "--concurrency 9 is above the configured limit of 8" in result.error_line()
    config.write_text("loadtest:\n  max_duration: 1m\n")
    result = platform.cli(
        "loadtest", EP, "--rate", "1", "--duration", "2m", "--config", str(config)
    )
    assert "--duration 2m is above the configured limit of 1m" in result.error_line(), result.stderr


def test_mixed_modes_and_a_missing_request_file_are_named(
    platform: LocalPlatform, tmp_path: Path
) -> None:
    both = platform.cli("loadtest", EP, "--requests", "10", "--rate", "5", "--duration", "1")
    assert "not both" in both.error_line()
    missing = platform.cli("loadtest", EP, "--request-file", str(tmp_path / "nope.json"))
    assert "nope.json does not exist" in missing.error_line()
    bad = platform.cli("loadtest", EP, "--rate", "5", "--duration", "5 mins")
    assert "`--duration`: '5 mins' is not a duration" in bad.error_line(), bad.stderr
    unknown = platform.cli("loadtest", "no-such-endpoint", "--requests", "5")
    assert "no-such-endpoint" in unknown.error_line()


def test_a_non_loopback_target_is_refused_with_the_local_backend(
    platform: LocalPlatform,
) -> None:
    result = platform.cli(
        "loadtest", EP, "--requests", "5", "--scoring-uri", "http://192.0.2.10/product/score"
    )
    line = result.error_line()
    assert "192.0.2.10" in line and "loopback" in line, line


def test_ctrl_c_stops_the_run_and_prints_partial_results(
    platform: LocalPlatform, tmp_path: Path
) -> None:
    env = {**os.environ, "FLIGHTDECK_HOME": str(platform.home)}
    env.pop("FLIGHTDECK_BACKEND", None)
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [str(flightdeck_script()), "loadtest", EP, "--rate", "20", "--duration", "60"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            poll(lambda: " sent " in stderr_path.read_text(), timeout=60, what="progress")
            process.send_signal(signal.SIGINT)
            stdout, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    shown = stderr_path.read_text()
    assert process.returncode == 130, (stdout, shown)
    assert "Cancelled after" in stdout and "partial results" in stdout, stdout
    assert "(open loop, 20 req/s for 60s" in stdout
    assert "Stopping the load test (Ctrl-C): partial results follow." in shown, shown


def _read_until_closed(fd: int, *, timeout: float) -> bytes:
    """Everything written to a pty's slave side until every writer closed it (or timeout)."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the slave side is closed on Linux
            break
        if not chunk:
            break
        chunks.append(chunk)
    else:
        pytest.fail(f"the terminal stayed open for {timeout:.0f} s: {b''.join(chunks)!r}")
    return b"".join(chunks)


def test_a_terminal_gets_a_progress_bar(platform: LocalPlatform) -> None:
    env = {**os.environ, "FLIGHTDECK_HOME": str(platform.home), "TERM": "xterm"}
    env.pop("FLIGHTDECK_BACKEND", None)
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(flightdeck_script()), "loadtest", EP, "--requests", "40", "--concurrency", "4"],
            stdout=subprocess.PIPE,
            stderr=slave,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(slave)
        slave = -1
        try:
            terminal = _read_until_closed(master, timeout=120).decode(errors="replace")
            stdout, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert process.returncode == 0, (stdout, terminal)
    # Redrawn in place (carriage return, erase to the end of the line), full at the end.
    assert "\r[###" in terminal, terminal
    assert "\x1b[K" in terminal, terminal
    assert "] 100% " in terminal and "sent 40  ok 40  errors 0" in terminal, terminal
    text = stdout.decode()
    assert "[#" not in text and "sent 40, completed 40, ok 40, errors 0" in text, text
