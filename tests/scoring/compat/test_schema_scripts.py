"""Scripts decorated with inference-schema (numpy, standard types, pandas) under both servers.

The server passes the JSON body's keys as run()'s arguments and the decorators convert them;
answers of every kind are compared: results, AMLResponse with its own status and headers,
run() raising (500 with x-ms-run-function-failed), an output that is not JSON (500), and
request headers passed to run().
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scoring.compat.conftest import serve_script
from tests.scoring.compat.servers import ServerPair
from tests.scoring.compat.wire import assert_same, exchange, post_json

pytestmark = pytest.mark.slow(budget=30)


@pytest.fixture(scope="module")
def numpy_pair(tmp_path_factory: pytest.TempPathFactory, model_v1: Path) -> Iterator[ServerPair]:
    pair = serve_script(tmp_path_factory, "numpy_schema.py", model_v1)
    yield pair
    pair.stop()


@pytest.fixture(scope="module")
def standard_pair(tmp_path_factory: pytest.TempPathFactory, model_v1: Path) -> Iterator[ServerPair]:
    pair = serve_script(tmp_path_factory, "standard_schema.py", model_v1)
    yield pair
    pair.stop()


@pytest.mark.parametrize(
    "payload",
    [
        {"data": [[1, 2, 3]]},
        {"data": [[1, 2, 3], [4, 5, 6]]},
        {"data": [[1, 2]]},
        {"data": "text"},
        {"other": 1},
    ],
    ids=["row", "rows", "wrong-shape", "string", "missing"],
)
def test_numpy_answers_agree(numpy_pair: ServerPair, payload: object) -> None:
    azml = post_json(numpy_pair.azmlinfsrv, payload)
    assert_same(azml, post_json(numpy_pair.fastserve, payload))


def test_numpy_converts_the_input(numpy_pair: ServerPair) -> None:
    answer = post_json(numpy_pair.fastserve, {"data": [[1, 2, 3], [4, 5, 6]]})
    assert answer.status == 200
    assert answer.json() == {"sums": [6.0, 15.0], "shape": [2, 3]}


def test_numpy_get_and_swagger_agree(numpy_pair: ServerPair) -> None:
    for path in ("/score?data=[[1,2,3]]", "/swagger.json", "/swagger.json?version=3"):
        assert_same(exchange(numpy_pair.azmlinfsrv, "GET", path),
                    exchange(numpy_pair.fastserve, "GET", path))  # fmt: skip


@pytest.mark.parametrize("name", ["world", "fail", "teapot", "down", "unserialisable", "text"])
def test_standard_answers_agree(standard_pair: ServerPair, name: str) -> None:
    payload = {"name": name, "count": 2}
    azml = post_json(standard_pair.azmlinfsrv, payload, **{"X-Custom-Id": "abc"})
    fast = post_json(standard_pair.fastserve, payload, **{"X-Custom-Id": "abc"})
    assert_same(azml, fast)


def test_standard_run_failure_is_flagged(standard_pair: ServerPair) -> None:
    answer = post_json(standard_pair.fastserve, {"name": "fail"})
    assert answer.status == 500
    assert answer.headers["x-ms-run-function-failed"] == "True"
    assert "run() was asked to fail" in standard_pair.fastserve.log_text()


def test_standard_passes_headers_and_defaults(standard_pair: ServerPair) -> None:
    answer = post_json(standard_pair.fastserve, {"name": "you"}, **{"X-Custom-Id": "abc"})
    assert answer.json() == {
        "greeting": "hello you",
        "custom": "abc",
        "content_type": "application/json",
    }
    missing = post_json(standard_pair.fastserve, {"count": 1})
    assert (missing.status, missing.json()) == (
        400, {"message": "A value is not provided for the 'name' parameter."}
    )  # fmt: skip


def test_standard_aml_response_keeps_status_and_headers(standard_pair: ServerPair) -> None:
    answer = post_json(standard_pair.fastserve, {"name": "teapot"})
    assert answer.status == 418
    assert answer.headers["x-custom"] == "a, b"
    assert answer.headers["x-ms-run-function-failed"] == "False"
    down = post_json(standard_pair.fastserve, {"name": "down"})
    assert (down.status, down.headers["x-ms-run-function-failed"]) == (503, "True")


@pytest.mark.parametrize("version", ["2", "3", "3.1"])
def test_standard_swagger_agrees(standard_pair: ServerPair, version: str) -> None:
    path = f"/swagger.json?version={version}"
    assert_same(exchange(standard_pair.azmlinfsrv, "GET", path),
                exchange(standard_pair.fastserve, "GET", path))  # fmt: skip


def test_pandas_answers_agree(tmp_path_factory: pytest.TempPathFactory, model_v1: Path) -> None:
    if importlib.util.find_spec("pandas") is None:
        pytest.fail("pandas is not installed: it is a dev dependency (pip install -e '.[dev]')")
    pair = serve_script(tmp_path_factory, "pandas_schema.py", model_v1)
    try:
        payload = {"data": [{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 4.0}]}
        assert_same(post_json(pair.azmlinfsrv, payload), post_json(pair.fastserve, payload))
        for path in ("/swagger.json", "/swagger.json?version=3"):
            assert_same(exchange(pair.azmlinfsrv, "GET", path),
                        exchange(pair.fastserve, "GET", path))  # fmt: skip
    finally:
        pair.stop()
