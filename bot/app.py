"""The Slack app: build the Bolt ``AsyncApp`` and register every listener package.

client = AsyncWebClient(token=secrets.bot_token, base_url=api_url)
services = Services.create(settings=settings, backend=backend, client=client)
app = build_app(services=services, signing_secret=secrets.signing_secret)
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts import buttons as alert_buttons
from bot.alerts import command as alerts_command
from bot.approvals import buttons as approval_buttons
from bot.deployments import deploy, logs, scale
from bot.loadtests import buttons as loadtest_buttons
from bot.loadtests import command as loadtest_command
from bot.rollouts import buttons as rollout_buttons
from bot.rollouts.flow import build_engine
from bot.services import Services
from bot.traffic import buttons as shift_buttons
from bot.traffic import command as traffic_command

__all__ = ["DEFAULT_API_URL", "LISTENERS", "build_app", "build_client"]

log = logging.getLogger("bot")

DEFAULT_API_URL = "https://slack.com/api/"

#: Every listener module, by feature; each has ``register(app, services)``.
LISTENERS = (
    deploy,
    traffic_command,
    scale,
    logs,
    loadtest_command,
    alerts_command,
    approval_buttons,
    shift_buttons,
    alert_buttons,
    loadtest_buttons,
    rollout_buttons,
)


def build_client(*, token: str | None, api_url: str | None = None) -> AsyncWebClient:
    """The Web API client: ``SLACK_API_URL`` as base URL when set; retries on rate limits."""
    base_url = api_url or DEFAULT_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    client = AsyncWebClient(token=token, base_url=base_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def build_app(
    *, services: Services, signing_secret: str | None, client: AsyncWebClient | None = None
) -> AsyncApp:
    """The app with every listener, and the rollout engine wired to its Slack client;
    requests are signature-checked unless ``signing_secret`` is ``None`` (Socket Mode,
    where Slack's connection is the proof)."""
    app = AsyncApp(
        client=client or services.slack.client,
        signing_secret=signing_secret,
        request_verification_enabled=signing_secret is not None,
        logger=log,
    )

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error in a listener (%s)", body.get("type"), exc_info=error)

    if services.rollouts is None:
        services.rollouts = build_engine(services)
    for module in LISTENERS:
        module.register(app, services)
    return app
