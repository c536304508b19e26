"""When Slack fails (5xx, HTML pages, dropped connections), through the real Bolt app and
the strict stand-in: the bot retries with back-off, and an operation Slack finally fails
is told to the user in words, never as a stack trace or "something went wrong"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.offline.slackstub import Fault
from bot.slack_retries import RetryPolicy
from deploy.memory import MemoryBackend as FakeBackend
from tests.bot.harness import (
    ALICE,
    ENDPOINT,
    RunningBot,
    make_settings,
    message_text,
    running_bot,
    seeded_backend,
)

DEPLOY = f"{ENDPOINT} canary --model recommendation-model:2"


class Sleeps:
    """A sleep that only writes down how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def backend() -> FakeBackend:
    return await seeded_backend()


@pytest.fixture
async def bot(backend: FakeBackend, sleeps: Sleeps, tmp_path: Path) -> AsyncIterator[RunningBot]:
    async with running_bot(
        backend=backend, settings=make_settings(tmp_path), retry=RetryPolicy(sleep=sleeps)
    ) as running:
        yield running


async def test_passing_failures_are_retried_and_nothing_shows(
    bot: RunningBot, backend: FakeBackend, sleeps: Sleeps
) -> None:
    bot.stub.inject("chat.postMessage", Fault.server_error(503), times=2)
    bot.stub.inject("chat.update", Fault.html(502))
    bot.stub.inject("chat.update", Fault.drop())
    await bot.slash("/deploy", DEPLOY, user=ALICE)
    await bot.settle()
    (message,) = bot.channel()
    assert "canary deployed to product-recommender" in message_text(message)
    assert bot.stub.ephemerals(ALICE) == []
    assert len(sleeps.waits) == 4
    assert (await backend.get_deployment(ENDPOINT, "canary")).model == "recommendation-model:2"


async def test_slack_failing_at_the_end_says_how_it_ended(
    bot: RunningBot, backend: FakeBackend
) -> None:
    bot.stub.inject("chat.update", Fault.html(502), times=1000)
    await bot.slash("/deploy", DEPLOY, user=ALICE)
    await bot.settle()
    told = bot.last_ephemeral(ALICE)
    assert "Slack did not answer Flightdeck (an HTML error page (HTTP 502)" in told
    assert "How it ended: canary deployed to product-recommender" in told
    assert "Traceback" not in told and "Something went wrong" not in told
    assert (await backend.get_deployment(ENDPOINT, "canary")).model == "recommendation-model:2"
    audit = await bot.services.audit.entries()
    assert [(e.result, e.detail) for e in audit][-1][0] == "failed"


async def test_slack_failing_from_the_start_is_said(bot: RunningBot, backend: FakeBackend) -> None:
    bot.stub.inject("chat.postMessage", Fault.server_error(503), times=4)
    await bot.slash("/deploy", DEPLOY, user=ALICE)
    await bot.settle()
    told = bot.last_ephemeral(ALICE)
    assert told.startswith("Slack did not answer Flightdeck (HTTP 503, after several tries)")
    assert bot.channel() == []
    assert "canary" not in {d.name for d in await backend.list_deployments(ENDPOINT)}
