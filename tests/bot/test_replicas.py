"""Two ``flightdeck serve`` replicas on one PostgreSQL: everything happens exactly once, and a
rollout survives the replica driving it being stopped.

Real processes: two ``python -m cli.main serve`` in HTTP mode (free ports, the same signing
secret), one throwaway PostgreSQL cluster (tests/support/postgres.py), the Slack stand-in
as their Slack, and one local platform daemon (``flightdeck local up`` in a tmp home) as the
backend both reach. The test sends commands and clicks to both replicas, alternating:

1. a traffic shift requested on one replica and approved on the other, the same click
   delivered to both at once: applied once;
2. an alert (``no_traffic``, due at once, on an endpoint nobody calls) that both replicas'
   watchers see: posted once;
3. a canary rollout with 2 s intervals; the replica holding its lease (``rollouts.lease_owner``)
   gets SIGTERM after the first step: it exits 0 within its bound, and the other replica
   finishes the rollout, each step applied once.

Nothing sleeps to wait: conditions on the stand-in's recorded calls and on the database are
polled with deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from bot.db import audit, traffic_history
from bot.offline.slackstub import SlackStub, StubMessage
from bot.offline.slackstub.payloads import (
    block_actions,
    encode_form,
    encode_payload,
    signed_headers,
    slash_command,
)
from commands import actions
from deploy.registry import create_backend
from deploy.types import EndpointSpec
from rollouts.machine import Rollout
from rollouts.store import rollouts
from tests.bot.harness import (
    ALICE,
    BOB,
    CAROL,
    CHANNEL,
    NAMES,
    SECRET,
    TOKEN,
    buttons,
    message_text,
    stand_in,
)
from tests.deploy.local.platform_kit import deployment_spec
from tests.support.flightdeck_cli import REPO, local_platform
from tests.support.postgres import postgres_cluster

# Measured: 14-18 s on two shared cores (the daemon, three instances, two replicas, PostgreSQL).
pytestmark = pytest.mark.slow(budget=100)

SCRIPTS = REPO / "samples" / "scripts"
EP = "rolling"
QUIET = "quiet"
#: How long a replica may take to stop on SIGTERM: the drain (30 s) and the engine's stop.
STOP_BOUND = 45.0
#: The longest anything here may take to show.
DEADLINE = 60.0

CONFIG = f"""\
backend: local
access: {{deployers: [{ALICE}, {BOB}], approvers: [{ALICE}, {BOB}]}}
rollouts: {{min_interval: 1s, tick: 1s, max_load_rate: 40}}
alerts:
  channel: {CHANNEL}
  poll_interval: 1s
  rules: [{{kind: no_traffic, duration: 0s}}]
  endpoints: {{{EP}: {{enabled: false}}}}
"""


@dataclass
class Replica:
    """One ``flightdeck serve`` process and where it listens."""

    name: str
    process: asyncio.subprocess.Process
    url: str
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


async def poll(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition`` holds, yielding to the loop (the stand-in runs in it); fail
    after ``DEADLINE``."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def seed(home: Path) -> None:
    """``rolling``: blue 100%, good 0%; ``quiet``: idle 100%, never called."""
    backend = create_backend("local", {"home": str(home)})
    try:
        for endpoint in (EP, QUIET):
            await backend.create_or_update_endpoint(EndpointSpec(name=endpoint))
        names = [(EP, "blue"), (EP, "good"), (QUIET, "idle")]
        await asyncio.gather(
            *(
                backend.create_or_update_deployment(
                    deployment_spec(
                        endpoint,
                        name,
                        SCRIPTS,
                        script="slow_score.py",
                        env={"SAMPLE_DELAY_MS": "0"},
                        max_concurrent=4,
                    )
                )
                for endpoint, name in names
            )
        )
        await backend.set_traffic(EP, {"blue": 100, "good": 0})
        await backend.set_traffic(QUIET, {"idle": 100})
    finally:
        await backend.aclose()


async def live_traffic(home: Path) -> dict[str, int]:
    backend = create_backend("local", {"home": str(home)})
    try:
        return {k: v for k, v in (await backend.get_endpoint(EP)).traffic.items() if v}
    finally:
        await backend.aclose()


@contextlib.asynccontextmanager
async def replica(
    name: str, *, home: Path, config: Path, database_url: str, stub: SlackStub, folder: Path
) -> AsyncIterator[Replica]:
    """``python -m cli.main serve`` with this worktree first on the path; stopped at the end."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "FLIGHTDECK_HOME": str(home),
        "FLIGHTDECK_DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": stub.api_url,
    }
    for variable in ("FLIGHTDECK_CONFIG", "FLIGHTDECK_BACKEND", "SLACK_APP_TOKEN", "PORT"):
        env.pop(variable, None)
    log = folder / f"{name}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "serve",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
    running = Replica(name=name, process=process, url="", log=log)
    try:
        listening = re.compile(r"^Flightdeck listens on (http://\S+)$", re.MULTILINE)
        await poll(
            lambda: bool(listening.search(running.text())) or process.returncode is not None,
            f"{name} to listen",
        )
        found = listening.search(running.text())
        assert found, f"{name} did not start:\n{running.text()}"
        running.url = found.group(1)
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_BOUND)
            except TimeoutError:
                process.kill()
                await process.wait()


@contextlib.contextmanager
def database(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def rows(engine: Engine, query: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(query))


class Slack:
    """Slack's side: signed slash commands and clicks to a replica, and what was posted."""

    def __init__(self, stub: SlackStub, session: aiohttp.ClientSession) -> None:
        self.stub = stub
        self._session = session

    async def _post(self, to: Replica, body: str) -> None:
        async with self._session.post(
            to.url, data=body.encode(), headers=signed_headers(SECRET, body)
        ) as answer:
            assert answer.status == 200, (to.name, answer.status, await answer.text())

    async def slash(self, to: Replica, command: str, text: str, *, user: str) -> None:
        fields = slash_command(
            command=command,
            text=text,
            user_id=user,
            user_name=NAMES[user],
            channel_id=CHANNEL,
            channel_name="ml-deploys",
            response_url=self.stub.response_url(user=user, channel=CHANNEL),
            team_id=self.stub.team_id,
        )
        await self._post(to, encode_form(fields))

    async def click(
        self, message: StubMessage, action: str, *, user: str, to: tuple[Replica, ...]
    ) -> None:
        """One click (one ``action_ts``) delivered to every replica of ``to`` at once."""
        (block,) = [
            block
            for block in message.blocks
            if any(e.get("action_id") == action for e in block.get("elements") or [])
        ]
        (button,) = [e for e in block["elements"] if e.get("action_id") == action]
        payload = block_actions(
            user_id=user,
            user_name=NAMES[user],
            channel_id=message.channel,
            channel_name="ml-deploys",
            message={"type": "message", "ts": message.ts, "blocks": message.blocks},
            block_id=str(block.get("block_id", "")),
            action=button,
            response_url=self.stub.response_url(
                user=user, channel=message.channel, message_ts=message.ts
            ),
            team_id=self.stub.team_id,
        )
        body = encode_payload(payload)
        await asyncio.gather(*(self._post(replica, body) for replica in to))

    def titled(self, text: str) -> list[StubMessage]:
        return [m for m in self.stub.channel_messages(CHANNEL) if text in message_text(m)]

    def posts(self, text: str) -> int:
        """chat.postMessage calls carried out whose text or blocks hold ``text`` (a post
        retried after Slack's 429, the two replicas sharing one channel's rate, counts once)."""
        return sum(text in str(call.body) for call in self.stub.done_calls("chat.postMessage"))

    def requests(self) -> list[StubMessage]:
        """Approval requests still showing their buttons."""
        return [m for m in self.stub.channel_messages(CHANNEL) if actions.APPROVE in buttons(m)]


def shifts(engine: Engine) -> list[dict[str, int]]:
    """The bot's traffic history of the endpoint: each shift's split, oldest first."""
    query = select(traffic_history).where(traffic_history.c.endpoint == EP)
    return [row.after["traffic"] for row in rows(engine, query.order_by(traffic_history.c.id))]


def rollout_of(engine: Engine) -> tuple[Rollout, str | None]:
    """The endpoint's (only) rollout and its lease owner."""
    (row,) = rows(engine, select(rollouts).where(rollouts.c.endpoint == EP))
    rollout = Rollout.from_json(
        id=row.id, endpoint=row.endpoint, version=row.version, data=row.state
    )
    return rollout, row.lease_owner


async def test_two_replicas_do_everything_once_and_a_survivor_finishes_the_rollout(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "flightdeck.yml"
    config.write_text(CONFIG, encoding="utf-8")
    stub = stand_in()
    await stub.start()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(stub.stop)
        cluster = stack.enter_context(postgres_cluster())
        url = cluster.new_database()
        stack.enter_context(local_platform(home))
        await seed(home)
        engine = stack.enter_context(database(url))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        slack = Slack(stub, session)
        a, b = [
            await stack.enter_async_context(
                replica(
                    name,
                    home=home,
                    config=config,
                    database_url=url,
                    stub=stub,
                    folder=tmp_path,
                )
            )
            for name in ("a", "b")
        ]
        by_pid = {a.process.pid: a, b.process.pid: b}

        # Both answer commands.
        await slack.slash(a, "/traffic", EP, user=CAROL)
        await slack.slash(b, "/traffic", EP, user=CAROL)
        await poll(lambda: len(stub.ephemerals(CAROL)) == 2, "both replicas to answer")

        # 1. A shift requested on a, approved on b, the same click delivered to a too.
        await slack.slash(a, "/traffic", f"{EP} blue=90 good=10", user=ALICE)
        await poll(lambda: len(slack.requests()) == 1, "the approval request")
        (request,) = slack.requests()
        await slack.click(request, actions.APPROVE, user=BOB, to=(b, a))
        await poll(lambda: bool(shifts(engine)), "the shift to be applied")
        assert await live_traffic(home) == {"blue": 90, "good": 10}
        # The decided request loses its buttons by chat.update, after the shift is stored (and
        # possibly after the stand-in's 429 on a shared channel): wait for it, with a deadline.
        await poll(lambda: not slack.requests(), "the approval request's buttons to go")

        # 2. An alert both watchers see: posted once.
        await poll(lambda: slack.posts(QUIET) >= 1, "the alert on quiet")

        # 3. A canary: requested on b, approved on a (and b, the same click).
        await slack.slash(
            b,
            "/traffic",
            f"{EP} canary good --steps 40,70,100 --interval 2s --min-requests 3 --max-p99 2s"
            " --with-load 10",
            user=ALICE,
        )
        await poll(lambda: len(slack.requests()) == 1, "the canary's approval request")
        (request,) = slack.requests()
        await slack.click(request, actions.APPROVE, user=BOB, to=(a, b))

        def first_interval() -> bool:
            if not rows(engine, select(rollouts).where(rollouts.c.endpoint == EP)):
                return False
            rollout, owner = rollout_of(engine)
            return rollout.applied and rollout.interval_start is not None and owner is not None

        await poll(first_interval, "the rollout's first interval")
        _, owner = rollout_of(engine)
        assert owner is not None
        holder = by_pid[int(owner.split(":")[1])]
        survivor = b if holder is a else a
        stopping = time.monotonic()
        holder.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(holder.process.wait(), STOP_BOUND)
        stopped_in = time.monotonic() - stopping
        assert code == 0, holder.text()
        assert holder.text().rstrip().endswith("Stopped."), holder.text()
        # It gave the lease back on its way out: the survivor need not wait for it to run out.
        _, after = rollout_of(engine)
        assert after != owner, "the stopped replica kept the rollout's lease"

        def finished() -> bool:
            done, _ = rollout_of(engine)
            return not done.active

        await poll(finished, "the survivor to finish the rollout")
        done, owner = rollout_of(engine)
        assert done.outcome == "promoted", (done.outcome, done.reason, done.results)
        assert owner is None or owner.split(":")[1] == str(survivor.process.pid)
        assert await live_traffic(home) == {"good": 100}

        # Every step once; each judged interval once.
        steps = [e.text for e in done.events if e.text.startswith("step ")]
        assert steps == [f"step {n} of 3: good at {w}%" for n, w in ((1, 40), (2, 70))]
        assert [r.weight for r in done.results if r.verdict == "pass"] == [40, 70]
        # One progress message, updated; one final reply; still one alert post.
        await poll(lambda: slack.posts("good is promoted on rolling") >= 1, "the final reply")
        assert slack.posts("good is promoted on rolling") == 1
        progress = slack.titled("Canary rollout: good on rolling")
        assert len(progress) == 1 and "*Promoted*" in message_text(progress[0])
        assert slack.posts("Canary rollout: good on rolling") == 1
        assert slack.posts(QUIET) == 1
        # Two approval requests, each posted once and decided once.
        assert slack.posts(actions.APPROVE) == 2
        assert shifts(engine) == [{"blue": 90, "good": 10}, {"good": 100}]
        approved = rows(engine, select(audit).where(audit.c.result == "approved"))
        assert len(approved) == 2, approved
        assert stopped_in < STOP_BOUND
        for each in (a, b):  # both watched the alerts all along, and nothing failed
            assert "Alerts: polling every endpoint's metrics every 1s" in each.text()
            assert "Traceback" not in each.text(), each.text()
        print(f"the lease holder ({holder.name}) stopped in {stopped_in:.1f} s")
