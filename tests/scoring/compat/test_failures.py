"""Failures both servers must treat alike: run() past SCORING_TIMEOUT_MS, init() raising,
a missing script."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scoring.compat.conftest import code_folder, serve_script
from tests.scoring.compat.servers import ServerPair, launch_fastserve
from tests.scoring.compat.wire import Answer, assert_same, exchange
from tests.support.azmlinfsrv import AzmlinfsrvProcess, free_port, launch_azmlinfsrv
from tests.support.azmlinfsrv import wait_until_exited as wait_exit

pytestmark = pytest.mark.slow(budget=30)

TIMEOUT_MS = 400


@pytest.fixture(scope="module")
def signals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signals")


@pytest.fixture(scope="module")
def slow_pair(
    tmp_path_factory: pytest.TempPathFactory, model_v1: Path, signals: Path
) -> Iterator[ServerPair]:
    pair = serve_script(
        tmp_path_factory, "slow.py", model_v1,
        SCORING_TIMEOUT_MS=str(TIMEOUT_MS), FLIGHTDECK_TEST_SIGNALS=str(signals),
    )  # fmt: skip
    yield pair
    (signals / "release-timeout").touch()
    pair.stop()


def post_text(server: AzmlinfsrvProcess, text: str) -> Answer:
    return exchange(server, "POST", "/score", body=text.encode(),
                    headers={"Content-Type": "text/plain"})  # fmt: skip


def test_run_past_the_timeout_gets_the_same_500(slow_pair: ServerPair, signals: Path) -> None:
    started = time.monotonic()
    azml = post_text(slow_pair.azmlinfsrv, "timeout")
    fast = post_text(slow_pair.fastserve, "timeout")
    assert time.monotonic() - started < 30  # answered at the limit, not when run() ends
    assert (signals / "started-timeout").exists()
    assert azml.status == 500
    assert json.loads(azml.body) == {"message": f"Scoring timeout after {TIMEOUT_MS} ms"}
    assert azml.headers["x-ms-run-function-failed"] == "True"
    assert_same(azml, fast)


def test_run_within_the_timeout_answers(slow_pair: ServerPair, signals: Path) -> None:
    (signals / "release-quick").touch()
    for server in (slow_pair.azmlinfsrv, slow_pair.fastserve):
        answer = post_text(server, "quick")
        assert (answer.status, answer.json()) == (200, {"released": "quick"})


def launch_both(tmp: Path, script: Path, model_dir: Path) -> list[AzmlinfsrvProcess]:
    return [
        launch_azmlinfsrv(entry_script=script, model_dir=model_dir, port=free_port(),
                          log_path=tmp / "azmlinfsrv.log", cwd=script.parent),
        launch_fastserve(entry_script=script, model_dir=model_dir, port=free_port(),
                         log_path=tmp / "fastserve.log", cwd=script.parent),
    ]  # fmt: skip


def test_init_failure_exits_with_3(tmp_path: Path, model_v1: Path) -> None:
    script = code_folder(tmp_path, "failing_init.py") / "failing_init.py"
    azml, fast = launch_both(tmp_path, script, model_v1)
    assert wait_exit(azml, timeout=60) == 3
    assert wait_exit(fast, timeout=60) == 3
    assert "the model cannot be loaded" in fast.log_text()


def test_missing_script_fails_to_start(tmp_path: Path, model_v1: Path) -> None:
    azml, fast = launch_both(tmp_path, tmp_path / "nowhere.py", model_v1)
    assert wait_exit(azml, timeout=60) != 0
    assert wait_exit(fast, timeout=60) == 3
    assert "nowhere.py does not exist" in fast.log_text()
