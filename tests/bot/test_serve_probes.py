"""``flightdeck serve`` as a service: ``/healthz`` and ``/readyz`` (HTTP mode on the app's port,
Socket Mode on a listener of their own), start-up checks in one line each, and a stop that
stops taking work first."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from base.db import Database
from bot.app import build_client
from bot.config import SlackSecrets
from bot.errors import ConfigError
from bot.health import Readiness, start_probe_server
from bot.offline.slackstub import SlackStub
from bot.server import serve
from tests.bot.harness import TOKEN, make_settings, seeded_backend, stand_in


async def poll(condition: Callable[[], bool], *, seconds: float = 30.0) -> None:
    """Wait for ``condition`` by yielding to the loop; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    server = stand_in()
    server.app_token = "xapp-1-test"
    await server.start()
    yield server
    await server.stop()


async def _get(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


def _probe_base(said: list[str]) -> str:
    line = next(line for line in said if line.startswith("Probes: "))
    return line.removeprefix("Probes: ").split("/healthz")[0]


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_healthz_and_readyz_answer_on_the_port(
    stub: SlackStub, tmp_path: Path, mode: str
) -> None:
    secrets = (
        SlackSecrets(bot_token=TOKEN, signing_secret="s3cret", api_url=stub.api_url)
        if mode == "http"
        else SlackSecrets(bot_token=TOKEN, app_token="xapp-1-test", api_url=stub.api_url)
    )
    stop = asyncio.Event()
    said: list[str] = []
    running = asyncio.create_task(
        serve(
            make_settings(tmp_path),
            secrets,
            await seeded_backend(),
            host="127.0.0.1",
            port=0,
            stop=stop,
            announce=said.append,
        )
    )
    try:
        await poll(lambda: any(line.startswith("Probes: ") for line in said))
        base = _probe_base(said)
        assert await _get(base + "/healthz") == (200, {"alive": True})
        status, body = await _get(base + "/readyz")
        assert status == 200, body
        assert body == {
            "ready": True,
            "checks": {"database": "ok", "slack": "ok", "backend": "ok"},
        }
        assert stub.calls_to("auth.test")
    finally:
        stop.set()
        assert await running == 0
    assert said[-2].startswith("Stopping: no new work taken")
    assert said[-1] == "Stopped."
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(base + "/healthz")


async def test_readyz_names_what_is_not_ready(stub: SlackStub, tmp_path: Path) -> None:
    """An unmigrated database, a token Slack refuses, a backend that fails: 503, each named;
    draining: 503 without asking anything."""
    backend = await seeded_backend(crash_on={"list_endpoints"})
    db = Database(url=f"sqlite:///{tmp_path / 'never-upgraded.db'}")
    stub.fail("auth.test", "invalid_auth")
    readiness = Readiness(
        db=db, backend=backend, client=build_client(token=TOKEN, api_url=stub.api_url)
    )
    assert await readiness.check_slack() == "auth.test failed: invalid_auth"

    checks = await readiness.checks()
    assert checks["database"].startswith("at revision None, not ")
    assert checks["database"].endswith("run flightdeck db upgrade")
    assert checks["slack"] == "auth.test failed: invalid_auth"
    assert checks["backend"] == "no answer: RuntimeError"
    runner, port = await start_probe_server(readiness, host="127.0.0.1", port=0)
    try:
        status, body = await _get(f"http://127.0.0.1:{port}/readyz")
        assert status == 503 and body["ready"] is False
        assert body["checks"]["slack"] == "auth.test failed: invalid_auth"
        readiness.draining = True
        assert await _get(f"http://127.0.0.1:{port}/readyz") == (
            503,
            {"ready": False, "draining": True},
        )
        assert await _get(f"http://127.0.0.1:{port}/healthz") == (200, {"alive": True})
    finally:
        await runner.cleanup()
        db.dispose()


async def test_start_up_checks_say_each_problem_in_one_line(
    stub: SlackStub, tmp_path: Path
) -> None:
    """No signing secret and a database that does not answer: both named, nothing started."""
    settings = make_settings(tmp_path).model_copy(
        update={
            "database_url": f"postgresql+psycopg://flightdeck:hunter2-password@/db?host={tmp_path}/nowhere"
        }
    )
    with pytest.raises(ConfigError) as raised:
        await serve(
            settings,
            SlackSecrets(bot_token=TOKEN, api_url=stub.api_url),
            await seeded_backend(),
            host="127.0.0.1",
            port=0,
        )
    lines = str(raised.value).splitlines()
    assert lines[0] == "Flightdeck cannot start:"
    assert (
        lines[1] == "- SLACK_SIGNING_SECRET is not set: export it (see the README's Slack setup)."
    )
    assert lines[2].startswith("- The database postgresql+psycopg://flightdeck:***@/db")
    assert "cannot be reached (OperationalError: " in lines[2]
    assert len(lines) == 3
    assert "hunter2" not in str(raised.value)
    assert not stub.calls_to("auth.test")
