"""Block Kit limits: what slack_sdk checks, and the 50-block limit it does not."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackObjectFormationError

from commands.blocks import MAX_BLOCKS, button, code_block, escape, fit_blocks, section, tail_to_fit
from commands.reply import Reply, notice


def test_fifty_blocks_at_most() -> None:
    blocks = [section(f"row {i}") for i in range(80)]
    reply = Reply(text="many", blocks=tuple(blocks))
    shown = reply.block_dicts()
    assert len(shown) == MAX_BLOCKS
    assert shown[-1]["elements"][0]["text"] == "… 31 more blocks left out (Slack shows at most 50)."
    assert fit_blocks(blocks[:50]) == blocks[:50]


def test_long_texts_are_cut_to_fit() -> None:
    assert len(section("x" * 5000).to_dict()["text"]["text"]) == 3000
    code = code_block("\n".join(f"line {i}" for i in range(1000))).to_dict()["text"]["text"]
    assert len(code) <= 3000 and code.endswith("line 999\n```")
    assert len(button("y" * 100, action_id="a", value="v").to_dict()["text"]["text"]) == 75


def test_slack_sdk_still_validates() -> None:
    with pytest.raises(SlackObjectFormationError):
        button("ok", action_id="a" * 300, value="v").to_dict()


def test_escaping_and_notices() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert notice("use <endpoint>").block_dicts()[0]["text"]["text"] == "use &lt;endpoint&gt;"
    kept, left = tail_to_fit(["aaaa", "bbbb", "cccc"], 9)
    assert (kept, left) == (["bbbb", "cccc"], 1)
