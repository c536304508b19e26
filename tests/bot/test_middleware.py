"""The one listener middleware (``bot.middleware.Listeners``) on a real Bolt app: signed
requests dispatched as Slack sends them, the answers going to the Slack stand-in.

It acks at once, runs a delivery's work once (a retry is acked and dropped), and ends
the work at the error edge: a known error shown as is, anything else logged once with a
generic message, and one audit entry either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import messages
from bot.app import build_client
from bot.edge import Outcome
from bot.middleware import Listeners
from bot.offline.slackstub import SlackStub
from bot.offline.slackstub.payloads import (
    block_actions,
    encode_form,
    encode_payload,
    signed_headers,
    slash_command,
)
from bot.requests import ButtonClick, SlashRequest
from bot.services import Services
from deploy.errors import ValidationError
from tests.bot.harness import (
    ALICE,
    CHANNEL,
    SECRET,
    TOKEN,
    make_settings,
    message_text,
    seeded_backend,
    stand_in,
)

DEADLINE = 30.0


@dataclass
class Probe:
    """Handlers that count their runs; ``gate`` holds the slow one."""

    runs: list[str] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    finished: bool = False

    async def count(self, request: SlashRequest) -> Outcome:
        self.runs.append(request.text)
        return Outcome(result="ok")

    async def slow(self, request: SlashRequest) -> Outcome:
        await self.gate.wait()
        self.finished = True
        return Outcome(result="ok")

    async def bug(self, request: SlashRequest) -> Outcome:
        raise RuntimeError("kaput")

    async def refuse(self, request: SlashRequest) -> Outcome:
        raise ValidationError("no such *deployment*")

    async def click(self, click: ButtonClick) -> Outcome:
        self.runs.append(click.value)
        return Outcome(result="clicked")


@dataclass(kw_only=True)
class Edge:
    app: AsyncApp
    services: Services
    stub: SlackStub
    probe: Probe

    def command(self, command: str, text: str = "") -> str:
        return encode_form(
            slash_command(
                command=command,
                text=text,
                user_id=ALICE,
                user_name="alice",
                channel_id=CHANNEL,
                channel_name="ml-deploys",
                response_url=self.stub.response_url(user=ALICE, channel=CHANNEL),
            )
        )

    def click(self, value: str, *, action_ts: str) -> str:
        ts = "1700000000.000100"
        message = {"type": "message", "ts": ts, "blocks": []}
        return encode_payload(
            block_actions(
                user_id=ALICE,
                user_name="alice",
                channel_id=CHANNEL,
                channel_name="ml-deploys",
                message=message,
                block_id="probe",
                action={"action_id": "probe_button", "value": value},
                response_url=self.stub.response_url(user=ALICE, channel=CHANNEL, message_ts=ts),
                action_ts=action_ts,
            )
        )

    async def send(self, body: str) -> int:
        headers: dict[str, str | Sequence[str]] = dict(signed_headers(SECRET, body))
        request = AsyncBoltRequest(body=body, headers=headers)
        response = await self.app.async_dispatch(request)
        return response.status

    async def settle(self) -> None:
        assert await self.services.tasks.wait_idle(deadline=DEADLINE), "the work did not end"


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    stub = stand_in()
    await stub.start()
    client = build_client(token=TOKEN, api_url=stub.api_url)
    services = Services.create(
        settings=make_settings(tmp_path), backend=await seeded_backend(), client=client
    )
    probe = Probe()
    listeners = Listeners(
        tasks=services.tasks,
        deliveries=services.deliveries,
        slack=services.slack,
        audit=services.audit,
    )
    listeners.command("/count", probe.count)
    listeners.command("/slow", probe.slow)
    listeners.command("/bug", probe.bug)
    listeners.command("/refuse", probe.refuse)
    listeners.action("probe_button", probe.click)
    app = AsyncApp(client=client, signing_secret=SECRET)
    app.use(listeners)
    try:
        yield Edge(app=app, services=services, stub=stub, probe=probe)
    finally:
        probe.gate.set()
        if not await services.tasks.wait_idle(deadline=DEADLINE):
            await services.tasks.cancel_all()
        services.db.dispose()
        await stub.stop()


async def test_a_retried_command_is_acked_and_runs_once(edge: Edge) -> None:
    body = edge.command("/count", "first")  # one trigger_id, delivered twice
    assert await edge.send(body) == 200
    await edge.settle()
    assert await edge.send(body) == 200
    await edge.settle()
    assert edge.probe.runs == ["first"]
    assert await edge.send(edge.command("/count", "second")) == 200
    await edge.settle()
    assert edge.probe.runs == ["first", "second"]
    entries = [e for e in await edge.services.audit.entries() if e.action == "/count"]
    assert [e.result for e in entries] == ["ok", "ok"]


async def test_a_retried_click_is_acked_and_runs_once(edge: Edge) -> None:
    body = edge.click("v1", action_ts="1700000001.000200")
    assert await edge.send(body) == 200
    assert await edge.send(body) == 200
    await edge.settle()
    assert edge.probe.runs == ["v1"]
    # The same button clicked again later is a new click.
    assert await edge.send(edge.click("v1", action_ts="1700000002.000300")) == 200
    await edge.settle()
    assert edge.probe.runs == ["v1", "v1"]


async def test_an_unknown_error_gives_the_generic_message_and_one_audit_entry(
    edge: Edge, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert await edge.send(edge.command("/bug", "now")) == 200
        await edge.settle()
    answers = edge.stub.ephemerals(ALICE)
    assert len(answers) == 1
    assert message_text(answers[0]) == messages.GENERIC_ERROR
    assert "kaput" not in message_text(answers[0])
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert len(logged) == 1
    exc_info = logged[0].exc_info
    assert exc_info is not None and isinstance(exc_info[1], RuntimeError)
    entries = [e for e in await edge.services.audit.entries() if e.action == "/bug"]
    assert [(e.result, e.detail, e.text, e.user_id) for e in entries] == [
        ("error", "RuntimeError", "now", ALICE)
    ]


async def test_a_known_error_is_shown_as_is(edge: Edge) -> None:
    assert await edge.send(edge.command("/refuse")) == 200
    await edge.settle()
    assert "no such" in edge.stub.ephemerals(ALICE)[-1].text
    entries = [e for e in await edge.services.audit.entries() if e.action == "/refuse"]
    assert [e.result for e in entries] == ["invalid"]


async def test_the_ack_does_not_wait_for_the_work(edge: Edge) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await edge.send(edge.command("/slow")) == 200
    assert loop.time() - started < 3.0
    assert not edge.probe.finished
    assert len(edge.services.tasks) == 1
    edge.probe.gate.set()
    await edge.settle()
    assert edge.probe.finished


async def test_what_no_listener_handles_goes_on_to_bolt(edge: Edge) -> None:
    assert await edge.send(edge.command("/undeclared")) == 404
    assert len(edge.services.tasks) == 0
