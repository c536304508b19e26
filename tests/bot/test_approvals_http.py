"""Traffic shifts through approval, over HTTP: who may decide, once, before expiry."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

from bot.app import approval_desk
from bot.approvals.flow import expire_overdue
from bot.db import Database
from bot.offline.slackstub import StubMessage
from bot.offline.slackstub.payloads import signed_headers
from commands import actions
from deploy.memory import MemoryBackend as FakeBackend
from tests.bot.harness import (
    ALICE,
    BOB,
    CAROL,
    ENDPOINT,
    SECRET,
    FakeClock,
    RunningBot,
    buttons,
    make_settings,
    message_text,
    running_bot,
    stand_in,
)


async def traffic(backend: FakeBackend) -> dict[str, int]:
    return {k: v for k, v in (await backend.get_endpoint(ENDPOINT)).traffic.items() if v}


async def request_shift(bot: RunningBot, text: str = "blue=90 green=10") -> StubMessage:
    answer = await bot.slash("/traffic", f"{ENDPOINT} {text}", user=ALICE)
    assert answer.status == 200
    await bot.settle()
    posted = bot.channel()
    assert posted, f"no approval request; ephemerals: {[m.text for m in bot.stub.ephemerals()]}"
    return copy.deepcopy(posted[-1])


async def test_request_shows_both_splits_expiry_and_buttons(
    bot: RunningBot, backend: FakeBackend
) -> None:
    request = await request_shift(bot)
    text = message_text(request)
    assert "<@U0ALICE> asks to shift traffic" in text
    assert "blue        100%  →  90%" in text
    assert "green       0%    →  10%" in text
    assert "Expires in 30 minutes" in text
    assert buttons(request) == [actions.APPROVE, actions.REJECT]
    approve = request.blocks[-1]["elements"][0]
    assert approve["confirm"]["title"]["text"] == "Approve this traffic shift?"
    assert await traffic(backend) == {"blue": 100}


async def test_self_approval_is_refused_and_changes_nothing(
    bot: RunningBot, backend: FakeBackend
) -> None:
    request = await request_shift(bot)
    assert (await bot.click(request, actions.APPROVE, user=ALICE)).status == 200
    await bot.settle()
    assert "cannot approve your own request" in bot.last_ephemeral(ALICE)
    assert await traffic(backend) == {"blue": 100}
    assert bot.stub.messages[(request.channel, request.ts)].version == 0
    assert [a.status for a in await bot.services.approvals.pending()] == ["pending"]


async def test_second_user_approves_once(bot: RunningBot, backend: FakeBackend) -> None:
    request = await request_shift(bot)
    assert (await bot.click(request, actions.APPROVE, user=BOB)).status == 200
    await bot.settle()
    assert await traffic(backend) == {"blue": 90, "green": 10}
    shown = bot.stub.messages[(request.channel, request.ts)]
    assert buttons(shown) == []
    text = message_text(shown)
    assert "Approved by <@U0BOB>" in text
    assert "Live now: blue 90%, green 10%." in text
    # A second click (from the stale message) and a click by another approver change nothing.
    updates = len(bot.stub.calls_to("chat.update"))
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.click(request, actions.REJECT, user=ALICE)
    await bot.settle()
    assert "already approved by <@U0BOB>" in bot.last_ephemeral(BOB)
    assert "already approved" in bot.last_ephemeral(ALICE)
    assert len(bot.stub.calls_to("chat.update")) == updates
    assert await traffic(backend) == {"blue": 90, "green": 10}
    entries = [(e.action, e.result) for e in await bot.services.audit.entries()]
    assert ("/traffic", "requested") in entries
    assert ("flightdeck_approve", "approved") in entries
    assert ("apply", "ok") in entries


async def test_retried_delivery_of_a_click_is_ignored(
    bot: RunningBot, backend: FakeBackend
) -> None:
    request = await request_shift(bot)
    body = bot.click_body(request, actions.APPROVE, user=BOB, action_ts="1764000000.000100")
    first = await bot.post(body, signed_headers(SECRET, body))
    again = await bot.post(body, signed_headers(SECRET, body))
    assert (first.status, again.status) == (200, 200)
    await bot.settle()
    assert await traffic(backend) == {"blue": 90, "green": 10}
    assert bot.stub.ephemerals(BOB) == []
    decided = [e for e in await bot.services.audit.entries() if e.action == actions.APPROVE]
    assert len(decided) == 1


async def test_concurrent_clicks_decide_once(bot: RunningBot, backend: FakeBackend) -> None:
    request = await request_shift(bot)
    answers = await asyncio.gather(
        *(bot.click(request, actions.APPROVE, user=BOB) for _ in range(5)),
        *(bot.click(request, actions.REJECT, user=ALICE) for _ in range(5)),
    )
    assert {a.status for a in answers} == {200}
    await bot.settle()
    results = [e.result for e in await bot.services.audit.entries() if e.approval_id]
    won = [r for r in results if r in ("approved", "rejected")]
    assert len(won) == 1, results
    final = await bot.services.approvals.get(request.blocks[-1]["elements"][0]["value"])
    assert final is not None and final.status == won[0]


async def test_user_without_grant_cannot_decide(bot: RunningBot, backend: FakeBackend) -> None:
    request = await request_shift(bot)
    await bot.click(request, actions.APPROVE, user=CAROL)
    await bot.settle()
    text = bot.last_ephemeral(CAROL)
    assert "You may not approve or reject traffic shifts" in text
    assert "`U0CAROL`" in text
    assert await traffic(backend) == {"blue": 100}


async def test_reject_leaves_traffic_alone(bot: RunningBot, backend: FakeBackend) -> None:
    request = await request_shift(bot)
    await bot.click(request, actions.REJECT, user=BOB)
    await bot.settle()
    text = message_text(bot.stub.messages[(request.channel, request.ts)])
    assert "Rejected by <@U0BOB>" in text
    assert await traffic(backend) == {"blue": 100}


async def test_expired_request_changes_nothing(
    bot: RunningBot, backend: FakeBackend, clock: FakeClock
) -> None:
    request = await request_shift(bot)
    clock.advance(minutes=31)
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    assert "expired" in bot.last_ephemeral(BOB)
    shown = bot.stub.messages[(request.channel, request.ts)]
    assert buttons(shown) == []
    assert "Expired at" in message_text(shown)
    assert await traffic(backend) == {"blue": 100}
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    assert "expired" in bot.last_ephemeral(BOB)
    assert bot.stub.messages[(request.channel, request.ts)].version == 1


async def test_pending_request_survives_a_restart(backend: FakeBackend, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    stub = stand_in()
    await stub.start()
    try:
        async with running_bot(backend=backend, settings=settings, stub=stub) as first:
            request = await request_shift(first)
        db = Database(url=settings.database())
        async with running_bot(backend=backend, settings=settings, stub=stub, db=db) as second:
            await second.click(request, actions.APPROVE, user=BOB)
            await second.settle()
            assert await traffic(backend) == {"blue": 90, "green": 10}
            assert "Approved by <@U0BOB>" in message_text(second.channel()[-1])
        db.dispose()
    finally:
        await stub.stop()


async def test_failed_apply_is_reported_in_the_message(
    bot: RunningBot, backend: FakeBackend
) -> None:
    request = await request_shift(bot)
    await backend.delete_deployment(ENDPOINT, "green")
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    text = message_text(bot.stub.messages[(request.channel, request.ts)])
    assert "Approved by <@U0BOB>" in text
    assert "Failed to apply: Deployment 'green' does not exist" in text
    assert await traffic(backend) == {"blue": 100}
    assert ("apply", "failed") in [(e.action, e.result) for e in await bot.services.audit.entries()]


async def test_rollback_restores_the_split_before_the_last_shift(
    bot: RunningBot, backend: FakeBackend
) -> None:
    first = await request_shift(bot)
    await bot.click(first, actions.APPROVE, user=BOB)
    await bot.settle()
    second = await request_shift(bot, "blue=50 green=50")
    await bot.click(second, actions.APPROVE, user=BOB)
    await bot.settle()
    assert await traffic(backend) == {"blue": 50, "green": 50}
    for expected in ({"blue": 90, "green": 10}, {"blue": 100}):
        rollback = await request_shift(bot, "rollback")
        assert "roll *product-recommender* back" in message_text(rollback)
        await bot.click(rollback, actions.APPROVE, user=BOB)
        await bot.settle()
        assert await traffic(backend) == expected
    await bot.slash("/traffic", f"{ENDPOINT} rollback", user=ALICE)
    await bot.settle()
    assert "Nothing to roll back" in bot.last_ephemeral(ALICE)


async def test_overdue_requests_are_marked_expired_without_a_click(
    bot: RunningBot, backend: FakeBackend, clock: FakeClock
) -> None:
    request = await request_shift(bot)
    assert await expire_overdue(approval_desk(bot.services)) == 0
    clock.advance(minutes=30)
    assert await expire_overdue(approval_desk(bot.services)) == 1
    assert await expire_overdue(approval_desk(bot.services)) == 0
    shown = bot.stub.messages[(request.channel, request.ts)]
    assert buttons(shown) == [] and "Expired at" in message_text(shown)
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    assert "expired" in bot.last_ephemeral(BOB)
    assert await traffic(backend) == {"blue": 100}
