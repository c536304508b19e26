"""The bot's Slack client retries what Slack gets wrong (5xx, HTML pages, dropped
connections, 429) with back-off, through slack_sdk's retry handlers, and then gives up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.app import build_client
from bot.offline.slackstub import Directory, Fault, SlackStub
from bot.pacing import ChannelPacer
from bot.slack_retries import RetryPolicy

TOKEN = "xoxb-retries"


class Sleeps:
    """A sleep that only writes down how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    server = SlackStub(token=TOKEN, directory=Directory(channels={"C1": []}))
    await server.start()
    yield server
    await server.stop()


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(500),
        Fault.server_error(503),
        Fault.html(502),
        Fault.html(504),
        Fault.drop(),
    ],
    ids=["500", "503", "html-502", "html-504", "dropped"],
)
async def test_slack_failures_are_retried_with_back_off(stub: SlackStub, fault: Fault) -> None:
    sleeps = Sleeps()
    client = build_client(token=TOKEN, api_url=stub.api_url, retry=RetryPolicy(sleep=sleeps))
    stub.inject("chat.postMessage", fault, times=2)
    await client.chat_postMessage(channel="C1", text="once")
    assert [m.text for m in stub.channel_messages("C1")] == ["once"]
    assert len(stub.calls_to("chat.postMessage")) == 3
    first, second = sleeps.waits
    assert 0 < first < second  # exponential back-off (0.5 s, then 1 s, with jitter)


async def test_a_rate_limit_waits_retry_after(stub: SlackStub) -> None:
    sleeps = Sleeps()
    client = build_client(token=TOKEN, api_url=stub.api_url, retry=RetryPolicy(sleep=sleeps))
    stub.inject("chat.update", Fault.ratelimited(retry_after=4))
    posted = await client.chat_postMessage(channel="C1", text="a")
    await client.chat_update(channel="C1", ts=posted["ts"], text="b")
    assert sleeps.waits == [4.0]
    assert stub.channel_messages("C1")[0].text == "b"


async def test_it_gives_up_and_says_why(stub: SlackStub) -> None:
    sleeps = Sleeps()
    client = build_client(
        token=TOKEN, api_url=stub.api_url, retry=RetryPolicy(sleep=sleeps, retries=3)
    )
    stub.inject("chat.postMessage", Fault.html(503), times=5)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C1", text="never")
    assert caught.value.response.status_code == 503
    assert len(stub.calls_to("chat.postMessage")) == 4
    assert stub.pending_faults("chat.postMessage") == 1
    stub.inject("chat.postMessage", Fault.drop(), times=3)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.chat_postMessage(channel="C1", text="never")
    assert stub.channel_messages("C1") == []


async def test_refusals_are_not_retried(stub: SlackStub) -> None:
    sleeps = Sleeps()
    client = build_client(token=TOKEN, api_url=stub.api_url, retry=RetryPolicy(sleep=sleeps))
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.chat_postMessage(channel="C404", text="x")
    assert (len(stub.calls_to("chat.postMessage")), sleeps.waits) == (1, [])


async def test_a_paced_call_waits_retry_after_once_in_its_lane(stub: SlackStub) -> None:
    """A 429 on a post in a pacer lane is waited by the lane only (once, the channel's later
    posts behind it); a call outside a lane keeps the client's own 429 retry."""
    client_sleeps, lane_sleeps = Sleeps(), Sleeps()
    client = build_client(token=TOKEN, api_url=stub.api_url, retry=RetryPolicy(sleep=client_sleeps))
    pacer = ChannelPacer(rate=1000.0, burst=10, sleep=lane_sleeps)
    stub.inject("chat.postMessage", Fault.ratelimited(retry_after=3))
    first = pacer.send("C1", lambda: client.chat_postMessage(channel="C1", text="first"))
    second = pacer.send("C1", lambda: client.chat_postMessage(channel="C1", text="second"))
    await asyncio.gather(first, second)
    assert [m.text for m in stub.channel_messages("C1")] == ["first", "second"]
    assert client_sleeps.waits == []
    # The lane's own pacing waits are tiny here (1000 a second): the one long wait is Retry-After.
    assert [wait for wait in lane_sleeps.waits if wait >= 1] == [3.0]
    assert pacer.throttled == {"C1": 1}
    assert len(stub.calls_to("chat.postMessage")) == 3
    # Outside a lane, the client still waits Retry-After and tries again.
    stub.inject("conversations.info", Fault.ratelimited(retry_after=2))
    info = await client.conversations_info(channel="C1")
    assert info["ok"] and client_sleeps.waits == [2.0]
