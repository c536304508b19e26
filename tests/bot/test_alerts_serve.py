"""``flightdeck serve`` runs the alert watcher: its scheduler polls while the app serves.

A metrics source failing on every poll is one message; its recovery is one update and
one reply. Conditions are polled with a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import Settings, SlackSecrets
from bot.server import serve
from tests.alerts.kit import UNAVAILABLE, Clock, scripted_backend
from tests.bot.harness import CHANNEL, POLICY, SECRET, TOKEN, message_text, stand_in

pytestmark = pytest.mark.slow(budget=30)


async def poll(condition: Callable[[], bool], *, seconds: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_serve_polls_and_reports_a_failing_source_once(tmp_path: Path) -> None:
    stub = stand_in()
    await stub.start()
    backend = await scripted_backend(Clock())
    backend.metrics_error = UNAVAILABLE
    settings = Settings.model_validate(
        {
            "access": POLICY,
            "alerts": {"channel": CHANNEL, "poll_interval": 0.2},
            "home": tmp_path,
            "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        }
    )
    secrets = SlackSecrets(bot_token=TOKEN, signing_secret=SECRET, api_url=stub.api_url)
    stop = asyncio.Event()
    said: list[str] = []
    running = asyncio.create_task(
        serve(settings, secrets, backend, host="127.0.0.1", port=0, stop=stop, announce=said.append)
    )
    try:
        await poll(lambda: len(backend.metrics_calls) >= 6)  # five polls after the first
        posted = stub.calls_to("chat.postMessage")
        assert len(posted) == 1
        assert "Metrics of product-recommender cannot be read" in message_text(
            stub.channel_messages(CHANNEL)[0]
        )
        assert UNAVAILABLE.message in posted[0].body["text"]
        backend.metrics_error = None
        await poll(lambda: len(stub.calls_to("chat.postMessage")) == 2)
        calls = len(backend.metrics_calls)
        await poll(lambda: len(backend.metrics_calls) >= calls + 3)
        assert len(stub.calls_to("chat.postMessage")) == 2
        first = stub.channel_messages(CHANNEL)[0]
        assert stub.calls_to("chat.postMessage")[1].body["thread_ts"] == first.ts
        assert "answer again" in message_text(first)
    finally:
        stop.set()
        assert await running == 0
        await stub.stop()
    assert [line for line in said if line.startswith("Alerts: ")] == [
        "Alerts: polling every endpoint's metrics every 0.2s, posting to C0DEPLOYS "
        "(rules: P99 latency > 500 ms for 3m, error rate (5xx, 408, 424) > 1% for 2m)."
    ]
