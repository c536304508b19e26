"""An in-process stand-in for Slack's Web API, for the console and the tests.

An aiohttp server on 127.0.0.1 that answers the methods the bot calls (auth.test,
chat.postMessage, chat.update, chat.postEphemeral, the three steps of files_upload_v2,
usergroups.list, usergroups.users.list, conversations.members, apps.connections.open),
accepts ``response_url`` posts and a Socket Mode connection, and records every call's
method and body. It also keeps the conversation as Slack would show it: messages by
channel and ts (with their updates), ephemeral messages, files.

    stub = SlackStub(token="xoxb-test")
    await stub.start()
    client = AsyncWebClient(token="xoxb-test", base_url=stub.api_url)
    ...
    stub.calls_to("chat.postMessage")[0].body["channel"]
"""

from __future__ import annotations

from bot.offline.slackstub.server import SlackStub
from bot.offline.slackstub.state import ApiCall, Directory, Event, StubMessage

__all__ = ["ApiCall", "Directory", "Event", "SlackStub", "StubMessage"]
