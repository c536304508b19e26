"""``/loadtest`` from Slack, for real: signed slash commands and clicks over HTTP to the Bolt
app, the local platform (Router + Platform, in-process) serving the example endpoint with
a real azmlinfsrv instance, and the Slack stand-in recording every call.

Checked: one progress message updated while the run goes (sent, ok, errors, P99) with a
Cancel button, then the summary in it and the PNG chart through files_upload_v2; Cancel
by another deployer gives a partial summary; non-deployers, caps and bad options are
refused with a message naming why, and nothing is posted in the channel.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import LoadTestSettings
from bot.offline.slackstub import StubMessage
from bot.offline.slackstub.wire import blocks_of
from commands import actions
from deploy.local.platform import Platform
from deploy.specs import load_deployment_spec, load_endpoint_spec
from tests.bot.harness import (
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    RunningBot,
    buttons,
    make_settings,
    message_text,
    running_bot,
)
from tests.deploy.local.platform_kit import running_platform

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=30)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "product-recommender"
EP = "product-recommender"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAST_PROBES = [
    "readiness_probe.initial_delay=0",
    "readiness_probe.period=1",
    "liveness_probe.initial_delay=1",
    "liveness_probe.period=1",
    "liveness_probe.failure_threshold=20",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    """The local platform with the example endpoint, blue taking all traffic."""
    if not (EXAMPLES / "blue-deployment.yml").is_file():
        pytest.fail(f"the example endpoint ships in the repository but is not at {EXAMPLES}")
    async with running_platform(tmp_path_factory.mktemp("platform")) as running:
        await running.create_or_update_endpoint(load_endpoint_spec(EXAMPLES / "endpoint.yml"))
        blue = load_deployment_spec(EXAMPLES / "blue-deployment.yml", overrides=FAST_PROBES)
        await running.create_or_update_deployment(blue)
        await running.set_traffic(EP, {"blue": 100})
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def bot(platform: Platform, tmp_path: Path) -> AsyncIterator[RunningBot]:
    settings = make_settings(tmp_path).model_copy(
        update={"loadtest": LoadTestSettings(max_requests=500, progress_seconds=0.2)}
    )
    async with running_bot(backend=platform, settings=settings) as running:
        yield running


async def until(condition: Callable[[], bool], *, seconds: float = 60.0) -> None:
    """Poll ``condition`` until it holds (fail after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def updates(bot: RunningBot) -> list[StubMessage]:
    """Every version the channel's messages were updated to, in order (from the calls)."""
    return [
        StubMessage(
            channel=str(call.body.get("channel")),
            ts=str(call.body.get("ts")),
            text=str(call.body.get("text") or ""),
            blocks=blocks_of(call.body.get("blocks")),
            user=bot.stub.bot_user_id,
        )
        for call in bot.stub.calls_to("chat.update")
    ]


async def test_progress_summary_and_chart(bot: RunningBot) -> None:
    answer = await bot.slash("/loadtest", f"{EP} --rate 50 --duration 2", user=ALICE)
    assert answer.status == 200
    await bot.settle(120)
    (message,) = bot.channel()
    assert len(bot.stub.calls_to("chat.postMessage")) == 1, "one message, updated"

    # While it ran: sent / ok / errors / P99 so far, and the Cancel button.
    progress = [m for m in updates(bot) if actions.LOADTEST_CANCEL in buttons(m)]
    assert len(progress) >= 2, [message_text(m) for m in progress]
    shown = message_text(progress[0])
    assert "Running:" in shown and " sent " in shown and " ok " in shown and "P99" in shown
    assert "50 requests/s for 2 s. Requested by <@U0ALICE>." in shown

    # At the end: the summary in the same message, no button left, the chart as a PNG file.
    text = message_text(message)
    assert "Load test of product-recommender: done" in text, text
    assert "(open loop, 50 req/s for 2s" in text, text
    assert "sent 100, completed 100, ok 100, errors 0" in text, text
    assert "P99" in text and "200" in text
    assert buttons(message) == []
    (chart,) = bot.stub.files.values()
    assert chart.channel == CHANNEL and chart.filename == f"loadtest-{EP}.png"
    assert chart.content.startswith(PNG_MAGIC)
    assert bot.stub.calls_to("files.getUploadURLExternal", "files.completeUploadExternal")
    (entry,) = await bot.services.audit.entries()
    assert (entry.action, entry.result, entry.endpoint) == ("/loadtest", "ok", EP)


async def test_cancel_gives_a_partial_summary(bot: RunningBot) -> None:
    await bot.slash("/loadtest", f"{EP} --rate 20 --duration 20 --deployment blue", user=ALICE)
    await until(lambda: any(" sent " in message_text(m) for m in updates(bot)))
    running = copy.deepcopy(bot.channel()[0])  # as shown while running
    assert buttons(running) == [actions.LOADTEST_CANCEL]
    assert (await bot.click(running, actions.LOADTEST_CANCEL, user=BOB)).status == 200
    await bot.settle(60)
    text = message_text(bot.channel()[0])
    assert "Load test of blue on product-recommender: cancelled, partial results" in text, text
    assert "Cancelled by <@U0BOB>." in text and "Cancelled after" in text
    assert "deployment: blue" in text
    assert len(bot.services.loadtests) == 0
    results = sorted((e.action, e.result) for e in await bot.services.audit.entries())
    assert results == [("/loadtest", "cancelled"), (actions.LOADTEST_CANCEL, "cancelled")]

    # The run is over: its button does nothing more, and says so.
    await bot.click(running, actions.LOADTEST_CANCEL, user=ALICE)
    await bot.settle()
    assert "no longer running" in bot.last_ephemeral(ALICE)


@pytest.mark.parametrize(
    ("text", "user", "expected"),
    [
        (f"{EP} --requests 10", CAROL, "deploy"),
        (f"{EP} --requests 1000", ALICE, "--requests 1000 is above the configured limit of 500"),
        (f"{EP} --rate 5", ALICE, "Open loop needs --duration D"),
        (f"{EP} --requests 10 --rate 5 --duration 1", ALICE, "not both"),
        (f"{EP} --requests ten", ALICE, "`--requests` must be a whole number"),
        (f"{EP} --deployment purple", ALICE, "has no deployment purple"),
        ("no-such-endpoint", ALICE, "no-such-endpoint"),
    ],
)
async def test_refused_with_a_reason_and_nothing_posted(
    bot: RunningBot, text: str, user: str, expected: str
) -> None:
    await bot.slash("/loadtest", text, user=user)
    await bot.settle()
    assert expected in bot.last_ephemeral(user)
    assert bot.channel() == []
    assert len(bot.services.loadtests) == 0


async def test_help(bot: RunningBot) -> None:
    await bot.slash("/loadtest", "help", user=CAROL)
    await bot.settle()
    shown = bot.last_ephemeral(CAROL)
    assert "deployers only" in shown and "--rate R --duration D" in shown
