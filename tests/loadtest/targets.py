"""The target server the engine's tests load: where it is, and a handle on a running one."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SERVER = Path(__file__).with_name("target_server.py")


class Target:
    """The running target server: its base URL and its bookkeeping routes."""

    def __init__(self, port: int, *, scheme: str = "http", host: str = "127.0.0.1") -> None:
        self.port = port
        self.base = f"{scheme}://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url(path), timeout=5) as response:
            return json.loads(response.read())


@contextlib.contextmanager
def target_process(*args: str) -> Iterator[Target]:
    """The target server in its own process (``args``: a certificate and key for https)."""
    process = subprocess.Popen(
        [sys.executable, str(SERVER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    line = process.stdout.readline()  # returns once the server listens, or "" if it died
    if not line.startswith("PORT "):
        process.kill()
        process.wait()
        pytest.fail(f"target server did not start: {line!r}")
    try:
        yield Target(int(line.split()[1]))
    finally:
        process.terminate()
        process.wait()
