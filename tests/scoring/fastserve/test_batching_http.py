"""Micro-batching through fastserve over HTTP: concurrent requests share model runs, and each
caller still gets its own rows' predictions.

fastserve runs the project's score.py on the sample model with WORKER_COUNT threads and
FLIGHTDECK_BATCH_MAX_ROWS=16, FLIGHTDECK_BATCH_MAX_WAIT_MS=50. scoring/batching.py logs that
it is on, but keeps its run counter in process (nothing per batch reaches the log or the
answer), so coalescing is read from the answers' ``latency_ms`` (score.py times predict(),
the batcher's wait included): a call that runs alone waits the full 50 ms for company,
so a call answered in clearly less shared its run with others (it joined one, or its own
filled up to 16 rows). Without batching the model answers in well under a millisecond,
which is why the log line is checked first.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.scoring.compat.servers import start_fastserve
from tests.scoring.helpers import SCORING_DIR
from tests.support.azmlinfsrv import HOST, AzmlinfsrvProcess

pytestmark = pytest.mark.slow(budget=30)

MAX_ROWS = 16
WAIT_MS = 50
BATCHING = {
    "FLIGHTDECK_BATCH_MAX_ROWS": str(MAX_ROWS),
    "FLIGHTDECK_BATCH_MAX_WAIT_MS": str(WAIT_MS),
}
#: Rows per concurrent request: 16 in all, so one coalesced run is exactly full.
SIZES = [1, 2, 3, 1, 2, 3, 1, 2, 1]
ATTEMPTS = 5


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, sample_models: Path
) -> Iterator[AzmlinfsrvProcess]:
    tmp = tmp_path_factory.mktemp("fastserve-batching")
    started = start_fastserve(
        entry_script=SCORING_DIR / "score.py", model_dir=sample_models / "model-v1",
        log_path=tmp / "fastserve.log", worker_count=MAX_ROWS, cwd=SCORING_DIR, env=BATCHING,
    )  # fmt: skip
    yield started
    started.stop()


def sample_rows(count: int) -> list[list[float]]:
    """Distinct rows of the sample model's five features."""
    return [[float(i), i / 2, 1.0 - i / 10, (i % 3) * 1.5, 2.0] for i in range(count)]


def score(connection: http.client.HTTPConnection, rows: list[list[float]]) -> dict[str, Any]:
    body = json.dumps({"data": rows}).encode()
    connection.request("POST", "/score", body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    assert response.status == 200, data
    answer: dict[str, Any] = json.loads(data)
    return answer


def alone(server: AzmlinfsrvProcess, rows: list[list[float]]) -> dict[str, Any]:
    connection = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        return score(connection, rows)
    finally:
        connection.close()


def at_once(server: AzmlinfsrvProcess, requests: list[list[list[float]]]) -> list[dict[str, Any]]:
    """Send every request at the same moment, each on its own connection, opened beforehand."""
    connections = [http.client.HTTPConnection(HOST, server.port, timeout=30) for _ in requests]
    for connection in connections:
        connection.connect()
    start = threading.Barrier(len(requests))
    answers: list[dict[str, Any] | None] = [None] * len(requests)
    failures: list[BaseException] = []

    def send(index: int) -> None:
        try:
            start.wait(timeout=30)
            answers[index] = score(connections[index], requests[index])
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for connection in connections:
        connection.close()
    assert not failures, failures
    assert all(answer is not None for answer in answers), "a request did not finish"
    return [answer for answer in answers if answer is not None]


def test_the_batcher_is_on(server: AzmlinfsrvProcess) -> None:
    assert f"micro-batching on: batching={MAX_ROWS} rows/{WAIT_MS:.1f} ms" in server.log_text()


def test_a_lone_request_waits_for_company(server: AzmlinfsrvProcess) -> None:
    answer = alone(server, sample_rows(1))
    assert answer["batch_size"] == 1
    assert answer["latency_ms"] >= WAIT_MS * 0.9  # the batcher waited (almost) 50 ms for more


def test_concurrent_requests_share_runs_and_get_their_own_predictions(
    server: AzmlinfsrvProcess,
) -> None:
    rows = sample_rows(sum(SIZES))
    requests, offset = [], 0
    for size in SIZES:
        requests.append(rows[offset : offset + size])
        offset += size
    # Each request on its own first: what its rows' predictions are.
    expected = [alone(server, request)["predictions"] for request in requests]
    singles = [alone(server, [row])["predictions"][0] for row in rows[:3]]
    np.testing.assert_allclose(np.concatenate(expected[:2]), singles, rtol=1e-6)

    shared: list[float] = []
    for _ in range(ATTEMPTS):  # a busy machine may spread the sends over more than 50 ms
        answers = at_once(server, requests)
        for answer, request, want in zip(answers, requests, expected, strict=True):
            assert answer["batch_size"] == len(request)
            assert len(answer["predictions"]) == len(request)
            np.testing.assert_allclose(answer["predictions"], want, rtol=1e-6)
        shared = [a["latency_ms"] for a in answers if a["latency_ms"] < WAIT_MS * 0.8]
        if len(shared) >= 2:
            break
    latencies = sorted(a["latency_ms"] for a in answers)
    assert len(shared) >= 2, f"no two calls shared a run in {ATTEMPTS} tries: {latencies} ms"
