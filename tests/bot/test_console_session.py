"""The console in-process: rendering, numbered buttons, confirm dialogs, switching users."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.offline.console.render import mrkdwn_to_text, render_blocks
from bot.offline.console.runtime import console_session, run_console
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


def watching_settings(home: Path) -> Settings:
    """The console's settings with an alert that fires at once (no traffic, polled often)."""
    data = settings(home).model_dump()
    data["alerts"] = {
        "channel": "C0DEPLOYS",
        "poll_interval": "0.2s",
        "rules": [{"kind": "no_traffic", "duration": "0s"}],
    }
    return Settings.model_validate(data)


class Transcript(io.StringIO):
    """What the console printed, readable from another thread."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def text(self) -> str:
        with self._lock:
            return self.getvalue()


@pytest.mark.slow(budget=30)  # the alert watcher's polls on the real clock
def test_the_bot_posts_while_the_user_reads(tmp_path: Path) -> None:
    backend = asyncio.run(seeded_backend())
    reading, typing = os.pipe()
    stdin = os.fdopen(reading, "r")
    out = Transcript()
    console = threading.Thread(
        target=run_console,
        args=(watching_settings(tmp_path), backend),
        kwargs={"stdin": stdin, "stdout": out, "interactive": False},
    )
    console.start()
    try:
        # Nothing is typed: the console waits for a line, and the alert watcher goes on.
        deadline = time.monotonic() + 30
        while "Traffic" not in out.text() and time.monotonic() < deadline:
            console.join(0.05)
        assert "── flightdeck in #ml-deploys" in out.text()
        assert "Traffic" in out.text(), out.text()
    finally:
        os.write(typing, b":quit\n")
        os.close(typing)
        console.join(60)
        stdin.close()
    assert not console.is_alive()


@pytest.mark.slow(budget=30)  # an alert firing on the real clock, then :wait 1.2 s
async def test_wait_runs_its_full_time_while_an_alert_fires(tmp_path: Path) -> None:
    backend = await seeded_backend()
    out: list[str] = []

    async def no_input(prompt: str) -> str | None:
        return None

    async with console_session(
        watching_settings(tmp_path), backend, write=out.append, read=no_input
    ) as session:
        store = session.services.alert_store
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(a.state.status == "firing" for a in await store.active(datetime.now(UTC))):
                break
            await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await session.handle(":wait 1.2")
        assert loop.time() - started >= 1.2
    await backend.aclose()
