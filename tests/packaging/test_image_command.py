"""The image's command, run as the image runs it: the Containerfile's ENTRYPOINT and CMD, its
ENV (paths mapped into a tmp folder), from the installed wheel's environment, with the
Slack stand-in as Slack. No container runtime runs here, so the user (uid 10001) and the
image's file system are not exercised: README, "what was and was not verified"."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.offline.slackstub import SlackStub
from tests.packaging.wheel_kit import InstalledVenv, clean_environ
from tests.support.flightdeck_cli import REPO

# Measured: about 4 s once the wheel is installed (the install is the session's, 55 s).
pytestmark = pytest.mark.slow(budget=400)

TOKEN = "xoxb-image-test-token-0123456789"
SIGNING_SECRET = "image-test-signing-secret"


def _containerfile() -> tuple[list[str], dict[str, str]]:
    """The final stage's command (ENTRYPOINT + CMD) and ENV."""
    final = re.split(r"(?m)^FROM ", (REPO / "Containerfile").read_text(encoding="utf-8"))[-1]
    entrypoint = json.loads(re.search(r"(?m)^ENTRYPOINT (.*)$", final).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"(?m)^CMD (.*)$", final).group(1))  # type: ignore[union-attr]
    block = re.search(r"(?ms)^ENV (.*?)(?=^\S)", final).group(1)  # type: ignore[union-attr]
    env = dict(re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")))
    return [*entrypoint, *cmd], env


def _write_config(path: Path) -> None:
    """The mounted config: the in-memory backend (no Azure here)."""
    path.parent.mkdir(parents=True)
    path.write_text("backend: memory\n", encoding="utf-8")


async def test_the_image_command_serves_probes_logs_json_and_stops_on_sigterm(
    installed: InstalledVenv, tmp_path: Path
) -> None:
    command, image_env = _containerfile()
    assert command == ["flightdeck", "serve"]
    root = tmp_path / "image"
    env = {
        key: value.replace("/var/lib/flightdeck", str(root / "home")).replace(
            "/etc/flightdeck", str(root / "config")
        )
        for key, value in image_env.items()
        if key != "PATH"
    }
    assert env["FLIGHTDECK_LOG_FORMAT"] == "json"
    _write_config(Path(env["FLIGHTDECK_CONFIG"]))
    stub = SlackStub(token=TOKEN)
    await stub.start()
    env.update(
        PORT="0",
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=stub.api_url,
        PATH=f"{installed.bin}:{clean_environ()['PATH']}",
    )
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=root.parent,
        env=clean_environ(**env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[dict[str, Any]] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            assert time.monotonic() < deadline, f"no probe line: {lines}"
            raw = await asyncio.wait_for(process.stdout.readline(), 60)
            assert raw, f"the process ended: {lines}"
            lines.append(json.loads(raw))  # every line is one JSON object
            found = re.search(r"Probes: http://[\d.]+:(\d+)/healthz", lines[-1]["message"])
            port = int(found.group(1)) if found else None
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            async with session.get(f"http://127.0.0.1:{port}/readyz") as response:
                body = await response.json()
                assert response.status == 200, body
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), 45)
        assert process.returncode == 0
        lines.extend(json.loads(line) for line in rest.decode().splitlines() if line.strip())
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await stub.stop()
    messages = [line["message"] for line in lines]
    assert any(m.startswith("Stopping: no new work taken") for m in messages), messages
    assert messages[-1] == "Stopped."
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    text = json.dumps(lines)
    assert TOKEN not in text and SIGNING_SECRET not in text
