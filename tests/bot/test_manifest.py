"""The app manifest in the repo matches what the app answers."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.offline.slackstub.scopes import MANIFEST_SCOPES
from commands import messages
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
    # The Slack stand-in is installed with the manifest's scopes (missing_scope otherwise).
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == MANIFEST_SCOPES


def forms_of(help_text: str) -> set[str]:
    """The literal words and options of a command's help: keywords (``canary``, ``off``,
    ``unlock``) and every ``--option``, from its backticked usage lines (not the examples)."""
    usage = "\n".join(line for line in help_text.splitlines() if not line.startswith("Example"))
    words: set[str] = set()
    for segment in re.findall(r"`([^`]+)`", usage):
        segment = re.sub(r"<[^>]*>", " ", segment)
        for token in re.split(r"[\s\[\]|]+", segment):
            if token.startswith("/") or not re.fullmatch(r"(--)?[a-z][a-z0-9-]*", token):
                continue
            words.add(token)
    return words


def test_usage_hints_list_every_form_of_each_command() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    helps = {
        "/deploy": messages.DEPLOY_HELP,
        "/traffic": messages.TRAFFIC_HELP,
        "/scale": messages.SCALE_HELP,
        "/logs": messages.LOGS_HELP,
        "/loadtest": messages.LOADTEST_HELP,
        "/alerts": messages.ALERTS_HELP,
        "/capacity": messages.CAPACITY_HELP,
    }
    assert {"canary", "lock", "unlock", "--dry-run"} <= forms_of(messages.TRAFFIC_HELP)
    assert {"--autoscale", "off"} <= forms_of(messages.SCALE_HELP)
    for command in manifest["features"]["slash_commands"]:
        hint = command["usage_hint"]
        hinted = set(re.split(r"[\s\[\]|<>]+", hint))
        missing = forms_of(helps[command["command"]]) - hinted
        assert not missing, f"{command['command']}'s usage hint lacks {sorted(missing)}"
        assert hint.endswith("| help"), hint
        assert len(hint) <= 1000
