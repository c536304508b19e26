"""Fixtures for the load-test engine's tests: a real target server process on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.loadtest.targets import SERVER, Target


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """One target server process per test module."""
    process = subprocess.Popen(
        [sys.executable, str(SERVER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    line = process.stdout.readline()  # returns once the server listens, or "" if it died
    if not line.startswith("PORT "):
        process.kill()
        pytest.fail(f"target server did not start: {line!r}")
    try:
        yield Target(int(line.split()[1]))
    finally:
        process.terminate()
        process.wait()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
