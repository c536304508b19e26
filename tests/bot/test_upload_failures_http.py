"""What people see when Slack refuses a file: through the real Bolt app and the stand-in."""

from __future__ import annotations

from tests.bot.harness import CAROL, ENDPOINT, RunningBot, message_text


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
