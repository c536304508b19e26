"""fastserve's HTTP layer on the wire: keep-alive, pipelining, HEAD, chunked bodies, refusals
(a malformed request, a head too large), ``Connection: close``, and run() on the event loop
for a script that declares ``FASTSERVE_INLINE = True`` (in threads otherwise)."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scoring.compat.conftest import code_folder
from tests.scoring.compat.servers import start_fastserve
from tests.support.azmlinfsrv import HOST, AzmlinfsrvProcess

pytestmark = pytest.mark.slow(budget=30)

HEAD_LIMIT = 64 * 1024


def serve_inline(tmp: Path, models: Path, **env: str) -> AzmlinfsrvProcess:
    script = code_folder(tmp, "inline.py") / "inline.py"
    return start_fastserve(
        entry_script=script, model_dir=models / "model-v1", log_path=tmp / "fastserve.log",
        cwd=script.parent, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, sample_models: Path
) -> Iterator[AzmlinfsrvProcess]:
    started = serve_inline(tmp_path_factory.mktemp("inline"), sample_models)
    yield started
    started.stop()


def talk(server: AzmlinfsrvProcess, data: bytes) -> bytes:
    """Send ``data`` on one connection and read until the server closes it."""
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def post(body: bytes, *extra: str) -> bytes:
    head = ["POST /score HTTP/1.1", "Host: x", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_an_inline_script_runs_on_the_event_loop(server: AzmlinfsrvProcess) -> None:
    assert "declares FASTSERVE_INLINE = True" in server.log_text()
    answer = json.loads(talk(server, post(b"hello", "Connection: close")).split(b"\r\n\r\n")[1])
    assert answer == {"thread": "MainThread", "raw": "hello"}


def test_fastserve_inline_false_sends_run_to_the_threads(
    tmp_path: Path, sample_models: Path
) -> None:
    threaded = serve_inline(tmp_path, sample_models, FASTSERVE_INLINE="false")
    try:
        reply = talk(threaded, post(b"x", "Connection: close")).split(b"\r\n\r\n")[1]
        assert json.loads(reply)["thread"] == "run-0"
        assert "declares FASTSERVE_INLINE" not in threaded.log_text()
    finally:
        threaded.stop()


def test_keep_alive_answers_several_requests_on_one_connection(
    server: AzmlinfsrvProcess,
) -> None:
    connection = http.client.HTTPConnection(HOST, server.port, timeout=10)
    try:
        for index in range(3):
            connection.request("POST", "/score", body=f"n{index}".encode())
            response = connection.getresponse()
            assert json.loads(response.read())["raw"] == f"n{index}"
            assert response.getheader("Connection") is None
    finally:
        connection.close()


def test_pipelined_requests_are_answered_in_order(server: AzmlinfsrvProcess) -> None:
    data = (
        post(b"first") + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + post(b"last", "Connection: close")
    )
    received = talk(server, data)
    assert received.count(b"HTTP/1.1 200 OK") == 3
    assert received.index(b'"first"') < received.index(b"Healthy") < received.index(b'"last"')
    assert received.rstrip().endswith(b'"raw": "last"}')


def test_head_answers_the_length_without_a_body(server: AzmlinfsrvProcess) -> None:
    received = talk(server, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, body = received.split(b"\r\n\r\n", 1)
    assert b"Content-Length: 7" in head and body == b""


def test_a_chunked_body_is_read_whole(server: AzmlinfsrvProcess) -> None:
    data = (
        b"POST /score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        b"\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    assert b'"raw": "abcde"' in talk(server, data)


def test_a_malformed_request_gets_400_and_the_connection_closes(
    server: AzmlinfsrvProcess,
) -> None:
    received = talk(server, b"NOT HTTP AT ALL\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in received


def test_a_head_too_large_gets_431(server: AzmlinfsrvProcess) -> None:
    filler = "x" * HEAD_LIMIT
    received = talk(server, f"GET / HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n".encode())
    assert received.startswith(b"HTTP/1.1 431 ")


def test_http_1_0_closes_after_the_answer(server: AzmlinfsrvProcess) -> None:
    received = talk(server, b"GET / HTTP/1.0\r\n\r\n")  # returns: the server closed it
    assert received.startswith(b"HTTP/1.1 200 OK") and received.endswith(b"Healthy")
