"""The seed's flow from Slack, for real: the Bolt app over HTTP driving the local platform.

The platform (Router + Platform, in-process) serves the example product recommender
with real azmlinfsrv instances; blue is deployed at 100% beforehand, as `flightdeck
demo` does. Then, through signed slash commands and button clicks: deploy green,
shift 90/10 approved by a second user after a refused self-approval, roll back,
scale, read logs. Each step checks what the bot posted and the platform's state.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.offline.slackstub import StubMessage
from commands import actions
from deploy.local.platform import Platform
from deploy.specs import load_deployment_spec, load_endpoint_spec
from tests.bot.harness import (
    ALICE,
    BOB,
    CAROL,
    RunningBot,
    buttons,
    make_settings,
    message_text,
    running_bot,
)
from tests.deploy.local.platform_kit import running_platform

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=30)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "product-recommender"
EP = "product-recommender"
FAST_PROBES = [
    "readiness_probe.initial_delay=0",
    "readiness_probe.period=1",
    "liveness_probe.initial_delay=1",
    "liveness_probe.period=1",
    "liveness_probe.failure_threshold=20",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    """The local platform with the example endpoint, blue (model v1) taking all traffic."""
    if not (EXAMPLES / "blue-deployment.yml").is_file():
        pytest.fail(f"the example endpoint ships in the repository but is not at {EXAMPLES}")
    home = tmp_path_factory.mktemp("platform")
    async with running_platform(home) as running:
        await running.create_or_update_endpoint(load_endpoint_spec(EXAMPLES / "endpoint.yml"))
        blue = load_deployment_spec(EXAMPLES / "blue-deployment.yml", overrides=FAST_PROBES)
        await running.create_or_update_deployment(blue)
        await running.set_traffic(EP, {"blue": 100})
        for version in ("1", "2"):
            path = EXAMPLES / f"model-v{version}"
            await running.register_model("recommendation-model", version, str(path))
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def bot(platform: Platform, tmp_path: Path) -> AsyncIterator[RunningBot]:
    async with running_bot(backend=platform, settings=make_settings(tmp_path)) as running:
        yield running


async def live(platform: Platform) -> dict[str, int]:
    return {k: v for k, v in (await platform.get_endpoint(EP)).traffic.items() if v}


async def shift(bot: RunningBot, text: str) -> StubMessage:
    assert (await bot.slash("/traffic", f"{EP} {text}", user=ALICE)).status == 200
    await bot.settle()
    return copy.deepcopy(bot.channel()[-1])


async def test_the_seed_flow_from_slack(bot: RunningBot, platform: Platform) -> None:
    # Everyone may look.
    await bot.slash("/traffic", EP, user=CAROL)
    await bot.settle()
    assert "blue        100%" in bot.last_ephemeral(CAROL)

    # Deploy green: model v2 with blue's settings, at 0%, one message updated as it goes.
    await bot.slash("/deploy", f"{EP} green --model recommendation-model:2", user=ALICE)
    await bot.settle(180)
    (deployed,) = bot.channel()
    assert len(bot.stub.calls_to("chat.postMessage")) == 1
    assert deployed.version >= 2, "progress updated the message"
    text = message_text(deployed)
    assert "green deployed to product-recommender" in text, text
    assert "it takes 0% of" in text
    assert buttons(deployed) == [actions.SHIFT_TO_NEW]
    green = await platform.get_deployment(EP, "green")
    assert green.model == "recommendation-model:2" and green.ready_instances == 1
    answer = await platform.invoke(EP, b'{"data": [[1.0, 2.0, 3.0, 4.0, 5.0]]}', deployment="green")
    assert (answer.status, answer.deployment) == (200, "green")
    assert await live(platform) == {"blue": 100}

    # Shift 90/10: the requester's own approval is refused, a second user's applies it.
    request = await shift(bot, "blue=90 green=10")
    await bot.click(request, actions.APPROVE, user=ALICE)
    await bot.settle()
    assert "cannot approve your own request" in bot.last_ephemeral(ALICE)
    assert await live(platform) == {"blue": 100}
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    assert await live(platform) == {"blue": 90, "green": 10}
    decided = message_text(bot.channel()[-1])
    assert "Approved by <@U0BOB>" in decided and "Live now: blue 90%, green 10%." in decided

    # Roll back, through approval as well.
    rollback = await shift(bot, "rollback")
    await bot.click(rollback, actions.APPROVE, user=BOB)
    await bot.settle()
    assert await live(platform) == {"blue": 100}
    assert "Live now: blue 100%." in message_text(bot.channel()[-1])

    # Scale blue to 2 instances.
    await bot.slash("/scale", f"{EP} blue 2", user=ALICE)
    await bot.settle(180)
    scaled = message_text(bot.channel()[-1])
    assert "Done. *blue* on product-recommender: 2 x Standard_DS3_v2, healthy." in scaled, scaled
    blue = await platform.get_deployment(EP, "blue")
    assert (blue.instance_count, blue.ready_instances) == (2, 2)

    # Logs: the instances' own lines.
    await bot.slash("/logs", f"{EP} blue --lines 20", user=CAROL)
    await bot.settle()
    shown = message_text(bot.channel()[-1])
    assert "inference-server logs of blue on product-recommender" in shown
    # An instance may log more after the message was made (azmlinfsrv reports its own
    # telemetry errors late), so the message's lines are looked for in a longer tail.
    expected = (await platform.get_logs(EP, "blue", lines=200)).splitlines()
    assert expected and any(line.strip() and line[:40] in shown for line in expected)

    results = [(e.action, e.result) for e in await bot.services.audit.entries()]
    assert results == [
        ("/traffic", "ok"),
        ("/deploy", "ok"),
        ("/traffic", "requested"),
        ("flightdeck_approve", "denied"),
        ("apply", "ok"),
        ("flightdeck_approve", "approved"),
        ("/traffic", "requested"),
        ("apply", "ok"),
        ("flightdeck_approve", "approved"),
        ("/scale", "ok"),
        ("/logs", "ok"),
    ]
