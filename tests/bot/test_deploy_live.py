"""``/deploy`` onto a deployment that takes live (or mirrored) traffic: held for an approver's
click like a shift (per-endpoint ``approvals.deploy_live``), through the real Bolt app."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.offline.slackstub import StubMessage
from commands import actions
from deploy.memory import MemoryBackend as FakeBackend
from deploy.types import ModelRef
from tests.bot.harness import (
    ALICE,
    BOB,
    ENDPOINT,
    FakeClock,
    RunningBot,
    buttons,
    make_settings,
    message_text,
    running_bot,
)


def with_policy(tmp_path: Path, approvals: dict[str, Any]) -> Any:
    settings = make_settings(tmp_path)
    merged = {**settings.approvals.model_dump(), **approvals}
    return settings.model_validate({**settings.model_dump(), "approvals": merged})


async def model(backend: FakeBackend, deployment: str) -> str | None:
    return (await backend.get_deployment(ENDPOINT, deployment)).model


async def deploy(bot: RunningBot, text: str) -> None:
    assert (await bot.slash("/deploy", f"{ENDPOINT} {text}", user=ALICE)).status == 200
    await bot.settle()


def last(bot: RunningBot) -> StubMessage:
    return copy.deepcopy(bot.channel()[-1])


async def test_deploy_onto_the_live_deployment_waits_for_an_approver(
    bot: RunningBot, backend: FakeBackend
) -> None:
    await deploy(bot, "blue --model recommendation-model:2")
    assert await model(backend, "blue") == "recommendation-model:1"
    (request,) = bot.channel()
    text = message_text(request)
    assert "Deploy onto live blue on product-recommender" in text
    assert "takes 100% of the live traffic" in text
    assert "model      recommendation-model:1  →  recommendation-model:2" in text
    assert "Traffic now: blue 100%." in text
    assert buttons(request) == [actions.APPROVE, actions.REJECT]
    assert [a.kind for a in await bot.services.approvals.pending()] == ["deploy_live"]
    # Four eyes: the requester cannot approve it.
    await bot.click(request, actions.APPROVE, user=ALICE)
    await bot.settle()
    assert "cannot approve your own request" in bot.last_ephemeral(ALICE)
    assert await model(backend, "blue") == "recommendation-model:1"

    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    assert await model(backend, "blue") == "recommendation-model:2"
    shown = message_text(bot.stub.messages[(request.channel, request.ts)])
    assert "Approved by <@U0BOB>" in shown
    assert "blue serves recommendation-model:2 on 1 instance(s). Live now: blue 100%." in shown
    entries = [(e.action, e.result) for e in await bot.services.audit.entries()]
    assert ("/deploy", "requested") in entries and ("apply", "ok") in entries


async def test_a_mirrored_deployment_counts_as_live(bot: RunningBot, backend: FakeBackend) -> None:
    await backend.set_traffic(ENDPOINT, mirror_traffic={"green": 10})
    await deploy(bot, "green --model recommendation-model:1")
    assert await model(backend, "green") == "recommendation-model:2"
    assert "takes a 10% mirror of the traffic" in message_text(last(bot))


async def test_an_idle_deployment_deploys_at_once(bot: RunningBot, backend: FakeBackend) -> None:
    await deploy(bot, "green --model recommendation-model:1")
    assert await model(backend, "green") == "recommendation-model:1"
    assert await bot.services.approvals.pending() == []


async def test_the_request_expires(bot: RunningBot, backend: FakeBackend, clock: FakeClock) -> None:
    await deploy(bot, "blue --model recommendation-model:2")
    request = last(bot)
    clock.advance(minutes=31)
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    assert "expired" in bot.last_ephemeral(BOB)
    assert await model(backend, "blue") == "recommendation-model:1"


async def test_a_stale_deploy_request_is_refused_and_asked_again(
    bot: RunningBot, backend: FakeBackend
) -> None:
    await deploy(bot, "blue --model recommendation-model:2")
    request = last(bot)
    await backend.set_traffic(ENDPOINT, {"blue": 50, "green": 50})
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    assert await model(backend, "blue") == "recommendation-model:1"
    shown = copy.deepcopy(bot.stub.messages[(request.channel, request.ts)])
    text = message_text(shown)
    assert "asked against: blue 100%; live now: blue 50%, green 50%" in text
    assert buttons(shown) == [actions.ASK_AGAIN]
    await bot.click(shown, actions.ASK_AGAIN, user=ALICE)
    await bot.settle()
    again = last(bot)
    assert "takes 50% of the live traffic" in message_text(again)
    await bot.click(again, actions.APPROVE, user=BOB)
    await bot.settle()
    assert await model(backend, "blue") == "recommendation-model:2"


async def test_a_model_changed_since_the_request_is_stale_too(
    bot: RunningBot, backend: FakeBackend
) -> None:
    await deploy(bot, "blue --model recommendation-model:2")
    request = last(bot)
    spec = await backend.clone_deployment_spec(
        ENDPOINT,
        "blue",
        name="blue",
        model=ModelRef(name="recommendation-model", version="1"),
        instance_count=2,
    )
    await backend.create_or_update_deployment(spec)
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    assert await model(backend, "blue") == "recommendation-model:1"
    text = message_text(bot.stub.messages[(request.channel, request.ts)])
    assert "blue changed after this request was made" in text
    assert "live now: recommendation-model:1, 2 x" in text


@pytest.fixture
async def policy_bot(
    backend: FakeBackend, clock: FakeClock, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[RunningBot]:
    settings = with_policy(tmp_path, request.param)
    async with running_bot(backend=backend, settings=settings, clock=clock) as running:
        yield running


@pytest.mark.parametrize(
    "policy_bot", [{"endpoints": {"Product-Recommender": {"deploy_live": "refuse"}}}], indirect=True
)
async def test_refuse_answers_with_the_blue_green_way(
    policy_bot: RunningBot, backend: FakeBackend
) -> None:
    await deploy(policy_bot, "blue --model recommendation-model:2 --dry-run")
    dry = policy_bot.last_ephemeral(ALICE)
    assert "Without `--dry-run` it would be refused" in dry and "deploy_live: refuse" in dry
    await deploy(policy_bot, "blue --model recommendation-model:2")
    refused = policy_bot.last_ephemeral(ALICE)
    assert "approvals.deploy_live: refuse" in refused
    assert "Deploy blue/green instead" in refused and "canary" in refused
    assert policy_bot.channel() == []
    assert await model(backend, "blue") == "recommendation-model:1"


@pytest.mark.parametrize(
    "policy_bot",
    [{"deploy_live": "refuse", "endpoints": {ENDPOINT: {"deploy_live": "allow"}}}],
    indirect=True,
)
async def test_allow_deploys_at_once(policy_bot: RunningBot, backend: FakeBackend) -> None:
    await deploy(policy_bot, "blue --model recommendation-model:2 --dry-run")
    assert "deploy_live: allow` holds" in policy_bot.last_ephemeral(ALICE)
    await deploy(policy_bot, "blue --model recommendation-model:2")
    assert await model(backend, "blue") == "recommendation-model:2"
    assert await policy_bot.services.approvals.pending() == []


async def test_dry_run_says_an_approval_is_needed(bot: RunningBot, backend: FakeBackend) -> None:
    await deploy(bot, "blue --model recommendation-model:2 --dry-run")
    assert "posted for an approver's click" in bot.last_ephemeral(ALICE)
    await deploy(bot, "green --model recommendation-model:1 --dry-run")
    assert "takes no traffic" in bot.last_ephemeral(ALICE)
    assert bot.channel() == []


def test_config_policy_per_endpoint(tmp_path: Path) -> None:
    config = tmp_path / "flightdeck.yml"
    config.write_text(
        "approvals:\n  deploy_live: refuse\n  endpoints:\n    fraud: {deploy_live: allow}\n"
    )
    approvals = load_settings(config, {}).approvals
    assert approvals.deploy_live_for("fraud") == "allow"
    assert approvals.deploy_live_for("FRAUD") == "allow"
    assert approvals.deploy_live_for("product-recommender") == "refuse"
    assert load_settings(None, {}).approvals.deploy_live_for("x") == "require"
    config.write_text("approvals:\n  deploy_live: sometimes\n")
    with pytest.raises(ConfigError, match="approvals.deploy_live"):
        load_settings(config, {})
