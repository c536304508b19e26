"""``FASTSERVE_INLINE = "alone"``: requests that come alone or a few together run on the
event loop; a crowd ready together (or requests that come while others run) goes to the
worker threads, where a batching run() can coalesce them; after a run of quiet turns, requests run
at once and a crowd brings the gathering back. Then the project's score.py under fastserve
with its defaults, on the MLP: micro-batching on, each caller answered with its own rows.

The module's server sees fewer than SETTLE_TURNS quiet turns in all: it never settles."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastserve.app import CROWD, SETTLE_TURNS

from samples import mlp_ranker
from tests.scoring.compat.conftest import code_folder
from tests.scoring.compat.servers import start_fastserve
from tests.scoring.helpers import SCORING_DIR
from tests.support.azmlinfsrv import HOST, AzmlinfsrvProcess

pytestmark = pytest.mark.slow(budget=40)

DEADLINE_S = 30


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, sample_models: Path
) -> Iterator[AzmlinfsrvProcess]:
    tmp = tmp_path_factory.mktemp("inline-alone")
    script = code_folder(tmp, "inline_alone.py") / "inline_alone.py"
    started = start_fastserve(
        entry_script=script, model_dir=sample_models / "model-v1", log_path=tmp / "fastserve.log",
        cwd=script.parent, worker_count=CROWD,
    )  # fmt: skip
    yield started
    started.stop()


def connect(server: AzmlinfsrvProcess) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(HOST, server.port, timeout=DEADLINE_S)
    connection.connect()
    return connection


def send(connection: http.client.HTTPConnection, body: str) -> None:
    connection.request("POST", "/score", body=body.encode())


def receive(connection: http.client.HTTPConnection) -> dict[str, Any]:
    response = connection.getresponse()
    data = response.read()
    assert response.status == 200, data
    answer: dict[str, Any] = json.loads(data)
    return answer


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_lone_request_runs_on_the_event_loop(server: AzmlinfsrvProcess) -> None:
    assert "declares FASTSERVE_INLINE = 'alone'" in server.log_text()
    connection = connect(server)
    try:
        for text in ("one", "two"):
            send(connection, text)
            assert receive(connection) == {"thread": "MainThread", "raw": text}
    finally:
        connection.close()


def burst(server: AzmlinfsrvProcess, folder: Path, together: int) -> list[str]:
    """One request holds the loop while ``together`` more queue; the threads that ran those."""
    folder.mkdir()
    holder, others = connect(server), [connect(server) for _ in range(together)]
    try:
        for connection in others:  # accepted and read by the server before the loop is held
            connection.request("GET", "/")
            assert connection.getresponse().read() == b"Healthy"
        send(holder, f"hold:{folder}")  # runs alone, on the loop, and holds it
        wait_for((folder / "holding").exists, "the first run() to hold the loop")
        for index, connection in enumerate(others):
            send(connection, f"together-{index}")  # queued in the kernel: the loop is held
        (folder / "release").write_text("")
        assert receive(holder)["thread"] == "MainThread"
        return [receive(connection)["thread"] for connection in others]
    finally:
        for connection in (holder, *others):
            connection.close()


def test_a_crowd_ready_together_goes_to_the_threads(
    server: AzmlinfsrvProcess, tmp_path: Path
) -> None:
    threads = burst(server, tmp_path / "burst", CROWD)
    assert all(name.startswith("run-") for name in threads), threads


def test_a_few_ready_together_run_on_the_loop_one_after_another(
    server: AzmlinfsrvProcess, tmp_path: Path
) -> None:
    threads = burst(server, tmp_path / "few", CROWD - 1)
    assert threads == ["MainThread"] * (CROWD - 1), threads


def test_after_quiet_turns_requests_run_at_once_until_a_crowd_comes(
    tmp_path: Path, sample_models: Path
) -> None:
    script = code_folder(tmp_path, "inline_alone.py") / "inline_alone.py"
    served = start_fastserve(
        entry_script=script, model_dir=sample_models / "model-v1",
        log_path=tmp_path / "fastserve.log", cwd=script.parent, worker_count=CROWD,
    )  # fmt: skip
    try:
        connection = connect(served)
        try:
            for index in range(SETTLE_TURNS):
                send(connection, f"lone-{index}")
                assert receive(connection)["thread"] == "MainThread"
        finally:
            connection.close()
        # Settled: in the turn after the holder's, the first CROWD - 1 requests run at once, on
        # the loop; the one that makes a crowd, and any after it, go to the threads.
        threads = burst(served, tmp_path / "settled", CROWD)
        on_threads = [name for name in threads if name.startswith("run-")]
        assert threads.count("MainThread") == CROWD - 1 and len(on_threads) == 1, threads
        # The crowd ended the settled spell: the next crowd is gathered whole, to the threads.
        threads = burst(served, tmp_path / "gathering", CROWD)
        assert all(name.startswith("run-") for name in threads), threads
    finally:
        served.stop()


def test_score_py_batches_by_default_under_fastserve_and_answers_each_caller(
    tmp_path: Path,
) -> None:
    model_dir = tmp_path / "mlp"
    mlp_ranker.write_model(model_dir)
    served = start_fastserve(
        entry_script=SCORING_DIR / "score.py", model_dir=model_dir,
        log_path=tmp_path / "fastserve.log", worker_count=16, cwd=SCORING_DIR,
    )  # fmt: skip
    try:
        log = served.log_text()
        assert "micro-batching on: batching=64 rows/0.0 ms" in log
        assert "declares FASTSERVE_INLINE = 'alone'" in log
        rows = mlp_ranker.example_rows(16)
        answers: list[Any] = [None] * len(rows)
        start = threading.Barrier(len(rows))

        def call(index: int) -> None:
            connection = connect(served)
            try:
                start.wait(timeout=DEADLINE_S)
                connection.request("POST", "/score", body=json.dumps(
                    {"data": rows[index : index + 1].tolist()}),
                    headers={"Content-Type": "application/json"})  # fmt: skip
                answers[index] = receive(connection)["predictions"]
            finally:
                connection.close()

        callers = [threading.Thread(target=call, args=(i,)) for i in range(len(rows))]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=DEADLINE_S)
        expected = mlp_ranker.reference_predict(rows)
        for index, answer in enumerate(answers):
            assert answer is not None, f"caller {index} got no answer"
            np.testing.assert_allclose(answer, expected[index : index + 1], rtol=1e-4, atol=1e-6)
    finally:
        served.stop()
