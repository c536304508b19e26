"""The access policy against the Slack stand-in's directory (user groups, channel members)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import build_client
from bot.config import AccessSettings
from bot.errors import AccessDeniedError
from bot.offline.slackstub import Directory, SlackStub
from bot.policy.access import AccessPolicy, SlackDirectory

TOKEN = "xoxb-access"


@pytest.fixture
async def stub() -> AsyncIterator[SlackStub]:
    directory = Directory(
        usergroups={"@ml-platform": ["U0GROUP1"], "@sre": ["U0SRE1"]},
        channels={"C0ONCALL": ["U0ONCALL1", "U0ONCALL2"]},
    )
    server = SlackStub(token=TOKEN, directory=directory)
    await server.start()
    yield server
    await server.stop()


def policy(stub: SlackStub, **access: object) -> AccessPolicy:
    client = build_client(token=TOKEN, api_url=stub.api_url)
    settings = AccessSettings.model_validate(access)
    return AccessPolicy(settings=settings, directory=SlackDirectory(client=client))


async def test_users_groups_and_channels(stub: SlackStub) -> None:
    group_id = stub.directory.group_id("@sre")
    access = policy(
        stub, deployers=["U0ALICE", "@ml-platform", group_id, "C0ONCALL"], approvers=["*"]
    )
    for user in ("U0ALICE", "U0GROUP1", "U0SRE1", "U0ONCALL2"):
        assert await access.allows(user, "deploy"), user
    assert not await access.allows("U0CAROL", "deploy")
    assert await access.allows("U0CAROL", "approve")


async def test_memberships_are_cached(stub: SlackStub) -> None:
    access = policy(stub, deployers=["@ml-platform", "C0ONCALL"])
    for _ in range(3):
        assert not await access.allows("U0NOBODY", "deploy")
    assert len(stub.calls_to("usergroups.users.list")) == 1
    assert len(stub.calls_to("conversations.members")) == 1


async def test_unknown_group_or_channel_grants_nothing(stub: SlackStub) -> None:
    access = policy(stub, deployers=["@nobody-here", "C0GONE"])
    assert not await access.allows("U0GROUP1", "deploy")


async def test_slack_errors_grant_nothing(stub: SlackStub) -> None:
    stub.fail("usergroups.list", "missing_scope")
    access = policy(stub, deployers=["@ml-platform"])
    assert not await access.allows("U0GROUP1", "deploy")


async def test_denials_say_how_to_get_the_grant(stub: SlackStub) -> None:
    with pytest.raises(AccessDeniedError) as no_policy:
        await AccessPolicy(
            settings=None,
            directory=SlackDirectory(client=build_client(token=TOKEN, api_url=stub.api_url)),
        ).require("U0CAROL", "deploy")
    assert "no access policy is configured" in no_policy.value.message
    assert "deployers: [U0CAROL]" in no_policy.value.message
    with pytest.raises(AccessDeniedError) as empty:
        await policy(stub, deployers=["U0ALICE"]).require("U0CAROL", "approve")
    assert "add your user ID `U0CAROL`" in empty.value.message
    assert "access.approvers" in empty.value.message
    with pytest.raises(AccessDeniedError) as denied:
        await policy(stub, deployers=["U0ALICE"]).require("U0CAROL", "deploy")
    assert "`access.deployers` grants it to `U0ALICE`" in denied.value.message
