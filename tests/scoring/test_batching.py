"""scoring/batching.py: concurrent calls coalesced into one run, each caller answered with its
own rows; what cannot be stacked is not; errors reach every caller of the batch. With no wait
(the default), a lone call runs at once in its own thread and only calls that queue are
coalesced; the defaults follow the server (on under fastserve's threads, off otherwise)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from batching import BatchingError, BatchSettings, MicroBatcher
from numpy.typing import NDArray
from onnx_session import load_model
from scoring_errors import ModelLoadError

from samples import mlp_ranker, product_recommender

CALLERS = 8


class Recorder:
    """A fake model run: doubles the rows and sums them; records the batch sizes it saw."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, rows: NDArray[Any]) -> list[NDArray[Any]]:
        self.sizes.append(len(rows))
        return [rows * 2, rows.sum(axis=1)]


def call_together(batcher: MicroBatcher, inputs: list[NDArray[Any]]) -> list[Any]:
    """Call ``batcher.run`` from one thread per input, all released at once."""
    start = threading.Barrier(len(inputs))
    results: list[Any] = [None] * len(inputs)

    def call(index: int) -> None:
        start.wait()
        try:
            results[index] = batcher.run(inputs[index])
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def rows(index: int, width: int = 3, count: int = 1) -> NDArray[np.float32]:
    return np.full((count, width), float(index), dtype=np.float32)


def test_concurrent_calls_share_one_run_and_get_their_own_rows() -> None:
    model = Recorder()
    batcher = MicroBatcher(run_batch=model, max_rows=CALLERS * 2, max_wait_s=5.0)
    inputs = [rows(i, count=2) for i in range(CALLERS)]
    results = call_together(batcher, inputs)
    assert model.sizes == [CALLERS * 2]  # full at once: no waiting for the 5 s deadline
    for index, outputs in enumerate(results):
        assert np.array_equal(outputs[0], inputs[index] * 2)
        assert np.array_equal(outputs[1], inputs[index].sum(axis=1))


def test_batches_stop_at_max_rows() -> None:
    model = Recorder()
    batcher = MicroBatcher(run_batch=model, max_rows=3, max_wait_s=0.05)
    results = call_together(batcher, [rows(i) for i in range(CALLERS)])
    assert sum(model.sizes) == CALLERS and max(model.sizes) <= 3
    assert all(float(out[0][0, 0]) == 2 * i for i, out in enumerate(results))


def test_rows_of_different_widths_are_not_stacked() -> None:
    model = Recorder()
    batcher = MicroBatcher(run_batch=model, max_rows=100, max_wait_s=0.05)
    inputs = [rows(i, width=3 if i % 2 else 4) for i in range(CALLERS)]
    results = call_together(batcher, inputs)
    for index, outputs in enumerate(results):
        assert outputs[0].shape == inputs[index].shape
        assert np.array_equal(outputs[0], inputs[index] * 2)


def test_an_output_without_the_batch_dimension_fails_that_batch() -> None:
    batcher = MicroBatcher(
        run_batch=lambda batch: [batch.sum()], max_rows=CALLERS, max_wait_s=5.0
    )  # fmt: skip
    results = call_together(batcher, [rows(i) for i in range(CALLERS)])
    assert all(isinstance(result, BatchingError) for result in results)
    assert "unset FLIGHTDECK_BATCH_MAX_ROWS" in str(results[0])


def test_a_failing_run_reaches_every_caller_and_the_next_batch_runs() -> None:
    calls = {"n": 0}

    def flaky(batch: NDArray[Any]) -> list[NDArray[Any]]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("model failed")
        return [batch]

    batcher = MicroBatcher(run_batch=flaky, max_rows=CALLERS, max_wait_s=5.0)
    failed = call_together(batcher, [rows(i) for i in range(CALLERS)])
    assert all(isinstance(result, RuntimeError) for result in failed)
    again = call_together(batcher, [rows(i) for i in range(CALLERS)])
    assert all(np.array_equal(out[0], rows(i)) for i, out in enumerate(again))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_a_lone_call_runs_at_once_in_its_own_thread() -> None:
    seen: list[int] = []

    def model(batch: NDArray[Any]) -> list[NDArray[Any]]:
        seen.append(threading.get_ident())
        return [batch * 2]

    batcher = MicroBatcher(run_batch=model, max_rows=64, max_wait_s=0.0)
    for index in range(3):
        assert np.array_equal(batcher.run(rows(index))[0], rows(index) * 2)
    assert seen == [threading.get_ident()] * 3  # never handed to the batcher's thread
    assert (batcher.lone_runs, batcher.batches) == (3, 0)


@pytest.fixture(scope="module")
def mlp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mlp")
    mlp_ranker.write_model(folder)
    return folder


def test_calls_that_queue_behind_a_run_are_coalesced_on_the_mlp(mlp_dir: Path) -> None:
    session = load_model({"AZUREML_MODEL_DIR": str(mlp_dir)}).session
    entered: list[int] = []  # rows of each run, in the order the runs began
    release = threading.Event()

    def gated(batch: NDArray[Any]) -> list[NDArray[Any]]:
        entered.append(len(batch))
        release.wait(timeout=30)
        return list(session.run(["probabilities"], {"features": batch}))

    batcher = MicroBatcher(run_batch=gated, max_rows=64, max_wait_s=0.0)
    inputs = [mlp_ranker.example_rows(8)[i : i + 1] for i in range(8)]
    results: list[Any] = [None] * len(inputs)

    def call(index: int) -> None:
        results[index] = batcher.run(inputs[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(inputs))]
    threads[0].start()
    wait_for(lambda: entered == [1], "the first call to run alone")
    for thread in threads[1:]:
        thread.start()
    # The batcher takes what is queued at once (no wait); the rest queue behind its run.
    wait_for(lambda: len(entered) == 2 and sum(entered) + batcher._calls.qsize() == 8,
             "every other call to be taken or queued")  # fmt: skip
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert entered[0] == 1 and batcher.lone_runs == 1
    assert sum(entered) == 8 and len(entered) <= 3 and max(entered[1:]) > 1, entered
    expected = mlp_ranker.reference_predict(np.concatenate(inputs))
    for index, outputs in enumerate(results):
        np.testing.assert_allclose(outputs[0], expected[index : index + 1], rtol=1e-4, atol=1e-6)


def test_defaults_follow_the_server_and_the_variables_override_them() -> None:
    assert not BatchSettings.from_environ({}).enabled  # azmlinfsrv: one call per process
    assert not BatchSettings.from_environ({"FASTSERVE_THREADS": "1"}).enabled
    default = BatchSettings.from_environ({"FASTSERVE_THREADS": "64"})
    assert (default.max_rows, default.max_wait_s) == (64, 0.0)
    off = {"FASTSERVE_THREADS": "64", "FLIGHTDECK_BATCH_MAX_ROWS": "0"}
    assert not BatchSettings.from_environ(off).enabled
    waiting = BatchSettings.from_environ(
        {"FASTSERVE_THREADS": "64", "FLIGHTDECK_BATCH_MAX_WAIT_MS": "5"}
    )
    assert (waiting.max_rows, waiting.max_wait_s) == (64, 0.005)
    with pytest.raises(ValueError, match="FLIGHTDECK_BATCH_MAX_WAIT_MS='soon' is not a whole"):
        BatchSettings.from_environ(
            {"FASTSERVE_THREADS": "64", "FLIGHTDECK_BATCH_MAX_WAIT_MS": "soon"}
        )


def test_the_loaded_model_batches_by_default_only_under_fastserve_threads(mlp_dir: Path) -> None:
    environ = {"AZUREML_MODEL_DIR": str(mlp_dir), "WORKER_COUNT": "8"}
    assert not load_model(environ).batching.enabled  # azmlinfsrv sets no FASTSERVE_THREADS
    assert load_model({**environ, "FASTSERVE_THREADS": "8"}).batching.describe() == (
        "batching=64 rows/0.0 ms"
    )


def test_settings_from_the_environment() -> None:
    assert not BatchSettings.from_environ({}).enabled
    settings = BatchSettings.from_environ(
        {"FLIGHTDECK_BATCH_MAX_ROWS": "64", "FLIGHTDECK_BATCH_MAX_WAIT_MS": "0"}
    )
    assert (settings.enabled, settings.max_rows, settings.max_wait_s) == (True, 64, 0.0)
    with pytest.raises(ValueError, match="FLIGHTDECK_BATCH_MAX_ROWS='lots' is not a whole"):
        BatchSettings.from_environ({"FLIGHTDECK_BATCH_MAX_ROWS": "lots"})


def test_the_loaded_model_batches_when_asked(sample_models: Path) -> None:
    environ = {"AZUREML_MODEL_DIR": str(sample_models / "model-v1"),
               "FLIGHTDECK_BATCH_MAX_ROWS": "16"}  # fmt: skip
    model = load_model(environ)
    assert model.batching.enabled
    inputs = [np.full((1, 5), float(i), dtype=np.float32) for i in range(CALLERS)]
    answers: list[Any] = [None] * CALLERS

    def score(index: int) -> None:
        answers[index] = model.predict(inputs[index])

    threads = [threading.Thread(target=score, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for index, answer in enumerate(answers):
        expected = product_recommender.reference_predict("v1", inputs[index])
        assert np.allclose(answer, expected, atol=1e-6)
    with pytest.raises(ModelLoadError, match="FLIGHTDECK_BATCH_MAX_WAIT_MS='-1'"):
        load_model({**environ, "FLIGHTDECK_BATCH_MAX_WAIT_MS": "-1"})
