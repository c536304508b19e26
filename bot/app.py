"""The Slack app: build the Bolt ``AsyncApp``, each feature's dependencies from ``Services``
(once), and register every feature's listeners on the one listener middleware.

client = build_client(token=secrets.bot_token, api_url=api_url)
services = Services.create(settings=settings, backend=backend, client=client)
engine = build_engine(services)
app = build_app(services=services, rollouts=engine, signing_secret=secrets.signing_secret)
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts import buttons as alert_buttons
from bot.alerts import command as alerts_command
from bot.alerts.flow import AlertDeps
from bot.approvals import buttons as approval_buttons
from bot.approvals.flow import ApprovalDesk
from bot.approvals.kinds import ApplyDeps
from bot.capacity import command as capacity_command
from bot.capacity.command import CapacityDeps
from bot.deployments import deploy, logs, scale
from bot.deployments.deps import DeploymentDeps
from bot.loadtests import buttons as loadtest_buttons
from bot.loadtests import command as loadtest_command
from bot.loadtests.command import LoadTestDeps
from bot.loadtests.runs import limits_for
from bot.middleware import Listeners
from bot.rollouts import buttons as rollout_buttons
from bot.rollouts.flow import RolloutDeps
from bot.rollouts.notifier import SlackRolloutNotifier
from bot.services import Services
from bot.slack_retries import RetryPolicy, retry_handlers
from bot.traffic import buttons as shift_buttons
from bot.traffic import command as traffic_command
from bot.traffic.command import TrafficDeps
from commands.canary_load import canary_feeder
from loadtest import Limits
from rollouts import RolloutEngine

__all__ = [
    "DEFAULT_API_URL",
    "approval_desk",
    "build_app",
    "build_client",
    "build_engine",
    "register_listeners",
]

log = logging.getLogger("bot")

DEFAULT_API_URL = "https://slack.com/api/"


def build_client(
    *, token: str | None, api_url: str | None = None, retry: RetryPolicy | None = None
) -> AsyncWebClient:
    """The Web API client: ``SLACK_API_URL`` as base URL when set; Slack's 429s, 5xx, HTML
    answers and connection failures retried as ``retry`` says (``bot.slack_retries``)."""
    base_url = api_url or DEFAULT_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    return AsyncWebClient(
        token=token, base_url=base_url, retry_handlers=retry_handlers(retry or RetryPolicy())
    )


def approval_desk(services: Services) -> ApprovalDesk:
    """What posts, decides and expires approval requests."""
    return ApprovalDesk(
        approvals=services.approvals,
        slack=services.slack,
        access=services.access,
        audit=services.audit,
        clock=services.clock,
        expiry_minutes=services.settings.approvals.expiry_minutes,
        locks=services.locks,
        rollout_store=services.rollout_store,
    )


def _load_limits(services: Services) -> Limits:
    return limits_for(services.settings.loadtest, loopback_only=services.backend.loopback_only)


def build_engine(services: Services) -> RolloutEngine:
    """The rollout engine on the bot's database, showing rollouts in Slack, sending
    ``--with-load`` load with the configured load-test caps. Built before the app, which
    gets it (``build_app(rollouts=...)``); its scheduler runs under ``running_rollouts``."""
    notifier = SlackRolloutNotifier(
        slack=services.slack,
        backend=services.backend,
        history=services.history,
        audit=services.audit,
        desk=approval_desk(services),
        clock=services.clock,
    )
    return RolloutEngine(
        backend=services.backend,
        store=services.rollout_store,
        locks=services.locks,
        notifier=notifier,
        settings=services.settings.rollouts,
        clock=services.clock,
        feeder=canary_feeder(services.backend, _load_limits(services)),
    )


def register_listeners(listeners: Listeners, services: Services, rollouts: RolloutEngine) -> None:
    """Each feature's dependencies, built once, and its listeners registered with them."""
    desk = approval_desk(services)
    limits = _load_limits(services)
    deployments = DeploymentDeps(
        backend=services.backend,
        slack=services.slack,
        access=services.access,
        locks=services.locks,
        rollout_store=services.rollout_store,
        spec_folder=services.settings.specs.folder,
        progress_interval=services.progress_interval,
        desk=desk,
        approvals=services.settings.approvals,
    )
    for module in (deploy, scale, logs):
        module.register(listeners, deployments)
    canaries = RolloutDeps(
        backend=services.backend,
        slack=services.slack,
        access=services.access,
        locks=services.locks,
        rollout_store=services.rollout_store,
        limits=limits,
        desk=desk,
        engine=rollouts,
    )
    traffic = TrafficDeps(
        backend=services.backend,
        slack=services.slack,
        access=services.access,
        locks=services.locks,
        rollout_store=services.rollout_store,
        history=services.history,
        desk=desk,
        rollouts=canaries,
        rollout_settings=services.settings.rollouts,
        max_load_rate=services.settings.loadtest.max_rate,
    )
    traffic_command.register(listeners, traffic)
    shift_buttons.register(listeners, traffic)
    applying = ApplyDeps(
        backend=services.backend,
        history=services.history,
        locks=services.locks,
        access=services.access,
        rollout_store=services.rollout_store,
        rollouts=rollouts,
    )
    approval_buttons.register(listeners, desk, applying)
    rollout_buttons.register(listeners, canaries)
    alerts = AlertDeps(
        alert_store=services.alert_store,
        alert_settings=services.alert_settings,
        slack=services.slack,
        access=services.access,
        backend=services.backend,
        clock=services.clock,
        desk=desk,
    )
    alerts_command.register(listeners, alerts)
    alert_buttons.register(listeners, alerts)
    loadtests = LoadTestDeps(
        backend=services.backend,
        slack=services.slack,
        access=services.access,
        runs=services.loadtests,
        limits=limits,
        progress_seconds=services.settings.loadtest.progress_seconds,
    )
    loadtest_command.register(listeners, loadtests)
    loadtest_buttons.register(listeners, loadtests)
    capacity = CapacityDeps(
        backend=services.backend,
        slack=services.slack,
        access=services.access,
        runs=services.loadtests,
        limits=limits,
        headroom=services.settings.capacity.headroom,
        prices=services.settings.pricing.table(),
        progress_seconds=services.settings.loadtest.progress_seconds,
    )
    capacity_command.register(listeners, capacity)


def build_app(
    *,
    services: Services,
    rollouts: RolloutEngine,
    signing_secret: str | None,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    """The app with every listener behind the one listener middleware (``bot.middleware``);
    requests are signature-checked unless ``signing_secret`` is ``None`` (Socket Mode,
    where Slack's connection is the proof). ``services`` is read, never changed."""
    app = AsyncApp(
        client=client or services.slack.client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        logger=log,
    )

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error in a listener (%s)", body.get("type"), exc_info=error)

    listeners = Listeners(
        tasks=services.tasks,
        deliveries=services.deliveries,
        slack=services.slack,
        audit=services.audit,
    )
    register_listeners(listeners, services, rollouts)
    app.use(listeners)
    return app
