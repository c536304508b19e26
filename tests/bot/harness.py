"""The bot under test, for real: the Bolt app on its aiohttp HTTP server (free port), its
Web API calls going to the Slack stand-in, any Backend behind it.

    async with running_bot(backend=backend, settings=settings) as bot:
        status = await bot.slash("/traffic", "product-recommender", user=ALICE)
        await bot.settle()
        bot.stub.ephemerals(ALICE)[-1].text
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from base.clock import Clock
from bot.app import build_app, build_client, build_engine
from bot.config import AccessSettings, Settings, SpecsSettings
from bot.db import Database
from bot.offline.slackstub import Directory, SlackStub, StubMessage
from bot.offline.slackstub.payloads import (
    block_actions,
    encode_form,
    encode_payload,
    signed_headers,
    slash_command,
)
from bot.server import EVENTS_PATH, start_http
from bot.services import Services
from bot.slack_retries import RetryPolicy
from deploy.backend import Backend
from deploy.memory import MemoryBackend as FakeBackend
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from rollouts import RolloutEngine

ALICE = "U0ALICE"
BOB = "U0BOB"
CAROL = "U0CAROL"
CHANNEL = "C0DEPLOYS"
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol"}
SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"

#: alice deploys and approves; bob approves, and deploys through the @ml-platform group.
POLICY = AccessSettings(
    deployers=(ALICE, "@ml-platform"), approvers=(ALICE, BOB), allow_self_approval=False
)


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 24, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_settings(
    home: Path,
    *,
    access: AccessSettings | None = POLICY,
    spec_folder: Path | None = None,
    expiry_minutes: float = 30,
    rollouts: dict[str, Any] | None = None,
) -> Settings:
    """Settings for a test: the database in ``home``."""
    return Settings.model_validate(
        {
            "access": access,
            "approvals": {"expiry_minutes": expiry_minutes},
            "rollouts": rollouts or {},
            "specs": SpecsSettings(folder=spec_folder),
            "home": home,
            "database_url": f"sqlite:///{home / 'bot.db'}",
        }
    )


@dataclass(kw_only=True)
class Answer:
    """An HTTP answer of the app and how long it took."""

    status: int
    body: str
    seconds: float


class RunningBot:
    """Sends Slack's requests to the app over HTTP and looks at what the stand-in saw."""

    def __init__(
        self,
        *,
        services: Services,
        rollouts: RolloutEngine,
        stub: SlackStub,
        url: str,
        session: aiohttp.ClientSession,
    ) -> None:
        self.services = services
        self.rollouts = rollouts
        self.stub = stub
        self.url = url
        self._session = session

    async def post(self, body: str, headers: Mapping[str, str]) -> Answer:
        """POST a raw body with these headers to /slack/events."""
        started = time.perf_counter()
        async with self._session.post(self.url, data=body.encode(), headers=dict(headers)) as r:
            text = await r.text()
            return Answer(status=r.status, body=text, seconds=time.perf_counter() - started)

    def slash_body(self, command: str, text: str, *, user: str) -> str:
        """A slash command's form body."""
        return encode_form(
            slash_command(
                command=command,
                text=text,
                user_id=user,
                user_name=NAMES.get(user, user.lower()),
                channel_id=CHANNEL,
                channel_name="ml-deploys",
                response_url=self.stub.response_url(user=user, channel=CHANNEL),
                team_id=self.stub.team_id,
            )
        )

    async def slash(self, command: str, text: str, *, user: str) -> Answer:
        """Send a signed slash command."""
        body = self.slash_body(command, text, user=user)
        return await self.post(body, signed_headers(SECRET, body))

    def click_body(
        self, message: StubMessage, action_id: str, *, user: str, action_ts: str | None = None
    ) -> str:
        """A signed-ready block_actions body for the button ``action_id`` on ``message``."""
        for block in message.blocks:
            for element in block.get("elements") or []:
                if element.get("action_id") == action_id:
                    payload = block_actions(
                        user_id=user,
                        user_name=NAMES.get(user, user.lower()),
                        channel_id=message.channel,
                        channel_name="ml-deploys",
                        message={"type": "message", "ts": message.ts, "blocks": message.blocks},
                        block_id=str(block.get("block_id", "")),
                        action=element,
                        response_url=self.stub.response_url(
                            user=user, channel=message.channel, message_ts=message.ts
                        ),
                        team_id=self.stub.team_id,
                        action_ts=action_ts,
                    )
                    return encode_payload(payload)
        raise AssertionError(f"no button {action_id} on the message: {json.dumps(message.blocks)}")

    async def click(self, message: StubMessage, action_id: str, *, user: str) -> Answer:
        """Click a button of ``message`` (as it was when given)."""
        body = self.click_body(message, action_id, user=user)
        return await self.post(body, signed_headers(SECRET, body))

    async def settle(self, seconds: float = 120.0) -> None:
        """Wait until the bot's work after the acks is done."""
        assert await self.services.tasks.wait_idle(deadline=seconds), "the bot's work did not end"

    def last_ephemeral(self, user: str) -> str:
        """The text of the user's latest ephemeral answer (blocks' text joined)."""
        found = self.stub.ephemerals(user)
        assert found, f"no ephemeral message to {user}"
        return message_text(found[-1])

    def channel(self) -> list[StubMessage]:
        """The channel's messages as shown now."""
        return self.stub.channel_messages(CHANNEL)


def message_text(message: StubMessage) -> str:
    """Every text of a message's blocks, joined by newlines."""
    parts: list[str] = []
    for block in message.blocks:
        for key in ("text",):
            value = block.get(key)
            if isinstance(value, dict):
                parts.append(str(value.get("text", "")))
        for element in block.get("elements") or []:
            text = element.get("text")
            parts.append(str(text.get("text", "")) if isinstance(text, dict) else str(text or ""))
    return "\n".join(parts)


def buttons(message: StubMessage) -> list[str]:
    """The action ids of the message's buttons."""
    return [
        str(e.get("action_id"))
        for b in message.blocks
        if b.get("type") == "actions"
        for e in b.get("elements") or []
    ]


def stand_in() -> SlackStub:
    """A stand-in whose directory knows the test users and the @ml-platform group."""
    directory = Directory(
        users=NAMES,
        usergroups={"@ml-platform": [BOB]},
        channels={CHANNEL: [ALICE, BOB, CAROL]},
    )
    return SlackStub(token=TOKEN, directory=directory)


@asynccontextmanager
async def running_bot(
    *,
    backend: Backend,
    settings: Settings,
    clock: Clock | None = None,
    stub: SlackStub | None = None,
    db: Database | None = None,
    rollouts: bool = False,
    retry: RetryPolicy | None = None,
) -> AsyncIterator[RunningBot]:
    """The app over HTTP on 127.0.0.1 (free port) with a started stand-in; ``rollouts``
    starts the rollout engine's scheduler too; ``retry``: how the client retries Slack."""
    own_stub = stub is None
    stub = stub or stand_in()
    if own_stub:
        await stub.start()
    client = build_client(token=TOKEN, api_url=stub.api_url, retry=retry)
    options: dict[str, Any] = {"clock": clock} if clock is not None else {}
    services = Services.create(
        settings=settings, backend=backend, client=client, db=db, progress_interval=0.0, **options
    )
    engine = build_engine(services)
    app = build_app(services=services, rollouts=engine, signing_secret=SECRET)
    runner, port = await start_http(app, host="127.0.0.1", port=0)
    session = aiohttp.ClientSession()
    if rollouts:
        engine.start()
    try:
        yield RunningBot(
            services=services,
            rollouts=engine,
            stub=stub,
            url=f"http://127.0.0.1:{port}{EVENTS_PATH}",
            session=session,
        )
    finally:
        await engine.stop()
        await session.close()
        await runner.cleanup()
        if not await services.tasks.wait_idle(deadline=60):
            await services.tasks.cancel_all()
        if db is None:
            services.db.dispose()
        if own_stub:
            await stub.stop()


ENDPOINT = "product-recommender"


async def seeded_backend(
    *, fail_deployments: set[str] | None = None, crash_on: set[str] | None = None
) -> FakeBackend:
    """The seed's endpoint with blue (model 1) at 100% and green (model 2) at 0%;
    ``fail_deployments``, ``crash_on``: as ``FakeBackend`` takes them."""
    backend = FakeBackend(fail_deployments=fail_deployments, crash_on=crash_on)
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    for version in ("1", "2"):
        await backend.register_model("recommendation-model", version, str(Path(__file__)))
    for name, version in (("blue", "1"), ("green", "2")):
        spec = DeploymentSpec(
            name=name,
            endpoint_name=ENDPOINT,
            model=ModelRef(name="recommendation-model", version=version),
        )
        await backend.create_or_update_deployment(spec)
    await backend.set_traffic(ENDPOINT, {"blue": 100, "green": 0})
    return backend
