"""``bot.server.serve``: Socket Mode when an app token is set, HTTP otherwise; secrets checked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.config import SlackSecrets
from bot.errors import ConfigError
from bot.offline.slackstub import SlackStub
from bot.offline.slackstub.payloads import signed_headers, slash_command
from bot.server import check_secrets, serve
from tests.bot.harness import (
    CAROL,
    CHANNEL,
    ENDPOINT,
    TOKEN,
    make_settings,
    seeded_backend,
    stand_in,
)


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


async def test_socket_mode(stub: SlackStub, tmp_path: Path) -> None:
    secrets = SlackSecrets(bot_token=TOKEN, app_token="xapp-1-test", api_url=stub.api_url)
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
        assert await stub.wait_for_socket(deadline=30)
        await poll(lambda: len(said) >= 2)
        assert said[0].startswith("Probes: http://127.0.0.1:")
        assert said[1] == "Flightdeck is connected to Slack in Socket Mode."
        fields = slash_command(
            command="/traffic",
            text=ENDPOINT,
            user_id=CAROL,
            user_name="carol",
            channel_id=CHANNEL,
            channel_name="ml-deploys",
            response_url=stub.response_url(user=CAROL, channel=CHANNEL),
        )
        sent = time.monotonic()
        envelope = await stub.socket_send("slash_commands", fields)
        await poll(lambda: any(a.get("envelope_id") == envelope for a in stub.socket_acks))
        assert time.monotonic() - sent < 3.0
        await poll(lambda: bool(stub.ephemerals(CAROL)))
        assert "blue" in str(stub.ephemerals(CAROL)[-1].blocks)
    finally:
        stop.set()
        assert await running == 0


async def test_http_mode_checks_signatures(stub: SlackStub, tmp_path: Path) -> None:
    secrets = SlackSecrets(bot_token=TOKEN, signing_secret="s3cret", api_url=stub.api_url)
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
        await poll(lambda: bool(said))
        url = said[0].removeprefix("Flightdeck listens on ")
        assert url.startswith("http://127.0.0.1:") and url.endswith("/slack/events")
        body = f"command=%2Ftraffic&text={ENDPOINT}&user_id={CAROL}&channel_id={CHANNEL}"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=signed_headers("wrong", body)) as r:
                assert r.status == 401
            async with session.post(url, data=body, headers=signed_headers("s3cret", body)) as r:
                assert r.status == 200
        await poll(lambda: bool(stub.calls_to("chat.postEphemeral")))
    finally:
        stop.set()
        assert await running == 0


@pytest.mark.parametrize(
    ("secrets", "problem"),
    [
        (SlackSecrets(signing_secret="s"), "SLACK_BOT_TOKEN is not set"),
        (SlackSecrets(bot_token="xoxb-1"), "SLACK_SIGNING_SECRET is not set"),
        (SlackSecrets(bot_token="xoxb-1", app_token="xoxb-2"), "must be an app-level token"),
    ],
)
def test_missing_secrets_are_named(secrets: SlackSecrets, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        check_secrets(secrets)
    check_secrets(SlackSecrets(bot_token="xoxb-1", app_token="xapp-1"))
