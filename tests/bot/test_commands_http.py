"""Slash commands over HTTP on an in-memory backend: answers, progress, errors, access, audit."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from bot.offline.slackstub.payloads import signed_headers
from commands import actions
from deploy.memory import MemoryBackend as FakeBackend
from tests.bot.harness import (
    ALICE,
    BOB,
    CAROL,
    ENDPOINT,
    SECRET,
    RunningBot,
    buttons,
    make_settings,
    message_text,
    running_bot,
    seeded_backend,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "product-recommender"


async def test_help_answers_privately(bot: RunningBot) -> None:
    for command in ("/deploy", "/traffic", "/scale", "/logs", "/loadtest"):
        await bot.slash(command, "help", user=CAROL)
        await bot.settle()
        assert message_text(bot.stub.ephemerals(CAROL)[-1]).startswith(f"*{command}*")
    assert bot.channel() == []


async def test_usage_error_names_what_is_wrong(bot: RunningBot) -> None:
    await bot.slash("/scale", f"{ENDPOINT} blue three", user=ALICE)
    await bot.settle()
    text = bot.last_ephemeral(ALICE)
    assert text.startswith("`count` must be a whole number, not `three`.")
    assert "*/scale*" in text
    entries = await bot.services.audit.entries()
    assert [(e.action, e.result, e.user_id) for e in entries] == [("/scale", "invalid", ALICE)]


async def test_read_only_commands_are_open_to_everyone(bot: RunningBot) -> None:
    await bot.slash("/traffic", ENDPOINT, user=CAROL)
    await bot.settle()
    text = bot.last_ephemeral(CAROL)
    assert "blue        100%" in text and "green       0%" in text
    assert "recommendation-model:2" in text


async def test_write_command_refused_without_grant(bot: RunningBot, backend: FakeBackend) -> None:
    await bot.slash("/scale", f"{ENDPOINT} blue 3", user=CAROL)
    await bot.settle()
    text = bot.last_ephemeral(CAROL)
    assert "You may not deploy, scale or request traffic shifts" in text
    assert "`@ml-platform`" in text
    assert (await backend.get_deployment(ENDPOINT, "blue")).instance_count == 1
    assert [e.result for e in await bot.services.audit.entries()] == ["denied"]


async def test_user_group_member_may_deploy(bot: RunningBot, backend: FakeBackend) -> None:
    await bot.slash("/scale", f"{ENDPOINT} blue 2", user=BOB)
    await bot.settle()
    assert (await backend.get_deployment(ENDPOINT, "blue")).instance_count == 2
    assert bot.stub.calls_to("usergroups.list") and bot.stub.calls_to("usergroups.users.list")


async def test_no_policy_refuses_writes_and_says_how_to_grant(tmp_path: Path) -> None:
    backend = await seeded_backend()
    settings = make_settings(tmp_path, access=None)
    async with running_bot(backend=backend, settings=settings) as bot:
        await bot.slash("/traffic", f"{ENDPOINT} blue=90 green=10", user=ALICE)
        await bot.settle()  # one at a time: two commands in flight may answer in either order
        await bot.slash("/traffic", ENDPOINT, user=ALICE)
        await bot.settle()
        refusal, status = (message_text(m) for m in bot.stub.ephemerals(ALICE))
        assert "no access policy is configured" in refusal
        assert "deployers: [U0ALICE]" in refusal
        assert "blue        100%" in status
        assert bot.channel() == []


async def test_deploy_reports_progress_in_one_message(
    bot: RunningBot, backend: FakeBackend
) -> None:
    await bot.slash(
        "/deploy",
        f"{ENDPOINT} canary --model recommendation-model:2 --instance-count 2",
        user=ALICE,
    )
    await bot.settle()
    posts = bot.stub.calls_to("chat.postMessage")
    updates = bot.stub.calls_to("chat.update")
    assert len(posts) == 1
    assert len(updates) >= 2, "progress lines update the message"
    assert {u.body["ts"] for u in updates} == {bot.channel()[0].ts}
    final = bot.channel()[0]
    text = message_text(final)
    assert "canary deployed to product-recommender" in text
    assert "settings of *blue*" in text
    assert buttons(final) == [actions.SHIFT_TO_NEW]
    deployment = await backend.get_deployment(ENDPOINT, "canary")
    assert (deployment.model, deployment.instance_count) == ("recommendation-model:2", 2)
    assert (await backend.get_endpoint(ENDPOINT)).traffic.get("canary", 0) == 0


async def test_deploy_failure_shows_the_instances_log(tmp_path: Path) -> None:
    backend = await seeded_backend(fail_deployments={"canary"})
    async with running_bot(backend=backend, settings=make_settings(tmp_path)) as bot:
        await bot.slash("/deploy", f"{ENDPOINT} canary --model recommendation-model:2", user=ALICE)
        await bot.settle()
        text = message_text(bot.channel()[0])
        assert "Deploying canary to product-recommender failed" in text
        assert "RuntimeError: init failed" in text
        assert [e.result for e in await bot.services.audit.entries()] == ["failed"]


async def test_unknown_model_is_refused_before_anything_starts(bot: RunningBot) -> None:
    await bot.slash("/deploy", f"{ENDPOINT} canary --model recommendation-model:9", user=ALICE)
    await bot.settle()
    assert "recommendation-model:9 is not registered" in bot.last_ephemeral(ALICE)
    assert bot.channel() == []


async def test_shift_button_under_a_fresh_deployment(bot: RunningBot, backend: FakeBackend) -> None:
    await bot.slash("/deploy", f"{ENDPOINT} canary --model recommendation-model:2", user=ALICE)
    await bot.settle()
    await bot.click(bot.channel()[0], actions.SHIFT_TO_NEW, user=ALICE)
    await bot.settle()
    request = bot.channel()[-1]
    assert "canary      0%    →  10%" in message_text(request)
    await bot.click(request, actions.APPROVE, user=BOB)
    await bot.settle()
    split = (await backend.get_endpoint(ENDPOINT)).traffic
    assert {k: v for k, v in split.items() if v} == {"blue": 90, "canary": 10}


async def test_deploy_from_the_spec_folder(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    data = yaml.safe_load((EXAMPLES / "green-deployment.yml").read_text())
    data["name"] = "teal"
    data["model"]["path"] = str(EXAMPLES / "model-v2")
    data["code_configuration"]["code"] = str((EXAMPLES / "../../scoring").resolve())
    (specs / "teal.yml").write_text(yaml.safe_dump(data))
    (tmp_path / "secret.yml").write_text("not: a spec\n")
    backend = await seeded_backend()
    settings = make_settings(tmp_path / "home", spec_folder=specs)
    async with running_bot(backend=backend, settings=settings) as bot:
        await bot.slash("/deploy", "--spec ../secret.yml", user=ALICE)
        await bot.slash("/deploy", "--spec nothing.yml", user=ALICE)
        await bot.settle()
        # The two commands run side by side: their answers may come in either order.
        answers = [message_text(m) for m in bot.stub.ephemerals(ALICE)]
        assert len(answers) == 2
        assert sum("outside the spec folder" in text for text in answers) == 1
        missing = next(text for text in answers if "No spec file `nothing.yml`" in text)
        assert "teal.yml" in missing
        await bot.slash("/deploy", "--spec teal", user=ALICE)
        await bot.settle()
        assert "teal deployed to product-recommender" in message_text(bot.channel()[-1])
    assert (await backend.get_deployment(ENDPOINT, "teal")).model == str(EXAMPLES / "model-v2")


async def test_logs_in_a_code_block_and_long_ones_as_a_file(bot: RunningBot) -> None:
    await bot.slash("/logs", f"{ENDPOINT} blue --lines 5", user=CAROL)
    await bot.settle()
    short = message_text(bot.channel()[-1])
    assert "inference-server line 196" in short and "inference-server line 200" in short
    assert "line 195" not in short
    assert bot.stub.files == {}
    await bot.slash("/logs", f"{ENDPOINT} blue --lines 200", user=CAROL)
    await bot.settle()
    long = bot.channel()[-1]
    assert all(len(b["text"]["text"]) <= 3000 for b in long.blocks if b.get("type") == "section")
    assert "inference-server line 200" in message_text(long)
    (uploaded,) = bot.stub.files.values()
    assert uploaded.content.decode().splitlines() == [
        f"inference-server line {i}" for i in range(1, 201)
    ]
    assert uploaded.channel == "C0DEPLOYS"
    methods = [c.method for c in bot.stub.calls]
    assert methods[-3:] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]


async def test_bot_not_in_channel_gets_a_clear_message(bot: RunningBot) -> None:
    bot.stub.fail("chat.postMessage", "not_in_channel")
    await bot.slash("/logs", f"{ENDPOINT} blue --lines 5", user=CAROL)
    await bot.settle()
    assert "invite it first" in bot.last_ephemeral(CAROL)


async def test_a_bug_is_logged_once_and_the_user_gets_a_short_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = await seeded_backend(crash_on={"get_logs"})
    async with running_bot(backend=backend, settings=make_settings(tmp_path)) as bot:
        with caplog.at_level(logging.ERROR):
            await bot.slash("/logs", f"{ENDPOINT} blue", user=CAROL)
            await bot.settle()
        text = bot.last_ephemeral(CAROL)
        assert text.startswith("Something went wrong on Flightdeck's side")
        assert "Traceback" not in text and "fake crash" not in text
        logged = [r for r in caplog.records if r.exc_info]
        assert len(logged) == 1
        assert "fake crash in get_logs" in str(logged[0].exc_info[1])  # type: ignore[index]
        assert [e.result for e in await bot.services.audit.entries()] == ["error"]


async def test_a_repeated_delivery_of_a_command_runs_once(
    bot: RunningBot, backend: FakeBackend
) -> None:
    body = bot.slash_body("/traffic", f"{ENDPOINT} blue=90 green=10", user=ALICE)
    for _ in range(2):
        assert (await bot.post(body, signed_headers(SECRET, body))).status == 200
    await bot.settle()
    assert len(await bot.services.approvals.pending()) == 1
    assert len(bot.stub.calls_to("chat.postMessage")) == 1
