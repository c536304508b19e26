"""The Slack stand-in answers as Slack does for what the bot uses, refuses what Slack
refuses with Slack's error codes, and records every call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_client
from bot.offline.slackstub import Directory, Fault, RateLimits, SlackStub
from bot.offline.slackstub.scopes import MANIFEST_SCOPES
from bot.offline.slackstub.server import RESPONSE_URL_SECONDS

TOKEN = "xoxb-stub"
USERS = {"U1": "ann", "U2": "ben", "U3": "cid"}


class Clock:
    """Seconds, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def stub(clock: Clock) -> AsyncIterator[SlackStub]:
    directory = Directory(users=USERS, channels={"C1": ["U1", "U2"], "C2": ["U1"]})
    server = SlackStub(token=TOKEN, directory=directory, clock=clock)
    await server.start()
    yield server
    await server.stop()


def plain(stub: SlackStub) -> AsyncWebClient:
    """A client that does not retry: every answer of the stand-in shows."""
    return AsyncWebClient(token=TOKEN, base_url=stub.api_url, retry_handlers=[])


async def refusal(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        await call
    data = caught.value.response.data
    assert isinstance(data, dict)
    return data


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


async def test_messages_updates_and_files(stub: SlackStub) -> None:
    client = build_client(token=TOKEN, api_url=stub.api_url)
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == (
        stub.bot_user_id,
        stub.bot_id,
        stub.team_id,
    )
    assert set(auth.headers["X-OAuth-Scopes"].split(",")) == MANIFEST_SCOPES
    posted = await client.chat_postMessage(channel="C1", text="hi", blocks=[{"type": "divider"}])
    await client.chat_update(channel="C1", ts=posted["ts"], text="bye")
    (message,) = stub.channel_messages("C1")
    assert (message.text, message.version) == ("bye", 1)
    with pytest.raises(SlackApiError, match="message_not_found"):
        await client.chat_update(channel="C1", ts="1.0", text="x")
    upload = await client.files_upload_v2(
        channel="C1", content="a\nb\n", filename="x.log", title="X"
    )
    assert upload["file"]["title"] == "X"
    (stored,) = stub.files.values()
    assert (stored.content, stored.channel, stored.size) == (b"a\nb\n", "C1", 4)
    methods = [c.method for c in stub.calls]
    assert methods == [
        "auth.test",
        "chat.postMessage",
        "chat.update",
        "chat.update",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert stub.calls[1].body["channel"] == "C1"


async def test_tokens_failures_and_response_urls(stub: SlackStub, clock: Clock) -> None:
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await build_client(token="xoxb-wrong", api_url=stub.api_url).auth_test()
    client = build_client(token=TOKEN, api_url=stub.api_url)
    stub.fail("chat.postMessage", "not_in_channel")
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.chat_postMessage(channel="C1", text="x")
    await client.chat_postMessage(channel="C1", text="x")
    url = stub.response_url(user="U1", channel="C1")
    late = stub.response_url(user="U1", channel="C1")
    async with aiohttp.ClientSession() as session:
        for expected in ((200, "ok"),) * 5 + ((404, "used_url"),):
            async with session.post(url, json={"text": "private"}) as response:
                assert (response.status, await response.text()) == expected
        async with session.post(late, json={}) as response:
            assert (response.status, await response.text()) == (400, "no_text")
        clock.now += RESPONSE_URL_SECONDS + 1
        async with session.post(late, json={"text": "late"}) as response:
            assert (response.status, await response.text()) == (404, "expired_url")
    assert [m.text for m in stub.ephemerals("U1")] == ["private"] * 5


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_block_kit_and_text_are_checked_as_slack_does(stub: SlackStub, clock: Clock) -> None:
    client = plain(stub)
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([section("x" * 4000)], "[json-pointer:/blocks/0]"),
        ([{"type": "divider"}] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
        ([{"type": "carousel-of-doom"}], "[json-pointer:/blocks/0/type]"),
        ([section("a", "same"), section("b", "same")], "[json-pointer:/blocks/1/block_id]"),
        ([{**section("a"), "colour": "red"}], "[json-pointer:/blocks/0/colour]"),
    ]
    for blocks, where in cases:
        clock.now += 1  # one post a second: within the channel's rate
        data = await refusal(client.chat_postMessage(channel="C1", text="t", blocks=blocks))
        assert data["error"] == "invalid_blocks"
        (detail,) = data["response_metadata"]["messages"]
        assert detail.startswith("[ERROR] ") and detail.endswith(where), detail
    clock.now += 10
    data = await refusal(client.chat_postMessage(channel="C1", text="x" * 40_001))
    assert data["error"] == "msg_too_long"
    assert (await refusal(client.chat_postMessage(channel="C1")))["error"] == "no_text"
    posted = await client.chat_postMessage(channel="C1", text="x" * 40_000, blocks=[])
    data = await refusal(client.chat_update(channel="C1", ts=posted["ts"]))
    assert data["error"] == "no_text"
    data = await refusal(client.chat_update(channel="C1", ts=""))
    assert data["error"] == "invalid_arguments"
    assert len(stub.channel_messages("C1")) == 1


async def test_channels_the_bot_cannot_post_in(stub: SlackStub) -> None:
    client = plain(stub)
    assert (await refusal(client.chat_postMessage(channel="C9", text="x")))[
        "error"
    ] == "channel_not_found"
    stub.remove_bot("C2")
    data = await refusal(client.chat_postMessage(channel="C2", text="x"))
    assert data["error"] == "not_in_channel"
    info = await client.conversations_info(channel="C2")
    assert (info["channel"]["is_member"], info["channel"]["is_archived"]) == (False, False)
    stub.invite_bot("C2")
    await client.chat_postMessage(channel="C2", text="x")
    stub.archive("C2")
    assert (await refusal(client.chat_postMessage(channel="C2", text="x")))[
        "error"
    ] == "is_archived"
    data = await refusal(client.chat_postEphemeral(channel="C1", user="U3", text="x"))
    assert data["error"] == "user_not_in_channel"
    await client.chat_postEphemeral(channel="C1", user="U2", text="psst")
    assert [m.text for m in stub.ephemerals("U2")] == ["psst"]
    direct = await client.chat_postMessage(channel="U3", text="hello")
    assert direct["channel"] == stub.dm_channel("U3")
    assert [m.text for m in stub.channel_messages(stub.dm_channel("U3"))] == ["hello"]


async def test_a_scope_the_manifest_lacks(clock: Clock) -> None:
    stub = SlackStub(
        token=TOKEN,
        directory=Directory(channels={"C1": []}),
        scopes=MANIFEST_SCOPES - {"files:write"},
        clock=clock,
    )
    await stub.start()
    try:
        with pytest.raises(SlackApiError) as caught:
            await plain(stub).files_upload_v2(channel="C1", content="x", filename="x.log")
        assert caught.value.response["error"] == "missing_scope"
        assert caught.value.response["needed"] == "files:write"
        assert "files:write" not in caught.value.response["provided"].split(",")
    finally:
        await stub.stop()


async def test_rate_limits_per_channel_and_per_tier(stub: SlackStub, clock: Clock) -> None:
    client = plain(stub)
    burst = RateLimits().post_burst
    for i in range(burst):
        await client.chat_postMessage(channel="C1", text=str(i))
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C1", text="one too many")
    assert caught.value.response.status_code == 429
    assert caught.value.response["error"] == "ratelimited"
    assert caught.value.response.headers["Retry-After"] == "1"
    await client.chat_postMessage(channel="C2", text="another channel")
    clock.now += 1.0
    await client.chat_postMessage(channel="C1", text="a second later")
    assert stub.throttled == [("chat.postMessage", "C1")]
    for _ in range(20):  # usergroups.list is Tier 2: 20 a minute
        await client.usergroups_list()
    with pytest.raises(SlackApiError) as caught:
        await client.usergroups_list()
    assert caught.value.response.headers["Retry-After"] == "3"
    clock.now += 3.0
    await client.usergroups_list()


async def test_members_and_usergroups_are_paged(clock: Clock) -> None:
    people = [f"U{i:04d}" for i in range(250)]
    directory = Directory(channels={"C1": people}, usergroups={"@big": people})
    stub = SlackStub(token=TOKEN, directory=directory, clock=clock, invited=False)
    await stub.start()
    try:
        client = plain(stub)
        first = await client.conversations_members(channel="C1")
        assert len(first["members"]) == 100
        seen: list[str] = []
        async for page in await client.conversations_members(channel="C1", limit=100):
            seen += page["members"]
        assert seen == people
        group = (await client.usergroups_list())["usergroups"][0]["id"]
        listed: list[str] = []
        async for page in await client.usergroups_users_list(usergroup=group):
            listed += page["users"]
        assert listed == people
        with pytest.raises(SlackApiError, match="invalid_cursor"):
            await client.conversations_members(channel="C1", cursor="not-a-cursor")
    finally:
        await stub.stop()


async def test_uploads_beyond_a_mebibyte(stub: SlackStub) -> None:
    client = plain(stub)
    content = b"x" * (3 * 2**20)
    await client.files_upload_v2(channel="C1", content=content, filename="big.log")
    (stored,) = stub.files.values()
    assert stored.size == len(content)
    with pytest.raises(SlackApiError, match="file_size_exceeded"):
        await client.files_getUploadURLExternal(filename="huge.bin", length=1_000_000_001)


async def test_injected_faults(stub: SlackStub) -> None:
    client = plain(stub)
    stub.inject("chat.postMessage", Fault.server_error(503))
    stub.inject("chat.postMessage", Fault.html(502))
    stub.inject("chat.postMessage", Fault.ratelimited(retry_after=7))
    stub.inject("chat.postMessage", Fault.error_code("fatal_error"))
    answers = []
    for _ in range(4):
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel="C1", text="x")
        response = caught.value.response
        answers.append((response.status_code, response.headers.get("Retry-After")))
    assert answers == [(503, None), (502, None), (429, "7"), (200, None)]
    stub.inject("chat.postMessage", Fault.drop())
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.chat_postMessage(channel="C1", text="x")
    stub.inject("auth.test", Fault.slow(0.5))
    seconds: Any = 0.1  # slack_sdk types the timeout as int; aiohttp takes a float
    quick = AsyncWebClient(token=TOKEN, base_url=stub.api_url, timeout=seconds, retry_handlers=[])
    with pytest.raises(TimeoutError):
        await quick.auth_test()
    stub.inject("upload", Fault.html(500))
    with pytest.raises(SlackRequestError, match="status: 500"):
        await client.files_upload_v2(channel="C1", content="x", filename="x.log")
    assert stub.channel_messages("C1") == [] and stub.files == {}
    assert json.loads(json.dumps([c.method for c in stub.calls]))[-1] == "upload"
