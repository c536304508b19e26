"""``flightdeck serve``'s start-up checks: can the bot post to every configured channel?

At start, before any alert is due: ``auth.test`` (its ``X-OAuth-Scopes`` header lists
the app's scopes; the ones the bot needs are checked), then ``conversations.info`` of
each configured channel (``alerts.channel``, each ``alerts.endpoints.<name>.channel``,
and the channels of rollouts in progress): it must exist, not be archived, and have
the bot as a member. Each finding is one line saying what is wrong and what to do;
problems are recorded in ``SlackIO.health`` too, so ``/alerts`` shows them. The checks
never stop the bot: Slack may be fixed while it runs.

    lines = await check_channels(slack, alert_settings, rollout_channels)
    problems = [finding.text for finding in lines if not finding.ok]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from alerts.settings import AlertSettings
from bot import messages
from bot.channel_health import ChannelProblem, setting_for
from bot.policy.access import slack_error
from bot.slack_io import SlackIO

__all__ = ["NEEDED_SCOPES", "Finding", "check_channels", "configured_channels", "plain"]

#: Scopes the bot cannot work without (slack/manifest.yml has them all).
NEEDED_SCOPES = ("chat:write", "commands", "files:write")


@dataclass(frozen=True)
class Finding:
    """One line of the checks: ``ok`` or a problem (mrkdwn text, ``plain`` for a terminal)."""

    ok: bool
    text: str


def configured_channels(
    settings: AlertSettings | None, rollouts: Iterable[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """(channel, purpose) of every channel the bot is configured to post to, once each."""
    found: dict[str, str] = {}
    if settings is not None and settings.enabled:
        if settings.channel:
            found[settings.channel] = messages.CHECK_PURPOSE_ALERTS
        for name, override in sorted(settings.endpoints.items()):
            if override.enabled and override.channel and override.channel not in found:
                found[override.channel] = messages.CHECK_PURPOSE_ENDPOINT.format(endpoint=name)
    for rollout, channel in rollouts:
        found.setdefault(channel, messages.CHECK_PURPOSE_ROLLOUT.format(rollout=rollout))
    return list(found.items())


def plain(line: str) -> str:
    """A line for the terminal: Slack's channel links (``<#C0123>``) as ``#C0123``."""
    return re.sub(r"<#([A-Z0-9]+)>", r"#\1", line)


async def _scopes(slack: SlackIO) -> tuple[list[Finding], bool]:
    """The lines about the app's scopes; and whether the token works at all."""
    try:
        answer = await slack.client.auth_test()
    except SlackApiError as exc:
        return [Finding(False, messages.CHECK_AUTH_FAILED.format(error=slack_error(exc)))], False
    headers = {str(k).lower(): v for k, v in (answer.headers or {}).items()}
    raw = headers.get("x-oauth-scopes")
    if isinstance(raw, list | tuple):
        raw = ",".join(raw)
    if not raw:
        return [Finding(True, messages.CHECK_SCOPES_UNKNOWN)], True
    granted = {scope.strip() for scope in str(raw).split(",")}
    missing = [scope for scope in NEEDED_SCOPES if scope not in granted]
    if missing:
        return [
            Finding(False, messages.CHECK_SCOPES_MISSING.format(scopes=", ".join(missing)))
        ], True
    return [Finding(True, messages.CHECK_SCOPES_OK.format(scopes=", ".join(NEEDED_SCOPES)))], True


async def check_channels(
    slack: SlackIO,
    settings: AlertSettings | None,
    rollouts: Iterable[tuple[str, str]] = (),
) -> list[Finding]:
    """One finding per check: the scopes, then each configured channel."""
    lines, token_ok = await _scopes(slack)
    if not token_ok:
        return lines
    for channel, purpose in configured_channels(settings, rollouts):
        where = setting_for(channel, settings)
        try:
            answer = await slack.client.conversations_info(channel=channel)
        except SlackApiError as exc:
            error = slack_error(exc)
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            scope = str(data.get("needed")) if data.get("needed") else None
            problem = ChannelProblem(channel=channel, error=error, scope=scope)
            if error == "channel_not_found":
                slack.health.record(channel, error)
            text = messages.CHECK_CHANNEL_BAD.format(
                purpose=purpose, channel=channel, advice=problem.advice(where=where)
            )
            lines.append(Finding(False, text))
            continue
        info = answer.get("channel") or {}
        refused: str | None = None
        if info.get("is_archived"):
            refused = "is_archived"
        elif not info.get("is_member"):
            refused = "not_in_channel"
        if refused is None:
            name = str(info.get("name") or channel)
            text = messages.CHECK_CHANNEL_OK.format(purpose=purpose, channel=channel, name=name)
            lines.append(Finding(True, text))
            await slack.channel_works(channel)  # a later refusal is news again
            continue
        slack.health.record(channel, refused)
        problem = ChannelProblem(channel=channel, error=refused)
        text = messages.CHECK_CHANNEL_BAD.format(
            purpose=purpose, channel=channel, advice=problem.advice(where=where)
        )
        lines.append(Finding(False, text))
    return lines
