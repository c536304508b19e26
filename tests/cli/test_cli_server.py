"""``online-deployment create|update --server``: the local platform's inference server, through
the real ``flightdeck`` entry point and a daemon (a tmp home, free ports)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from samples.product_recommender import reference_predict
from tests.support.flightdeck_cli import (
    ROW,
    LocalPlatform,
    local_platform,
    write_deployment,
    write_endpoint,
    write_request,
)

pytestmark = pytest.mark.slow(budget=90)

EP = "product-recommender"


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-server-specs")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, specs: Path) -> Iterator[LocalPlatform]:
    with local_platform(tmp_path_factory.mktemp("cli-server") / "home") as started:
        started.cli("online-endpoint", "create", "--file", str(write_endpoint(specs))).ok()
        yield started


def _server_lines(platform: LocalPlatform) -> tuple[bool, bool]:
    """Whether blue's log shows fastserve's lines, and azmlinfsrv's banner."""
    logs = platform.cli("online-deployment", "get-logs", "-n", "blue", "-e", EP, "-l", "400")
    text = logs.ok().stdout
    return " fastserve - Listening on" in text, "Worker Count: 1" in text


def _scores(platform: LocalPlatform, specs: Path) -> None:
    request = write_request(specs)
    # As az ml: the model's answer as a JSON string.
    answer = platform.cli("online-endpoint", "invoke", "-n", EP, "-r", str(request)).ok().json()
    expected = reference_predict("v1", np.array([ROW], dtype=np.float32))
    np.testing.assert_allclose(np.array(json.loads(answer)["predictions"]), expected, rtol=1e-5)


def test_create_and_update_pick_the_server(platform: LocalPlatform, specs: Path) -> None:
    spec = str(write_deployment(specs))
    created = platform.cli(
        "online-deployment", "create", "--file", spec, "--all-traffic", "--server", "fast"
    )
    assert created.ok().json()["environment_variables"] == {
        "WORKER_COUNT": "1",
        "FLIGHTDECK_SERVER": "fast",
    }
    assert _server_lines(platform) == (True, False)
    _scores(platform, specs)
    updated = platform.cli("online-deployment", "update", "-f", spec, "--server", "azmlinfsrv")
    assert updated.ok().json()["environment_variables"]["FLIGHTDECK_SERVER"] == "azmlinfsrv"
    assert _server_lines(platform)[1]  # the new generation's instance: azmlinfsrv's banner


def test_bad_server_options_change_nothing(platform: LocalPlatform, specs: Path) -> None:
    spec = str(write_deployment(specs, name="green"))
    before = platform.cli("online-deployment", "list", "-e", EP).ok().stdout
    refused = platform.cli("online-deployment", "create", "--file", spec, "--server", "turbo")
    assert refused.code == 2 and "invalid choice: 'turbo'" in refused.stderr
    scale = ("online-deployment", "update", "-n", "blue", "-e", EP, "--set", "instance_count=2")
    error = platform.cli(*scale, "--server", "fast").error_line()
    assert "--server changes the deployment's spec: give it with --file F" in error
    # The variable itself, set in the YAML (or with --set), is checked by the platform.
    bad = platform.cli(
        "online-deployment",
        "create",
        "-f",
        spec,
        "--set",
        "environment_variables.FLIGHTDECK_SERVER=x",
    ).error_line()
    assert "FLIGHTDECK_SERVER must be azmlinfsrv or fast, not 'x'" in bad
    assert platform.cli("online-deployment", "list", "-e", EP).ok().stdout == before
