"""fastserve as a process: the event loop stays free while run() is slow, WORKER_COUNT threads
run at once, SIGTERM drains, the entry points start it, bad settings stop it with a message."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.scoring.compat.conftest import code_folder
from tests.scoring.compat.servers import REPO, launch_fastserve, start_fastserve
from tests.scoring.compat.wire import Answer, exchange
from tests.support.azmlinfsrv import AzmlinfsrvProcess, free_port, wait_until_exited

pytestmark = pytest.mark.slow(budget=30)

DEADLINE_S = 20.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Background:
    """One request sent from a thread; ``answer()`` waits for it."""

    def __init__(self, server: AzmlinfsrvProcess, tag: str) -> None:
        self._answers: list[Answer] = []
        self._thread = threading.Thread(target=self._send, args=(server, tag), daemon=True)
        self._thread.start()

    def _send(self, server: AzmlinfsrvProcess, tag: str) -> None:
        self._answers.append(exchange(server, "POST", "/score", body=tag.encode(),
                                      headers={"Content-Type": "text/plain"}))  # fmt: skip

    def answer(self) -> Answer:
        self._thread.join(DEADLINE_S)
        assert self._answers, "the request did not finish"
        return self._answers[0]


@pytest.fixture
def signals(tmp_path: Path) -> Path:
    folder = tmp_path / "signals"
    folder.mkdir()
    return folder


def slow_server(tmp_path: Path, models: Path, signals: Path, workers: int) -> AzmlinfsrvProcess:
    script = code_folder(tmp_path, "slow.py") / "slow.py"
    return start_fastserve(
        entry_script=script, model_dir=models, log_path=tmp_path / "fastserve.log",
        worker_count=workers, cwd=script.parent,
        env={"FLIGHTDECK_TEST_SIGNALS": str(signals)},
    )  # fmt: skip


@pytest.fixture
def one_worker(tmp_path: Path, sample_models: Path, signals: Path) -> Iterator[AzmlinfsrvProcess]:
    server = slow_server(tmp_path, sample_models, signals, workers=1)
    yield server
    (signals / "release-held").touch()
    server.stop()


def test_liveness_answers_while_run_is_busy(one_worker: AzmlinfsrvProcess, signals: Path) -> None:
    held = Background(one_worker, "held")
    wait_for((signals / "started-held").exists, "run() to start")
    # Sent once "held" has the only worker thread (sent together, either could get it first).
    queued = Background(one_worker, "queued")
    for path in ("/", "/swagger.json"):
        answer = exchange(one_worker, "GET", path)  # the only worker thread is busy
        assert answer.status == 200
    assert not (signals / "started-queued").exists()
    (signals / "release-held").touch()
    (signals / "release-queued").touch()
    assert held.answer().json() == {"released": "held"}
    assert queued.answer().json() == {"released": "queued"}


def test_worker_count_runs_calls_at_once(
    tmp_path: Path, sample_models: Path, signals: Path
) -> None:
    server = slow_server(tmp_path, sample_models, signals, workers=2)
    try:
        first, second = Background(server, "one"), Background(server, "two")
        wait_for(lambda: all((signals / f"started-{t}").exists() for t in ("one", "two")),
                 "both run() calls to be running together")  # fmt: skip
        for tag in ("one", "two"):
            (signals / f"release-{tag}").touch()
        assert first.answer().status == second.answer().status == 200
    finally:
        server.stop()


def test_sigterm_finishes_requests_in_flight(one_worker: AzmlinfsrvProcess, signals: Path) -> None:
    held = Background(one_worker, "held")
    wait_for((signals / "started-held").exists, "run() to start")
    os.kill(one_worker.process.pid, signal.SIGTERM)
    wait_for(lambda: "Stopping on signal SIGTERM" in one_worker.log_text(), "the stop log line")
    (signals / "release-held").touch()
    assert held.answer().status == 200
    assert wait_until_exited(one_worker, timeout=DEADLINE_S) == 0
    assert "1 request(s) still in flight" in one_worker.log_text()


def test_access_log_lines(one_worker: AzmlinfsrvProcess, signals: Path) -> None:
    (signals / "release-logged").touch()
    assert exchange(one_worker, "POST", "/score?x=1", body=b"logged").status == 200
    wait_for(lambda: "fastserve.access - POST /score?x=1 200 " in one_worker.log_text(),
             "the access line")  # fmt: skip


def test_python_dash_m_from_the_repository(tmp_path: Path, sample_models: Path) -> None:
    server = start_fastserve(
        entry_script=REPO / "scoring" / "score.py", model_dir=sample_models / "model-v1",
        log_path=tmp_path / "fastserve.log", cwd=REPO,
        command=[sys.executable, "-m", "scoring.fastserve"],
    )  # fmt: skip
    try:
        answer = exchange(server, "POST", "/score", body=json.dumps({"data": [1, 2, 3, 4, 5]})
                          .encode(), headers={"Content-Type": "application/json"})  # fmt: skip
        assert answer.status == 200 and answer.json()["batch_size"] == 1
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"WORKER_COUNT": "many"}, "WORKER_COUNT='many' is not a whole number >= 1"),
        ({"SCORING_TIMEOUT_MS": "0"}, "SCORING_TIMEOUT_MS='0' is not a whole number >= 1"),
        ({"FASTSERVE_ACCESS_LOG": "maybe"}, "FASTSERVE_ACCESS_LOG='maybe' is not one of"),
    ],
    ids=["workers", "timeout", "access-log"],
)
def test_bad_settings_exit_2_naming_the_setting(
    tmp_path: Path, sample_models: Path, env: dict[str, str], needle: str
) -> None:
    script = code_folder(tmp_path, "undecorated.py") / "undecorated.py"
    server = launch_fastserve(
        entry_script=script, model_dir=sample_models, log_path=tmp_path / "fastserve.log",
        port=free_port(), env=env, cwd=tmp_path,
    )  # fmt: skip
    assert wait_until_exited(server, timeout=DEADLINE_S) == 2
    assert needle in server.log_text()


def test_no_entry_script_exits_2(tmp_path: Path) -> None:
    log_path = tmp_path / "no-entry.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AZUREML_", "AML_"))}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "scoring" / "fastserve"), "--port", str(free_port())],
            cwd=tmp_path, env=environ, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    server = AzmlinfsrvProcess(process=process, port=0, log_path=log_path)
    assert wait_until_exited(server, timeout=DEADLINE_S) == 2
    assert "no scoring script: give --entry_script PATH" in server.log_text()


def test_processes_share_the_port_and_stop_together(tmp_path: Path, sample_models: Path) -> None:
    script = code_folder(tmp_path, "pid.py") / "pid.py"
    server = start_fastserve(
        entry_script=script, model_dir=sample_models, log_path=tmp_path / "fastserve.log",
        cwd=script.parent, env={"FASTSERVE_PROCESSES": "2"},
    )  # fmt: skip
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + DEADLINE_S
        while len(seen) < 2 and time.monotonic() < deadline:  # new connection each time
            seen.add(exchange(server, "POST", "/score", body=b"x").json()["pid"])
        assert len(seen) == 2 and server.process.pid not in seen
        os.kill(server.process.pid, signal.SIGTERM)  # the parent alone: it passes it on
        assert wait_until_exited(server, timeout=DEADLINE_S) == 0
        wait_for(lambda: not any(map(_alive, seen)), f"server processes {sorted(seen)} to exit")
    finally:
        server.stop()


def test_a_child_that_cannot_start_stops_the_parent(tmp_path: Path, sample_models: Path) -> None:
    script = code_folder(tmp_path, "failing_init.py") / "failing_init.py"
    server = launch_fastserve(
        entry_script=script, model_dir=sample_models, log_path=tmp_path / "fastserve.log",
        port=free_port(), cwd=script.parent, env={"FASTSERVE_PROCESSES": "2"},
    )  # fmt: skip
    assert wait_until_exited(server, timeout=DEADLINE_S * 2) == 3
    assert "could not start (exit 3): stopping all" in server.log_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text()[:64]


class _UnixConnection(http.client.HTTPConnection):
    """http.client over a Unix socket (the router's way to a fastserve instance)."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=30)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(self._path))


def _over_unix(path: Path, body: bytes) -> Answer:
    connection = _UnixConnection(path)
    try:
        connection.request("POST", "/score", body=body)
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers, response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("processes", ["1", "2"])
def test_the_unix_socket_answers_as_the_port_does_and_goes_away(
    tmp_path: Path, sample_models: Path, processes: str
) -> None:
    script = code_folder(tmp_path, "pid.py") / "pid.py"
    path = tmp_path / "fs.sock"
    path.write_text("a stale socket is replaced; this is not one")  # a plain file: kept
    refused = launch_fastserve(
        entry_script=script, model_dir=sample_models, log_path=tmp_path / "refused.log",
        port=free_port(), cwd=script.parent,
        env={"FASTSERVE_UNIX_SOCKET": str(path), "FASTSERVE_PROCESSES": processes},
    )  # fmt: skip
    assert wait_until_exited(refused, timeout=DEADLINE_S) != 0
    assert "cannot listen on the Unix socket" in refused.log_text()
    assert path.read_text().startswith("a stale socket")
    path.unlink()
    server = start_fastserve(
        entry_script=script, model_dir=sample_models, log_path=tmp_path / "fastserve.log",
        cwd=script.parent,
        env={"FASTSERVE_UNIX_SOCKET": str(path), "FASTSERVE_PROCESSES": processes},
    )  # fmt: skip
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        over_tcp = exchange(server, "POST", "/score", body=b"x")
        seen: set[int] = set()
        deadline = time.monotonic() + DEADLINE_S
        while len(seen) < int(processes) and time.monotonic() < deadline:
            answer = _over_unix(path, b"x")
            assert answer.status == over_tcp.status == 200
            assert answer.headers["content-type"] == over_tcp.headers["content-type"]
            assert set(answer.headers) == set(over_tcp.headers)
            seen.add(answer.json()["pid"])
        assert len(seen) == int(processes)  # every server process takes connections there
        os.kill(server.process.pid, signal.SIGTERM)
        assert wait_until_exited(server, timeout=DEADLINE_S) == 0
        assert not path.exists()
    finally:
        server.stop()
