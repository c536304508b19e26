"""``/capacity`` from Slack, for real: signed slash commands and clicks to the Bolt app, the
local platform (Router + Platform, in-process) serving the example endpoint with blue taking
all live traffic, and the Slack stand-in recording every call.

Checked: the dry run answers privately with the plan and sends nothing; a live deployment
first gets a private warning whose button only the requester may press; then one message
updated per step with a Cancel button, the answer in a sentence with the table, and the chart
in the message's thread; non-deployers are refused and nothing is posted.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import LoadTestSettings
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
from tests.bot.test_loadtest_slack import FAST_PROBES, until, updates
from tests.deploy.local.platform_kit import running_platform

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=60)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "product-recommender"
EP = "product-recommender"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SEARCH = f"{EP} blue --max-p99 500ms --start-rate 10 --max-rate 40 --step 1s --target-rate 100"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    async with running_platform(tmp_path_factory.mktemp("platform")) as running:
        await running.create_or_update_endpoint(load_endpoint_spec(EXAMPLES / "endpoint.yml"))
        blue = load_deployment_spec(EXAMPLES / "blue-deployment.yml", overrides=FAST_PROBES)
        await running.create_or_update_deployment(blue)
        await running.set_traffic(EP, {"blue": 100})
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def bot(platform: Platform, tmp_path: Path) -> AsyncIterator[RunningBot]:
    settings = make_settings(tmp_path).model_copy(
        update={"loadtest": LoadTestSettings(max_requests=500, progress_seconds=0.3)}
    )
    async with running_bot(backend=platform, settings=settings) as running:
        yield running


async def test_dry_run_shows_the_plan_and_sends_nothing(bot: RunningBot) -> None:
    await bot.slash("/capacity", SEARCH + " --dry-run", user=ALICE)
    await bot.settle()
    shown = bot.last_ephemeral(ALICE)
    assert "ramp 10, 20, 40 req/s" in shown and "at most 40 req/s" in shown, shown
    assert "blue takes 100% of product-recommender's live traffic" in shown
    assert bot.channel() == []


async def test_confirmed_search_updates_one_message_and_answers(bot: RunningBot) -> None:
    await bot.slash("/capacity", SEARCH, user=ALICE)
    await bot.settle()
    (warning,) = bot.stub.ephemerals(ALICE)
    assert "live traffic" in message_text(warning)
    assert bot.channel() == []  # nothing runs before the confirmation
    await bot.click(warning, actions.CAPACITY_CONFIRM, user=BOB)  # not his to start
    await bot.settle()
    assert "Only the user who asked" in bot.last_ephemeral(BOB)
    assert bot.channel() == []
    await bot.click(warning, actions.CAPACITY_CONFIRM, user=ALICE)
    await bot.settle(60)
    (message,) = bot.channel()
    assert len(bot.stub.calls_to("chat.postMessage")) == 1, "one message, updated"
    progress = [m for m in updates(bot) if actions.CAPACITY_CANCEL in buttons(m)]
    assert any("step 1 at 10 req/s" in message_text(m) for m in progress)
    # Each step, once judged, is a row of the table in the message while it runs.
    assert any("  10.0" in message_text(m) and "pass" in message_text(m) for m in progress)
    text = message_text(message)
    assert "Capacity of blue on product-recommender: done" in text, text
    assert "blue serves 40 req/s per instance at P99 ≤ 500 ms" in text, text
    assert "limited by the --max-rate cap" in text
    assert "for 100 req/s with 30% headroom: 4 × Standard_DS3_v2, about $856/month" in text
    assert text.count(" pass") >= 3 and buttons(message) == []
    (chart,) = bot.stub.files.values()
    assert chart.channel == CHANNEL and chart.content.startswith(PNG_MAGIC)
    # The confirmation is used: a second click starts nothing.
    await bot.click(warning, actions.CAPACITY_CONFIRM, user=ALICE)
    await bot.settle()
    assert "started or has expired" in bot.last_ephemeral(ALICE)
    assert len(bot.channel()) == 1


async def test_non_deployers_are_refused(bot: RunningBot) -> None:
    await bot.slash("/capacity", SEARCH, user=CAROL)
    await bot.settle()
    assert "deploy" in bot.last_ephemeral(CAROL)
    assert bot.channel() == []


async def test_cancel_between_steps_stops_and_restores_the_instances(
    bot: RunningBot, platform: Platform
) -> None:
    """--scaling on a deployment of 2 instances scales it to 1 for the first search; Cancel,
    clicked once the first step is in the table, stops the search before the next step, the
    message says cancelled, and blue is back on its 2 instances."""
    await platform.scale(EP, "blue", 2)
    try:
        await bot.slash("/capacity", SEARCH.replace("1s", "2s") + " --scaling", user=ALICE)
        await bot.settle()
        (warning,) = bot.stub.ephemerals(ALICE)
        assert "scales blue to 1 instance, then 2" in message_text(warning)
        await bot.click(warning, actions.CAPACITY_CONFIRM, user=ALICE)
        await until(lambda: any(" pass" in message_text(m) for m in updates(bot)))
        assert (await platform.get_deployment(EP, "blue")).instance_count == 1
        running = copy.deepcopy(bot.channel()[0])
        assert buttons(running) == [actions.CAPACITY_CANCEL]
        assert (await bot.click(running, actions.CAPACITY_CANCEL, user=BOB)).status == 200
        await bot.settle(60)
        text = message_text(bot.channel()[0])
        assert "Capacity of blue on product-recommender: cancelled, partial results" in text
        assert "Cancelled by <@U0BOB>." in text and buttons(bot.channel()[0]) == []
        # At most the step running at the click finished after it: nothing more was sent.
        rows = [line for line in text.splitlines() if line.strip()[:1].isdigit()]
        assert 1 <= len(rows) <= 2, text
        assert "On 2 instances" not in text
        assert (await platform.get_deployment(EP, "blue")).instance_count == 2, "restored"
    finally:
        await platform.scale(EP, "blue", 1)
