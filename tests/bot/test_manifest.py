"""The app manifest in the repo matches what the app answers."""

from __future__ import annotations

from pathlib import Path

import yaml

from deploy.memory import MemoryBackend as FakeBackend
from tests.bot.harness import ALICE, make_settings, message_text, running_bot

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yml"


async def test_every_declared_command_is_answered(tmp_path: Path) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert sorted(commands) == [
        "/alerts",
        "/capacity",
        "/deploy",
        "/loadtest",
        "/logs",
        "/scale",
        "/traffic",
    ]
    async with running_bot(backend=FakeBackend(), settings=make_settings(tmp_path)) as bot:
        for command in commands:
            assert (await bot.slash(command, "help", user=ALICE)).status == 200
            await bot.settle()
            assert message_text(bot.stub.ephemerals(ALICE)[-1]).startswith(f"*{command}*")
        assert (await bot.slash("/undeclared", "help", user=ALICE)).status == 404


def test_urls_interactivity_and_scopes() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    for command in manifest["features"]["slash_commands"]:
        assert command["url"].endswith("/slack/events")
        assert command["should_escape"] is False
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith("/slack/events")
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "commands",
        "chat:write",
        "files:write",
        "usergroups:read",
        "channels:read",
        "groups:read",
    }
