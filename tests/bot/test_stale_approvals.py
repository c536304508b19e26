"""A request approved after the split moved another way: refused, nothing changed, both splits
shown, and one click asks again against today's split (through the real Bolt app)."""

from __future__ import annotations

import copy

from bot.offline.slackstub import StubMessage
from commands import actions
from deploy.memory import MemoryBackend as FakeBackend
from tests.bot.harness import (
    ALICE,
    BOB,
    ENDPOINT,
    RunningBot,
    buttons,
    message_text,
)


async def traffic(backend: FakeBackend) -> dict[str, int]:
    return {k: v for k, v in (await backend.get_endpoint(ENDPOINT)).traffic.items() if v}


async def request(bot: RunningBot, text: str) -> StubMessage:
    assert (await bot.slash("/traffic", f"{ENDPOINT} {text}", user=ALICE)).status == 200
    await bot.settle()
    return copy.deepcopy(bot.channel()[-1])


async def test_stale_shift_is_refused_with_both_splits_and_asks_again(
    bot: RunningBot, backend: FakeBackend
) -> None:
    shift = await request(bot, "blue=90 green=10")
    assert "blue        100%  →  90%" in message_text(shift)
    # An emergency move from the CLI: straight to the platform, no approval.
    await backend.set_traffic(ENDPOINT, {"blue": 0, "green": 100})

    await bot.click(shift, actions.APPROVE, user=BOB)
    await bot.settle()

    assert await traffic(backend) == {"green": 100}
    shown = copy.deepcopy(bot.stub.messages[(shift.channel, shift.ts)])
    text = message_text(shown)
    assert "split changed after this request" in text
    assert "asked against: blue 100%" in text
    assert "live now: green 100%" in text
    assert "Nothing changed" in text
    assert buttons(shown) == [actions.ASK_AGAIN]
    entries = [(e.action, e.result) for e in await bot.services.audit.entries()]
    assert ("apply", "failed") in entries
    # No history entry: a later rollback must not return to a split never applied.
    assert await bot.services.history.last_shift(ENDPOINT) is None

    posted = len(bot.channel())
    await bot.click(shown, actions.ASK_AGAIN, user=ALICE)
    await bot.settle()
    assert len(bot.channel()) == posted + 1
    again = copy.deepcopy(bot.channel()[-1])
    again_text = message_text(again)
    assert "blue        0%    →  90%" in again_text
    assert "green       100%  →  10%" in again_text
    assert buttons(again) == [actions.APPROVE, actions.REJECT]
    await bot.click(again, actions.APPROVE, user=BOB)
    await bot.settle()
    assert await traffic(backend) == {"blue": 90, "green": 10}


async def test_ask_again_needs_a_deployer(bot: RunningBot, backend: FakeBackend) -> None:
    shift = await request(bot, "blue=90 green=10")
    await backend.set_traffic(ENDPOINT, {"blue": 50, "green": 50})
    await bot.click(shift, actions.APPROVE, user=BOB)
    await bot.settle()
    shown = copy.deepcopy(bot.stub.messages[(shift.channel, shift.ts)])
    posted = len(bot.channel())
    await bot.click(shown, actions.ASK_AGAIN, user="U0MALLORY")
    await bot.settle()
    assert len(bot.channel()) == posted
    assert "deploy" in bot.last_ephemeral("U0MALLORY")


async def test_stale_rollback_is_refused_the_same_way(
    bot: RunningBot, backend: FakeBackend
) -> None:
    first = await request(bot, "blue=90 green=10")
    await bot.click(first, actions.APPROVE, user=BOB)
    await bot.settle()
    rollback = await request(bot, "rollback")
    await backend.set_traffic(ENDPOINT, {"blue": 0, "green": 100})
    await bot.click(rollback, actions.APPROVE, user=BOB)
    await bot.settle()
    assert await traffic(backend) == {"green": 100}
    shown = copy.deepcopy(bot.stub.messages[(rollback.channel, rollback.ts)])
    assert "live now: green 100%" in message_text(shown)
    assert buttons(shown) == [actions.ASK_AGAIN]
