"""A @rawhttp script and an undecorated one under both servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scoring.compat.conftest import serve_script
from tests.scoring.compat.servers import ServerPair
from tests.scoring.compat.wire import assert_same, exchange

pytestmark = pytest.mark.slow(budget=30)


@pytest.fixture(scope="module")
def raw_pair(tmp_path_factory: pytest.TempPathFactory, model_v1: Path) -> Iterator[ServerPair]:
    pair = serve_script(tmp_path_factory, "raw_http.py", model_v1)
    yield pair
    pair.stop()


@pytest.fixture(scope="module")
def plain_pair(tmp_path_factory: pytest.TempPathFactory, model_v1: Path) -> Iterator[ServerPair]:
    pair = serve_script(tmp_path_factory, "undecorated.py", model_v1)
    yield pair
    pair.stop()


RAW_REQUESTS = [
    ("GET", "/score?a=1&b=x&a=2", None, {}),
    ("GET", "/score", None, {}),
    ("POST", "/score", b'{"k": [1, 2]}', {"Content-Type": "application/json", "X-Custom-Id": "7"}),
    ("POST", "/score", b"\x00\x01binary\xff", {"Content-Type": "application/octet-stream"}),
    ("POST", "/score", b"abcdef", {"X-Echo": "reversed"}),
    ("POST", "/score", b"{}", {"X-Echo": "fail", "Content-Type": "application/json"}),
    ("PUT", "/score", b"x", {}),
    ("OPTIONS", "/score", None, {}),
    ("HEAD", "/score", None, {}),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    RAW_REQUESTS,
    ids=["get-args", "get", "json", "binary", "reversed", "raises", "put", "options", "head"],
)
def test_rawhttp_answers_agree(
    raw_pair: ServerPair, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> None:
    azml = exchange(raw_pair.azmlinfsrv, method, path, body=body, headers=headers)
    fast = exchange(raw_pair.fastserve, method, path, body=body, headers=headers)
    assert_same(azml, fast)


def test_rawhttp_gets_the_request_itself(raw_pair: ServerPair) -> None:
    answer = exchange(raw_pair.fastserve, "POST", "/score", body=b"abcdef",
                      headers={"X-Echo": "reversed"})  # fmt: skip
    assert (answer.status, answer.body) == (201, b"fedcba")
    assert answer.headers["content-type"] == "application/octet-stream"
    listed = exchange(raw_pair.fastserve, "GET", "/score?a=1&a=2")
    assert listed.json() == {"args": {"a": ["1", "2"]}, "path": "/score"}


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [
        ("POST", "/score", b'{"data": [1, 2]}', {"Content-Type": "application/json"}),
        ("POST", "/score", b"a=1&b=2", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", "/score", b"plain words", {"Content-Type": "text/plain"}),
        ("POST", "/score", b"\xff\xfe\xfa", {"Content-Type": "text/plain"}),
        ("GET", "/score?a=1&b=[1,2]&c=x&d=null&a=2", None, {}),
    ],
    ids=["json", "form", "text", "not-utf8", "query"],
)
def test_undecorated_answers_agree(
    plain_pair: ServerPair, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> None:
    azml = exchange(plain_pair.azmlinfsrv, method, path, body=body, headers=headers)
    fast = exchange(plain_pair.fastserve, method, path, body=body, headers=headers)
    assert_same(azml, fast)


def test_undecorated_gets_a_string(plain_pair: ServerPair) -> None:
    answer = exchange(plain_pair.fastserve, "POST", "/score", body=b"[1, 2]",
                      headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.json() == {"type": "str", "raw": "[1, 2]", "parsed": [1, 2]}
