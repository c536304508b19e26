"""The Slack stand-in answers as Slack does for what the bot uses, and records every call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.app import build_client
from bot.offline.slackstub import SlackStub

TOKEN = "xoxb-stub"


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    server = SlackStub(token=TOKEN)
    await server.start()
    yield server
    await server.stop()


async def test_messages_updates_and_files(stub: SlackStub) -> None:
    client = build_client(token=TOKEN, api_url=stub.api_url)
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == (
        stub.bot_user_id,
        stub.bot_id,
        stub.team_id,
    )
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
    assert (stored.content, stored.channel) == (b"a\nb\n", "C1")
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


async def test_tokens_failures_and_response_urls(stub: SlackStub) -> None:
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await build_client(token="xoxb-wrong", api_url=stub.api_url).auth_test()
    client = build_client(token=TOKEN, api_url=stub.api_url)
    stub.fail("chat.postMessage", "not_in_channel")
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.chat_postMessage(channel="C1", text="x")
    await client.chat_postMessage(channel="C1", text="x")
    url = stub.response_url(user="U1", channel="C1")
    async with aiohttp.ClientSession() as session:
        for expected in (200, 200, 200, 200, 200, 404):
            async with session.post(url, json={"text": "private"}) as response:
                assert response.status == expected
    assert [m.text for m in stub.ephemerals("U1")] == ["private"] * 5
