"""fastserve's parts in-process: settings, the worker pool and its timeout, the access log."""

from __future__ import annotations

import asyncio
import io
import re
import threading
import time
import uuid

import pytest
from fastserve.access_log import AccessLog
from fastserve.app import _new_request_id
from fastserve.config import ServerConfig
from fastserve.errors import ConfigError
from fastserve.inputs import Incoming
from fastserve.rawhttp import wsgi_environ
from fastserve.workers import WorkerPool


def test_flags_win_over_variables() -> None:
    config = ServerConfig.parse(
        ["--entry_script", "score.py", "--worker_count", "3", "--port", "6000"],
        {"AZUREML_ENTRY_SCRIPT": "other.py", "WORKER_COUNT": "8", "AZUREML_MODEL_DIR": "/m"},
        cwd="/app",
    )
    assert (config.entry_script, config.worker_count, config.port) == ("/app/score.py", 3, 6000)
    assert config.exported_environ() == {
        "AML_APP_ROOT": "/app", "AZUREML_ENTRY_SCRIPT": "/app/score.py",
        "WORKER_COUNT": "3", "FASTSERVE_THREADS": "3", "AZUREML_MODEL_DIR": "/m",
    }  # fmt: skip


def test_variables_and_defaults() -> None:
    config = ServerConfig.parse(
        [], {"AZUREML_ENTRY_SCRIPT": "src/score.py", "AML_APP_ROOT": "/var/app"}, cwd="/x"
    )
    assert config.script_path == "/var/app/src/score.py"
    assert (config.port, config.worker_count, config.host) == (5001, 1, "0.0.0.0")
    assert config.scoring_timeout_ms == 3_600_000
    assert config.server_version_header is not None
    quiet = ServerConfig.parse(
        ["--entry_script", "s.py"], {"SERVER_VERSION_LOG_RESPONSE_ENABLED": "false"}, cwd="/x"
    )
    assert quiet.server_version_header is None


def test_bad_values_are_named() -> None:
    with pytest.raises(ConfigError, match="WORKER_COUNT='0' is not a whole number >= 1"):
        ServerConfig.parse(["--entry_script", "s.py"], {"WORKER_COUNT": "0"}, cwd="/x")


async def test_pool_answers_and_interrupts_a_call_past_its_limit() -> None:
    pool = WorkerPool(count=1)
    stopped = threading.Event()

    def spin(_: object) -> str:
        try:
            while True:  # pure Python: only the interrupt ends it
                time.sleep(0.001)
        except TimeoutError:
            stopped.set()
            raise

    try:
        assert await pool.call(str.upper, "abc", limit_s=5) == "ABC"
        with pytest.raises(TimeoutError):
            await pool.call(spin, None, limit_s=0.05)
        assert await asyncio.to_thread(stopped.wait, 10)
        # The only thread is free again: the next call is answered.
        assert await pool.call(len, "four", limit_s=5) == 4
    finally:
        pool.close()


async def test_pool_passes_exceptions_back() -> None:
    pool = WorkerPool(count=2)
    try:
        with pytest.raises(ZeroDivisionError):
            await pool.call(lambda _: 1 / 0, None, limit_s=5)
    finally:
        pool.close()


async def test_access_log_writes_lines_in_batches() -> None:
    stream = io.StringIO()
    log = AccessLog(stream=stream, loop=asyncio.get_running_loop())
    log.record("POST", "/score", 200, 0.3456, 98)
    log.record("GET", "/swagger.json?version=3", 404, 1.0, 81)
    assert stream.getvalue() == ""  # buffered until the timer or a flush
    log.flush()
    lines = stream.getvalue().splitlines()
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} I \[\d+\] fastserve.access - "
    assert re.fullmatch(pattern + r"POST /score 200 0\.346ms 98", lines[0])
    assert lines[1].endswith("GET /swagger.json?version=3 404 1.000ms 81")


def test_rawhttp_environ_carries_the_request() -> None:
    incoming = Incoming(
        method="POST", path="/score", query_string="a=1", body=b"xyz",
        headers={"Content-Type": "text/plain", "X-Custom-Id": "7"},
    )  # fmt: skip
    environ = wsgi_environ(incoming)
    assert environ["REQUEST_METHOD"] == "POST" and environ["QUERY_STRING"] == "a=1"
    assert environ["CONTENT_TYPE"] == "text/plain" and environ["HTTP_X_CUSTOM_ID"] == "7"
    assert environ["CONTENT_LENGTH"] == "3" and environ["wsgi.input"].read() == b"xyz"


def test_generated_request_ids_are_distinct_version_4_uuids() -> None:
    ids = [_new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
