"""Request signing over HTTP: only Slack's signed, fresh requests reach the listeners."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import pytest

from bot.offline.slackstub import StubMessage
from bot.offline.slackstub.payloads import signed_headers
from commands import actions
from deploy.memory import MemoryBackend as FakeBackend
from tests.bot.harness import ALICE, BOB, ENDPOINT, SECRET, RunningBot

SHIFT = f"{ENDPOINT} blue=90 green=10"


async def _nothing_happened(bot: RunningBot, backend: FakeBackend) -> None:
    await bot.settle()
    seen = [c.method for c in bot.stub.calls]
    assert seen == [], f"the bot called Slack: {seen}"
    assert await bot.services.audit.entries() == []
    assert await bot.services.approvals.pending() == []
    assert dict((await backend.get_endpoint(ENDPOINT)).traffic) == {"blue": 100, "green": 0}


async def test_unsigned_request_is_refused(bot: RunningBot, backend: FakeBackend) -> None:
    body = bot.slash_body("/traffic", SHIFT, user=ALICE)
    answer = await bot.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 401
    await _nothing_happened(bot, backend)


async def test_wrongly_signed_request_is_refused(bot: RunningBot, backend: FakeBackend) -> None:
    body = bot.slash_body("/traffic", SHIFT, user=ALICE)
    answer = await bot.post(body, signed_headers("not-the-secret", body))
    assert answer.status == 401
    await _nothing_happened(bot, backend)


async def test_tampered_body_is_refused(bot: RunningBot, backend: FakeBackend) -> None:
    body = bot.slash_body("/traffic", f"{ENDPOINT} blue=50 green=50", user=ALICE)
    headers = signed_headers(SECRET, body)
    tampered = body.replace("blue%3D50", "blue%3D10").replace("green%3D50", "green%3D90")
    assert tampered != body
    answer = await bot.post(tampered, headers)
    assert answer.status == 401
    await _nothing_happened(bot, backend)


async def test_stale_request_is_refused(bot: RunningBot, backend: FakeBackend) -> None:
    body = bot.slash_body("/traffic", SHIFT, user=ALICE)
    six_minutes_ago = int(time.time()) - 6 * 60
    answer = await bot.post(body, signed_headers(SECRET, body, timestamp=six_minutes_ago))
    assert answer.status == 401
    await _nothing_happened(bot, backend)


async def test_signed_fresh_request_is_handled(bot: RunningBot, backend: FakeBackend) -> None:
    body = bot.slash_body("/traffic", SHIFT, user=ALICE)
    four_minutes_ago = int(time.time()) - 4 * 60
    answer = await bot.post(body, signed_headers(SECRET, body, timestamp=four_minutes_ago))
    assert answer.status == 200
    await bot.settle()
    assert [c.body["channel"] for c in bot.stub.calls_to("chat.postMessage")] == ["C0DEPLOYS"]
    assert len(await bot.services.approvals.pending()) == 1


# ---------------------------------------------------------------- clicks (block_actions)


async def _pending_request(bot: RunningBot) -> StubMessage:
    """A traffic shift waiting for approval: its message as posted, and nothing else done."""
    answer = await bot.slash("/traffic", SHIFT, user=ALICE)
    assert answer.status == 200
    await bot.settle()
    posted = bot.channel()
    assert len(posted) == 1, f"no approval request: {[m.text for m in bot.stub.ephemerals()]}"
    return copy.deepcopy(posted[0])


def _unsigned(body: str) -> dict[str, str]:
    return {"Content-Type": "application/x-www-form-urlencoded"}


def _wrongly_signed(body: str) -> dict[str, str]:
    return signed_headers("not-the-secret", body)


def _stale(body: str) -> dict[str, str]:
    return signed_headers(SECRET, body, timestamp=int(time.time()) - 6 * 60)


@pytest.mark.parametrize(
    "headers",
    [_unsigned, _wrongly_signed, _stale],
    ids=["unsigned", "wrongly-signed", "stale"],
)
async def test_refused_approve_click_changes_nothing(
    bot: RunningBot, backend: FakeBackend, headers: Callable[[str], dict[str, str]]
) -> None:
    request = await _pending_request(bot)
    calls_before = [c.method for c in bot.stub.calls]
    audit_before = await bot.services.audit.entries()
    body = bot.click_body(request, actions.APPROVE, user=BOB)
    answer = await bot.post(body, headers(body))
    assert answer.status == 401
    await bot.settle()
    assert [c.method for c in bot.stub.calls] == calls_before, "the bot called Slack"
    assert bot.stub.ephemerals(BOB) == []
    assert bot.stub.messages[(request.channel, request.ts)].version == 0
    assert await bot.services.audit.entries() == audit_before
    assert dict((await backend.get_endpoint(ENDPOINT)).traffic) == {"blue": 100, "green": 0}
    pending = await bot.services.approvals.pending()
    assert [(a.status, a.decided_by) for a in pending] == [("pending", None)]
    # The same click, signed and fresh, is then handled: the refusal did not use it up.
    assert (await bot.post(body, signed_headers(SECRET, body))).status == 200
    await bot.settle()
    assert dict((await backend.get_endpoint(ENDPOINT)).traffic) == {"blue": 90, "green": 10}
