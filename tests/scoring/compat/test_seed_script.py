"""The product brief's own score.py (cut from ../shared/seed at test time) under both servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scoring.compat.servers import ServerPair, start_pair
from tests.scoring.compat.wire import assert_same, exchange, post_json, without
from tests.support.seed import seed_score_py

pytestmark = pytest.mark.slow(budget=30)

SAME_RESULT = without("latency_ms")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, model_v1: Path) -> Iterator[ServerPair]:
    source = seed_score_py()
    tmp = tmp_path_factory.mktemp("seed")
    script = tmp / "code" / "score.py"
    script.parent.mkdir()
    script.write_text(source, encoding="utf-8")
    started = start_pair(entry_script=script, model_dir=model_v1, tmp=tmp)
    yield started
    started.stop()


@pytest.mark.parametrize(
    "payload",
    [
        {"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]},
        {"data": [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]]},
        {"data": [1, 2, 3, 4, 5]},
        {"data": [[1, 2, 3]]},
        {"data": "not numbers"},
        {"rows": [[1, 2, 3, 4, 5]]},
    ],
    ids=["row", "two-rows", "flat", "narrow", "string", "wrong-key"],
)
def test_seed_answers_agree(pair: ServerPair, payload: object) -> None:
    azml, fast = post_json(pair.azmlinfsrv, payload), post_json(pair.fastserve, payload)
    assert_same(azml, fast, normalise=SAME_RESULT)


def test_seed_scores_a_row(pair: ServerPair) -> None:
    answer = post_json(pair.fastserve, {"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]})
    assert answer.status == 200
    assert answer.json()["batch_size"] == 1
    assert len(answer.json()["predictions"][0]) == 2


@pytest.mark.parametrize("version", ["2", "3", "3.1"])
def test_seed_swagger_agrees(pair: ServerPair, version: str) -> None:
    path = f"/swagger.json?version={version}"
    azml = exchange(pair.azmlinfsrv, "GET", path)
    assert azml.status == 200
    assert_same(azml, exchange(pair.fastserve, "GET", path))
