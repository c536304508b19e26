"""The console in-process: rendering, numbered buttons, confirm dialogs, switching users."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.offline.console.render import mrkdwn_to_text, render_blocks
from bot.offline.console.runtime import run_console
from tests.bot.harness import make_settings, seeded_backend


def settings(home: Path) -> Settings:
    base = make_settings(home)
    data = base.model_dump()
    data["console"] = {
        "channel": "C0DEPLOYS",
        "channel_name": "ml-deploys",
        "users": [{"id": "U0ALICE", "name": "alice"}, {"id": "U0BOB", "name": "bob"}],
        "usergroups": {"@ml-platform": ["U0BOB"]},
    }
    return Settings.model_validate(data)


def run(home: Path, script: str) -> str:
    backend = asyncio.run(seeded_backend())
    out = io.StringIO()
    code = run_console(
        settings(home),
        backend,
        stdin=io.StringIO(script),
        stdout=out,
        interactive=False,
        files_dir=home / "files",
    )
    assert code == 0
    return out.getvalue()


def test_a_session(tmp_path: Path) -> None:
    out = run(
        tmp_path,
        "\n".join(
            [
                "/traffic product-recommender blue=90 green=10",
                "1",
                "n",  # cancel the confirm dialog: nothing is sent
                ":as bob",
                "2",  # reject
                ":buttons",
                "/logs product-recommender blue --lines 150",
                "/nonsense",
                "hello",
                ":as nobody",
                ":quit",
                "/traffic product-recommender",  # never read
            ]
        )
        + "\n",
    )
    assert "[1] Approve  [2] Reject" in out
    assert "Approve? [y/N] n\nCancelled: nothing was sent." in out
    assert "❌ Rejected by @bob" in out
    assert "No buttons on screen." in out
    assert "── file product-recommender-blue-inference-server.log: 150 lines" in out
    assert (tmp_path / "files" / "product-recommender-blue-inference-server.log").is_file()
    assert "(the app answered HTTP 404)" in out
    assert "'hello' is neither a slash command" in out
    assert "No user 'nobody' (users: alice, bob)." in out
    assert out.count("/traffic product-recommender") == 1


def test_rendering() -> None:
    names = {"U0BOB": "bob"}
    text = "<@U0BOB> at <!date^1^{time}|09:00 UTC> *bold* <https://x.io|x> &lt;a&gt; :x:"
    assert mrkdwn_to_text(text, names) == "@bob at 09:00 UTC bold x (https://x.io) <a> ❌"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "before\n```\ncode\n```\nafter"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "small"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "a"}
            ],
        },
    ]
    lines = render_blocks(blocks, users=names, number=lambda element, block_id: 7)
    assert lines == [
        "Title",
        "═════",
        "before",
        "    code",
        "after",
        "  small",
        "─" * 40,
        "[7] Go",
    ]
