"""The per-channel pacer on a fake clock: Slack's rate with bursts, Retry-After, order kept."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.pacing import ChannelPacer, retry_after


@dataclass
class FakeTime:
    """A clock whose sleeps move it (and let the other tasks run)."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def ratelimited(seconds: str | None) -> SlackApiError:
    headers = {"Retry-After": seconds} if seconds is not None else {}
    response = AsyncSlackResponse(
        client=AsyncWebClient(),
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": "ratelimited"},
        headers=headers,
        status_code=429,
    )
    return SlackApiError("ratelimited", response)  # type: ignore[no-untyped-call]  # slack_sdk leaves __init__ untyped


def refused(error: str) -> SlackApiError:
    response = AsyncSlackResponse(
        client=AsyncWebClient(),
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=200,
    )
    return SlackApiError(error, response)  # type: ignore[no-untyped-call]  # slack_sdk leaves __init__ untyped


async def test_one_a_second_after_a_burst_in_order() -> None:
    time = FakeTime()
    pacer = ChannelPacer(rate=1.0, burst=3, clock=time, sleep=time.sleep)
    sent: list[tuple[int, float]] = []

    async def post(i: int) -> int:
        sent.append((i, time.now - 1000.0))
        return i

    results = await asyncio.gather(
        *(pacer.send("C1", functools.partial(post, i)) for i in range(8))
    )
    assert results == list(range(8))
    assert [i for i, _ in sent] == list(range(8))
    # Three at once, then one a second.
    assert [at for _, at in sent] == pytest.approx([0, 0, 0, 1, 2, 3, 4, 5])


async def test_channels_do_not_wait_for_each_other_and_updates_are_not_paced() -> None:
    time = FakeTime()
    pacer = ChannelPacer(rate=1.0, burst=1, clock=time, sleep=time.sleep)
    at: dict[str, list[float]] = {}

    async def post(channel: str) -> None:
        at.setdefault(channel, []).append(time.now - 1000.0)

    await pacer.send("C1", lambda: post("C1"))
    await pacer.send("C2", lambda: post("C2"))
    await pacer.send("C1", lambda: post("C1-update"), cost=0)
    assert at == {"C1": [0.0], "C2": [0.0], "C1-update": [0.0]}
    await pacer.send("C1", lambda: post("C1"))
    assert at["C1"] == [0.0, 1.0]


async def test_retry_after_is_waited_and_the_same_call_goes_first() -> None:
    time = FakeTime()
    pacer = ChannelPacer(rate=1.0, burst=5, clock=time, sleep=time.sleep)
    sent: list[tuple[int, float]] = []
    limited = {1: 2}  # the second post is refused twice

    async def post(i: int) -> None:
        if limited.get(i):
            limited[i] -= 1
            raise ratelimited("7")
        sent.append((i, time.now - 1000.0))

    await asyncio.gather(*(pacer.send("C1", functools.partial(post, i)) for i in range(4)))
    assert [i for i, _ in sent] == [0, 1, 2, 3]
    assert [at for _, at in sent] == pytest.approx([0, 14, 15, 16])
    assert pacer.throttled == {"C1": 2}


async def test_other_errors_pass_through_and_retries_end() -> None:
    time = FakeTime()
    pacer = ChannelPacer(max_retries=2, clock=time, sleep=time.sleep)

    async def gone() -> None:
        raise refused("not_in_channel")

    with pytest.raises(SlackApiError):
        await pacer.send("C1", gone)
    assert time.slept == []

    async def always_limited() -> None:
        raise ratelimited(None)

    with pytest.raises(SlackApiError):
        await pacer.send("C1", always_limited)
    assert time.slept[-2:] == [1.0, 1.0]  # no Retry-After: a second


def test_retry_after_reads_the_header() -> None:
    assert retry_after(ratelimited("30")) == 30.0
    assert retry_after(ratelimited("soon")) == 1.0
    assert retry_after(ratelimited("99999")) == 120.0
    assert retry_after(refused("channel_not_found")) is None
