"""create_local_backend: found through daemon.json and the admin token, or a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.errors import BackendUnavailableError
from deploy.local.control.client import LocalBackend, create_local_backend
from deploy.local.state.home import DaemonInfo, Home
from deploy.memory import MemoryBackend as FakeBackend
from deploy.registry import create_backend
from deploy.types import EndpointSpec
from tests.support.control_api import TOKEN, serve_backend


def _info(home: Home, pid: int, control_url: str) -> DaemonInfo:
    return DaemonInfo(
        pid=pid,
        control_url=control_url,
        router_url="http://127.0.0.1:9",
        home=str(home.root),
        started_at=time.time(),
    )


def test_no_daemon_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match="flightdeck local up"):
        create_local_backend({"home": str(tmp_path)})


@pytest.mark.slow(budget=30)
def test_a_dead_daemons_file_is_a_clear_error(tmp_path: Path) -> None:
    home = Home(root=tmp_path)
    home.admin_token(create=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    home.write_daemon_info(_info(home, dead.pid, "http://127.0.0.1:9"))
    with pytest.raises(BackendUnavailableError, match="not running"):
        create_backend("local", {"home": str(tmp_path)})


async def test_the_registry_finds_the_running_daemon(tmp_path: Path) -> None:
    home = Home(root=tmp_path)
    home.ensure()
    home.token_file.write_text(TOKEN + "\n", encoding="utf-8")
    async with serve_backend(FakeBackend()) as served:
        home.write_daemon_info(_info(home, os.getpid(), served.api.base_url))
        backend = create_backend("local", {"home": str(tmp_path)})
        assert isinstance(backend, LocalBackend)
        assert backend.loopback_only
        try:
            await backend.create_or_update_endpoint(EndpointSpec(name="ep-one"))
            assert [e.name for e in await served.client.list_endpoints()] == ["ep-one"]
        finally:
            await backend.aclose()
