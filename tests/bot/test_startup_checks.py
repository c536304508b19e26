"""``flightdeck serve``'s start-up checks against the strict stand-in: each configured channel
the bot cannot post to, and a missing scope, said in one line each with what to do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from pathlib import Path

from alerts.settings import parse_alert_settings
from bot.app import build_client
from bot.config import Settings, SlackSecrets
from bot.offline.slackstub import Directory, SlackStub
from bot.offline.slackstub.scopes import MANIFEST_SCOPES
from bot.server import serve
from bot.slack_io import SlackIO
from bot.startup_checks import check_channels
from tests.bot.harness import CHANNEL, NAMES, POLICY, TOKEN, seeded_backend

ALERTS, RECS, OLD, GONE = "C0ALERTS", "C0RECS", "C0OLD", "C0GONE"
ALERTS_CONFIG = {
    "channel": ALERTS,
    "endpoints": {
        "product-recommender": {"channel": RECS},
        "fraud-scorer": {"channel": OLD},
        "churn-model": {"channel": GONE},
    },
}


def make_stub(scopes: Collection[str] = MANIFEST_SCOPES) -> SlackStub:
    stub = SlackStub(
        token=TOKEN,
        directory=Directory(users=NAMES, channels={CHANNEL: list(NAMES)}),
        scopes=scopes,
    )
    stub.add_channel(ALERTS, name="alerts")
    stub.add_channel(RECS, name="recs", bot=False)  # never invited
    stub.add_channel(OLD, name="old")
    stub.archive(OLD)
    return stub


async def test_each_channel_the_bot_cannot_post_to_is_one_line() -> None:
    stub = make_stub(scopes=MANIFEST_SCOPES - {"files:write"})
    await stub.start()
    try:
        slack = SlackIO(client=build_client(token=TOKEN, api_url=stub.api_url))
        settings = parse_alert_settings(ALERTS_CONFIG)
        findings = await check_channels(slack, settings)
        problems = [f.text for f in findings if not f.ok]
        assert problems == [
            "Slack: the app lacks the scope(s) files:write: add them under OAuth & Permissions "
            "(slack/manifest.yml) and reinstall the app.",
            "Slack: alerts (churn-model) channel C0GONE: :warning: Flightdeck cannot find the "
            "channel `C0GONE` (deleted, mistyped, or private without the bot): check "
            "`alerts.endpoints.churn-model.channel`, or run `/invite @Flightdeck` in that channel.",
            "Slack: alerts (fraud-scorer) channel C0OLD: :warning: <#C0OLD> is archived, so "
            "nothing Flightdeck posts there arrives: unarchive it, or set another channel in "
            "`alerts.endpoints.fraud-scorer.channel`.",
            "Slack: alerts (product-recommender) channel C0RECS: :warning: Flightdeck is not in "
            "<#C0RECS>, so nothing it posts there arrives: run `/invite @Flightdeck` in <#C0RECS>.",
        ]
        assert [f.text for f in findings if f.ok] == [
            "Slack: alerts channel C0ALERTS (#alerts): Flightdeck can post there."
        ]
        # /alerts shows the same problems as a banner.
        assert {p.channel for p in slack.health.problems()} == {GONE, OLD, RECS}
    finally:
        await stub.stop()


async def test_serve_says_what_is_wrong_at_start(tmp_path: Path) -> None:
    stub = make_stub()
    await stub.start()
    said: list[str] = []
    stop = asyncio.Event()
    settings = Settings.model_validate(
        {
            "access": POLICY,
            "alerts": ALERTS_CONFIG,
            "home": tmp_path,
            "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        }
    )
    secrets = SlackSecrets(bot_token=TOKEN, signing_secret="s3cret", api_url=stub.api_url)
    running = asyncio.create_task(
        serve(
            settings,
            secrets,
            await seeded_backend(),
            host="127.0.0.1",
            port=0,
            stop=stop,
            announce=said.append,
        )
    )
    try:
        deadline = time.monotonic() + 30
        while not any(line.startswith("Flightdeck listens") for line in said):
            assert time.monotonic() < deadline and not running.done(), said
            await asyncio.sleep(0.01)
        checks = [line for line in said if line.startswith("Slack:")]
        assert len(checks) == 3
        assert "run `/invite @Flightdeck` in #C0RECS" in checks[-1]  # plain for the terminal
        assert "is archived" in checks[1] and "cannot find the channel `C0GONE`" in checks[0]
    finally:
        stop.set()
        assert await running == 0
        await stub.stop()
