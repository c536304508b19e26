"""An in-process stand-in for Slack's Web API, as strict as Slack, for the console and tests.

An aiohttp server on 127.0.0.1 that answers the methods the bot calls (auth.test,
chat.postMessage, chat.update, chat.postEphemeral, the three steps of files_upload_v2,
usergroups.list, usergroups.users.list, conversations.members, conversations.info,
apps.connections.open), accepts ``response_url`` posts and a Socket Mode connection, and
records every call's method and body. It keeps the conversation as Slack would show it:
channels and their members, messages by channel and ts (with their updates), ephemeral
messages, files.

It refuses what Slack refuses, with Slack's error codes and shapes: Block Kit checked by
slack_sdk's own models and Slack's limits (``checks``), channel membership, scopes
(``scopes``), rate limits per method tier and per channel (``limits``), response_url uses
and expiry; and a test can inject 429s, 5xx, HTML pages, slow answers and dropped
connections (``faults``).

    stub = SlackStub(token="xoxb-test", directory=Directory(channels={"C1": ["U1"]}))
    await stub.start()
    client = AsyncWebClient(token="xoxb-test", base_url=stub.api_url)
    stub.inject("chat.postMessage", Fault.ratelimited(retry_after=2))
    ...
    stub.calls_to("chat.postMessage")[0].body["channel"]
"""

from __future__ import annotations

from bot.offline.slackstub.faults import Fault
from bot.offline.slackstub.limits import RateLimits
from bot.offline.slackstub.server import SlackStub
from bot.offline.slackstub.state import ApiCall, Directory, Event, StubChannel, StubMessage

__all__ = [
    "ApiCall",
    "Directory",
    "Event",
    "Fault",
    "RateLimits",
    "SlackStub",
    "StubChannel",
    "StubMessage",
]
