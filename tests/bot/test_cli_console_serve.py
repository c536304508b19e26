"""``flightdeck console`` and ``flightdeck serve`` in subprocesses, on a real local platform.

The daemon (``flightdeck local up``) serves the example endpoint with blue at 100% and
green at 0%; the console runs with the demo config (alice and bob) and reads its
commands from a pipe, each handled (the bot's work included) before the next; serve
answers signed requests on a free port and talks to the Slack stand-in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.offline.slackstub.payloads import encode_form, signed_headers, slash_command
from deploy.registry import create_backend
from deploy.specs import load_deployment_spec, load_endpoint_spec
from tests.bot.harness import SECRET, TOKEN, stand_in
from tests.support.flightdeck_cli import (
    LocalPlatform,
    flightdeck_script,
    local_platform,
    write_deployment,
    write_endpoint,
)

pytestmark = pytest.mark.slow(budget=30)

EP = "product-recommender"

#: A local platform daemon, console and serve subprocesses.
pytestmark = pytest.mark.slow(budget=120)


async def _seed(home: Path, folder: Path) -> None:
    backend = create_backend("local", {"home": str(home)})
    try:
        await backend.create_or_update_endpoint(load_endpoint_spec(write_endpoint(folder)))
        for name, version in (("blue", "v1"), ("green", "v2")):
            spec = load_deployment_spec(write_deployment(folder, name=name, version=version))
            await backend.create_or_update_deployment(spec)
        await backend.set_traffic(EP, {"blue": 100, "green": 0})
    finally:
        await backend.aclose()


async def _traffic(home: Path) -> dict[str, int]:
    backend = create_backend("local", {"home": str(home)})
    try:
        return {k: v for k, v in (await backend.get_endpoint(EP)).traffic.items() if v}
    finally:
        await backend.aclose()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    home = tmp_path_factory.mktemp("console-home")
    with local_platform(home) as running:
        asyncio.run(_seed(home, tmp_path_factory.mktemp("specs")))
        yield running


def console(home: Path, script: str, *args: str) -> str:
    env = {**os.environ, "FLIGHTDECK_HOME": str(home)}
    env.pop("FLIGHTDECK_CONFIG", None)
    done = subprocess.run(
        [str(flightdeck_script()), "console", *args],
        input=script,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
        cwd=home,
    )
    assert done.returncode == 0, f"stdout: {done.stdout}\nstderr: {done.stderr}"
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done.stdout


def test_a_piped_command_prints_the_answer(platform: LocalPlatform) -> None:
    out = console(platform.home, f"/traffic {EP}\n")
    lines = out.splitlines()
    assert lines[0] == f"you@#flightdeck> /traffic {EP}"
    assert "── flightdeck (only visible to you)" in lines
    assert any(line.split()[:3] == ["blue", "100%", "-"] for line in lines), out
    assert any(line.split()[:3] == ["green", "0%", "-"] for line in lines), out


def test_an_approval_scripted_with_two_users(platform: LocalPlatform) -> None:
    script = "\n".join(
        [
            f"/traffic {EP} blue=90 green=10",
            "1",  # alice clicks Approve on her own request...
            "y",
            ":as bob",
            "1",  # ...bob may
            "y",
            "1",  # the buttons are gone
            f"/traffic {EP}",
        ]
    )
    out = console(platform.home, script + "\n", "--demo")
    assert "alice@#ml-deploys> /traffic product-recommender blue=90 green=10" in out
    assert "[1] Approve  [2] Reject" in out
    assert "Approve? [y/N] y" in out
    assert "You cannot approve your own request" in out
    assert "You are now bob (U0BOB)." in out
    assert "✅ Approved by @bob" in out
    assert "Live now: blue 90%, green 10%." in out
    assert "There is no button [1] on screen any more." in out
    assert out.rstrip().splitlines()[-2].split()[:2] == ["green", "10%"]
    assert asyncio.run(_traffic(platform.home)) == {"blue": 90, "green": 10}


async def test_flightdeck_serve_over_http(platform: LocalPlatform, tmp_path: Path) -> None:
    stub = stand_in()
    await stub.start()
    env = {
        **os.environ,
        "FLIGHTDECK_HOME": str(platform.home),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": stub.api_url,
        "PORT": "0",
    }
    for name in ("FLIGHTDECK_CONFIG", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    log = (tmp_path / "serve.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        str(flightdeck_script()),
        "serve",
        "--host",
        "127.0.0.1",
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
        assert line.startswith("Flightdeck listens on http://127.0.0.1:"), line
        url = line.removeprefix("Flightdeck listens on ")
        fields = slash_command(
            command="/traffic",
            text=EP,
            user_id="U0CAROL",
            user_name="carol",
            channel_id="C0DEPLOYS",
            channel_name="ml-deploys",
            response_url=stub.response_url(user="U0CAROL", channel="C0DEPLOYS"),
        )
        body = encode_form(fields)
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=signed_headers(SECRET, body)) as r:
                assert r.status == 200
            async with session.post(url, data=body, headers={"X-Slack-Signature": "v0=0"}) as r:
                assert r.status == 401
        deadline = asyncio.get_running_loop().time() + 60
        while not stub.ephemerals("U0CAROL"):
            assert asyncio.get_running_loop().time() < deadline, "no answer from the bot"
            await asyncio.sleep(0.05)
        assert "blue" in str(stub.ephemerals("U0CAROL")[0].blocks)
        assert len(stub.calls_to("response_url")) == 1
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 60)
        log.close()
        await stub.stop()
    assert code == 0, (tmp_path / "serve.log").read_text()
    assert TOKEN not in (tmp_path / "serve.log").read_text()
