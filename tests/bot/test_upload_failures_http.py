"""What people see when Slack refuses a file: through the real Bolt app and the stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.offline.slackstub import Fault
from bot.slack_retries import RetryPolicy
from tests.bot.harness import (
    CAROL,
    ENDPOINT,
    RunningBot,
    make_settings,
    message_text,
    running_bot,
    seeded_backend,
)


async def test_logs_whose_upload_is_refused_keep_the_last_lines_and_say_why(
    bot: RunningBot,
) -> None:
    bot.stub.fail("files.getUploadURLExternal", "missing_scope")
    await bot.slash("/logs", f"{ENDPOINT} blue --lines 200", user=CAROL)
    await bot.settle()
    shown = message_text(bot.channel()[-1])
    assert "inference-server line 200" in shown  # the end that fits is still there
    assert "could not be attached" in shown and "`files:write`" in shown
    assert "all of it in the file" not in shown
    assert bot.stub.files == {}
    assert "Something went wrong" not in "\n".join(
        message_text(m) for m in bot.stub.ephemerals(CAROL)
    )


async def test_a_chart_upload_refused_mid_way_is_named_in_its_message(bot: RunningBot) -> None:
    """A reply with a file whose upload fails says which file is missing and why."""
    from bot.slack_io import SlackIO
    from commands.reply import FileAttachment, Reply

    slack: SlackIO = bot.services.slack
    bot.stub.fail("files.completeUploadExternal", "file_uploads_disabled")
    reply = Reply(
        text="Load test",
        file=FileAttachment(filename="load.png", title="load", content=b"png"),
    )
    ts = await slack.post("C0DEPLOYS", reply)
    (message,) = [m for m in bot.channel() if m.ts == ts]
    assert "`load.png` could not be attached: file uploads are turned off" in message_text(message)


@pytest.fixture
async def fast_bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The bot whose client retries without waiting (the waits are recorded)."""
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    backend = await seeded_backend()
    async with running_bot(
        backend=backend, settings=make_settings(tmp_path), retry=RetryPolicy(sleep=sleep)
    ) as running:
        yield running


@pytest.mark.parametrize(
    ("fault", "why"),
    [
        (Fault.server_error(500), "Slack answered HTTP 500 to the upload"),
        (Fault.html(502), "Slack answered HTTP 502 to the upload"),
        (Fault.drop(), "the connection to Slack dropped"),
    ],
)
async def test_logs_whose_byte_upload_fails_keep_the_last_lines_and_say_why(
    fast_bot: RunningBot, fault: Fault, why: str
) -> None:
    """The byte upload of files_upload_v2 failing is a ``SlackRequestError`` or a transport
    error, not a ``SlackApiError``: still said in the message, with the last lines kept."""
    fast_bot.stub.inject("upload", fault, times=10)
    await fast_bot.slash("/logs", f"{ENDPOINT} blue --lines 200", user=CAROL)
    await fast_bot.settle()
    shown = message_text(fast_bot.channel()[-1])
    assert "inference-server line 200" in shown
    assert "Too long for a message: the last" in shown
    assert "could not be attached: the upload did not go through" in shown
    assert f"({why}); ask again in a minute" in shown
    assert fast_bot.stub.files == {}
    assert "Something went wrong" not in "\n".join(
        message_text(m) for m in fast_bot.stub.ephemerals(CAROL)
    )
