"""Fixtures for the load-test engine's tests: a real target server process on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.loadtest.targets import Target, target_process


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """One target server process per test module."""
    with target_process() as running:
        yield running


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
