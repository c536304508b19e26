"""What people read, through the Bolt app and the strict stand-in: numbers as numbers,
and a message's fallback ``text`` escaped as its blocks are."""

from __future__ import annotations

from tests.bot.harness import ALICE, ENDPOINT, RunningBot, message_text


async def test_big_numbers_print_as_numbers(bot: RunningBot) -> None:
    await bot.slash("/loadtest", f"{ENDPOINT} --rate 100000000 --duration 1", user=ALICE)
    await bot.settle()
    told = bot.last_ephemeral(ALICE)
    assert "--rate 100000000 is above the configured limit of" in told
    assert "e+" not in told


async def test_fallback_text_is_escaped_like_the_blocks(bot: RunningBot) -> None:
    await bot.slash("/traffic", "<!channel>", user=ALICE)
    await bot.settle()
    (answer,) = bot.stub.ephemerals(ALICE)
    assert "&lt;!channel&gt;" in message_text(answer)
    assert "<!channel>" not in answer.text
    assert answer.text == message_text(answer)
