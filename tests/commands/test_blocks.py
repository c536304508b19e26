"""Block Kit limits: what slack_sdk checks, and the 50-block limit it does not."""

from __future__ import annotations

import re

import pytest
from slack_sdk.errors import SlackObjectFormationError

from commands.blocks import (
    MAX_BLOCKS,
    button,
    code_block,
    context,
    escape,
    fit_blocks,
    section,
    tail_to_fit,
    truncate_mrkdwn,
)
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


def _closed(text: str) -> bool:
    """Code blocks and inline code all closed."""
    if text.count("```") % 2:
        return False
    return re.sub(r"```.*?```", "", text, flags=re.DOTALL).count("`") % 2 == 0


def test_a_cut_leaves_no_code_open() -> None:
    fenced = section("Output:\n```\n" + "line\n" * 1000 + "```").to_dict()["text"]["text"]
    assert len(fenced) <= 3000 and _closed(fenced) and fenced.endswith("…\n```")
    inline = section("a" * 2990 + " `some code that is cut`").to_dict()["text"]["text"]
    assert len(inline) <= 3000 and _closed(inline) and inline.endswith("…`")
    ctx = context("`x` " * 1000).to_dict()["elements"][0]["text"]
    assert len(ctx) <= 3000 and _closed(ctx)
    fallback = Reply(text="```" + "z" * 5000 + "```").fallback_text()
    assert len(fallback) <= 3000 and _closed(fallback)
    assert truncate_mrkdwn("`short`", 3000) == "`short`"


def test_a_cut_never_splits_an_escape() -> None:
    for pad in range(6):
        text = section("x" * (2990 + pad) + "&amp;" * 4).to_dict()["text"]["text"]
        assert not re.search(r"&[a-z]*…", text), text[-12:]
    tail = code_block("<" * 4000).to_dict()["text"]["text"]
    assert tail.startswith("```\n…&lt;") and len(tail) <= 3000


def test_fallback_text_is_the_blocks_escaped_text() -> None:
    reply = notice("<!channel> & <@U1> use `<endpoint>`")
    shown = reply.block_dicts()[0]["text"]["text"]
    assert (
        reply.fallback_text()
        == shown
        == "&lt;!channel&gt; &amp; &lt;@U1&gt; use `&lt;endpoint&gt;`"
    )
