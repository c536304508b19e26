"""The project's score.py under both servers, served from a copy of scoring/ alone.

fastserve runs from the copy's own fastserve/ folder, as it would from a deployment's code
folder. Also here: the routes and headers every script gets (liveness, 404/405, OPTIONS,
request ids, swagger versions).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scoring.compat.servers import ServerPair, start_pair
from tests.scoring.compat.wire import assert_same, exchange, post_json, without
from tests.scoring.helpers import copy_scoring_alone

pytestmark = pytest.mark.slow(budget=30)

SAME_RESULT = without("latency_ms")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, model_v1: Path) -> Iterator[ServerPair]:
    tmp = tmp_path_factory.mktemp("project")
    script = copy_scoring_alone(tmp / "code")
    started = start_pair(
        entry_script=script, model_dir=model_v1, tmp=tmp, fastserve_dir=script.parent / "fastserve"
    )
    yield started
    started.stop()


def both(pair: ServerPair, method: str, path: str, **kwargs: object) -> None:
    azml = exchange(pair.azmlinfsrv, method, path, **kwargs)  # type: ignore[arg-type]
    fast = exchange(pair.fastserve, method, path, **kwargs)  # type: ignore[arg-type]
    assert_same(azml, fast, normalise=SAME_RESULT)


def test_fastserve_runs_from_the_copied_folder(pair: ServerPair) -> None:
    log = pair.fastserve.log_text()
    assert "Found user script at" in log and "/code/score.py" in log
    assert "Loaded ONNX model" in log


@pytest.mark.parametrize(
    "payload",
    [
        {"data": [[1, 2, 3, 4, 5]]},
        {"data": [1, 2, 3, 4, 5]},
        {"data": [[1, 2, 3, 4, 5], [0.5, 0, 1.25, 2, 0], [-1, 3, 0, 0, 7]]},
    ],
    ids=["one-row-batch", "single-row", "three-rows"],
)
def test_scores_agree(pair: ServerPair, payload: object) -> None:
    azml, fast = post_json(pair.azmlinfsrv, payload), post_json(pair.fastserve, payload)
    assert azml.status == 200 and len(azml.json()["predictions"]) >= 1
    assert_same(azml, fast, normalise=SAME_RESULT)


@pytest.mark.parametrize(
    "payload",
    [{}, {"data": "x"}, {"data": [[1, 2, 3]]}, {"data": [[1, 2, 3, 4, "five"]]}, {"data": []}],
    ids=["no-data", "string", "narrow", "not-a-number", "empty"],
)
def test_bad_bodies_get_the_same_400(pair: ServerPair, payload: object) -> None:
    azml, fast = post_json(pair.azmlinfsrv, payload), post_json(pair.fastserve, payload)
    assert azml.status == 400 and "message" in azml.json()
    assert_same(azml, fast)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"data": [[1, 2, 3, 4, 5]]}', None),
        (b'{"data": [[1, 2, 3, 4, 5]]}', "text/plain"),
        (b'{"data": [[1, 2, 3, 4, 5]]}', "application/vnd.flightdeck+json"),
        (b"", "application/json"),
        (b"not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"data": "\xe9"}', "application/json"),
    ],
    ids=["no-type", "text", "vendor-json", "empty", "not-json", "array", "bad-utf8"],
)
def test_body_parsing_agrees(pair: ServerPair, body: bytes, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    both(pair, "POST", "/score", body=body, headers=headers)


def test_expect_100_continue_is_answered(pair: ServerPair) -> None:
    body = json.dumps({"data": [[1, 2, 3, 4, 5]] * 200}).encode()  # large: curl would Expect
    headers = {"Content-Type": "application/json", "Expect": "100-continue"}
    azml = exchange(pair.azmlinfsrv, "POST", "/score", body=body, headers=headers)
    assert azml.status == 200 and azml.json()["batch_size"] == 200
    assert_same(azml, exchange(pair.fastserve, "POST", "/score", body=body, headers=headers),
                normalise=SAME_RESULT)  # fmt: skip


def test_get_score_parses_the_query(pair: ServerPair) -> None:
    both(pair, "GET", "/score?data=[[1,2,3,4,5]]")
    both(pair, "GET", "/score")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("HEAD", "/"),
        ("POST", "/"),
        ("GET", "/nope"),
        ("GET", "/score/"),
        ("PUT", "/score"),
        ("DELETE", "/score"),
        ("OPTIONS", "/score"),
        ("HEAD", "/score"),
        ("POST", "/swagger.json"),
    ],
)
def test_routes_agree(pair: ServerPair, method: str, path: str) -> None:
    both(pair, method, path)


def test_liveness_says_healthy(pair: ServerPair) -> None:
    answer = exchange(pair.fastserve, "GET", "/")
    assert (answer.status, answer.body) == (200, b"Healthy")
    assert answer.headers["x-ms-request-id"] == answer.headers["x-request-id"]


@pytest.mark.parametrize(
    "headers",
    [
        {"x-request-id": "req-1"},
        {"x-request-id": "req-1", "x-ms-request-id": "legacy-1"},
        {"x-request-id": "req-1", "x-ms-client-request-id": "client-1"},
        {"x-request-id": "req-1", "x-ms-request-id": "legacy-1", "x-ms-client-request-id": "c-1"},
        {"x-request-id": "r" * 101},
        {"x-request-id": "req-1", "x-ms-client-request-id": "c" * 101},
        {"x-request-id": "req-1", "TraceId": "trace-7"},
    ],
    ids=["request", "legacy", "client", "all", "long-request", "long-client", "trace"],
)
def test_request_id_headers_agree(pair: ServerPair, headers: dict[str, str]) -> None:
    sent = {"Content-Type": "application/json", **headers}
    body = b'{"data": [1, 2, 3, 4, 5]}'
    azml = exchange(pair.azmlinfsrv, "POST", "/score", body=body, headers=sent)
    fast = exchange(pair.fastserve, "POST", "/score", body=body, headers=sent)
    assert_same(azml, fast, normalise=SAME_RESULT)
    assert fast.headers.get("x-request-id") == azml.headers.get("x-request-id")


@pytest.mark.parametrize("version", [None, "2", "2.0", "3", "3.0", "3.1", "7"])
def test_swagger_agrees(pair: ServerPair, version: str | None) -> None:
    path = "/swagger.json" if version is None else f"/swagger.json?version={version}"
    azml = exchange(pair.azmlinfsrv, "GET", path)
    assert azml.status == (404 if version == "7" else 200)
    assert_same(azml, exchange(pair.fastserve, "GET", path))
