"""The buttons of an alert message: acknowledge, silence, shift traffic away.

Access: acknowledging and silencing are open to deployers and approvers (the people
who act on an endpoint); shifting traffic away is a traffic-shift request, so it
needs a deployer, and an approver approves it (the usual approval flow).

A click counts only on the latest message of a firing alert: a click on an older
episode's message, or on a resolved alert, changes nothing and says why. Clicks
write with the store's compare-and-set, so a click and a poll never overwrite
each other; the message is then re-rendered (``chat.update``).

    outcome = await acknowledge(deps, click)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from alerts.settings import AlertSettings
from alerts.source import is_source
from alerts.state import AlertKey, AlertState
from alerts.store import AlertStore, StoredAlert
from bot import messages
from bot.alerts.notifier import SlackNotifier
from bot.approvals.flow import ApprovalDesk, request_traffic_shift
from bot.edge import Outcome
from bot.errors import AccessDeniedError, AlertStateError
from bot.policy.access import AccessPolicy
from bot.requests import ButtonClick
from bot.slack_io import SlackIO
from commands.alerts_view import slack_time
from commands.traffic import plan_redistribution
from deploy.backend import Backend
from deploy.errors import ValidationError

__all__ = ["AlertDeps", "acknowledge", "parse_alert_id", "shift_away", "silence"]

#: Tries of a click's compare-and-set before giving up (a poll wrote in between each time).
_TRIES = 5


@dataclass(frozen=True, kw_only=True)
class AlertDeps:
    """What ``/alerts`` and the alert buttons use."""

    alert_store: AlertStore
    #: ``None`` when the config has no ``alerts:`` section (alerts off).
    alert_settings: AlertSettings | None
    slack: SlackIO
    access: AccessPolicy
    backend: Backend
    clock: Callable[[], datetime]
    #: "Shift traffic away" is posted for approval here.
    desk: ApprovalDesk


def parse_alert_id(value: str) -> AlertKey:
    """The key in a button's value (``endpoint/deployment/rule``)."""
    parts = value.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValidationError(messages.FOREIGN_BUTTON)
    return AlertKey(endpoint=parts[0], deployment=parts[1], rule=parts[2])


async def _may_respond(deps: AlertDeps, user: str) -> None:
    if deps.access.settings is None:
        raise AccessDeniedError(messages.NO_POLICY.format(user=user))
    if await deps.access.allows(user, "deploy") or await deps.access.allows(user, "approve"):
        return
    raise AccessDeniedError(messages.ALERT_DENIED.format(user=user))


async def _firing(deps: AlertDeps, click: ButtonClick, what: str) -> StoredAlert:
    """The clicked alert, firing, with this message as its latest."""
    key = parse_alert_id(click.value)
    alert = await deps.alert_store.get(key)
    if alert is None or is_source(key):
        raise AlertStateError(messages.ALERT_UNKNOWN)
    state = alert.state
    if click.message_ts and state.message_ts and click.message_ts != state.message_ts:
        raise AlertStateError(messages.ALERT_OLD_MESSAGE)
    if state.status != "firing":
        raise AlertStateError(
            messages.ALERT_NOT_FIRING.format(status=state.status, what=messages.ALERT_WHAT[what])
        )
    return alert


async def _change(
    deps: AlertDeps, click: ButtonClick, what: str, change: Callable[[AlertState], AlertState]
) -> StoredAlert:
    """Apply ``change`` to the clicked alert with compare-and-set; re-render its message."""
    for _ in range(_TRIES):
        alert = await _firing(deps, click, what)
        state = change(alert.state)
        saved = await deps.alert_store.save(replace(alert, state=state))
        if saved is not None:
            notifier = SlackNotifier(slack=deps.slack, store=deps.alert_store)
            await notifier.refresh(saved, now=deps.clock())
            return saved
    raise AlertStateError(messages.ALERT_UNKNOWN)


class _Change:
    """A change of an alert's state by a click."""

    def __init__(self, *, user: str, now: datetime, silence: timedelta | None = None) -> None:
        self.user = user
        self.now = now
        self.silence = silence

    def __call__(self, state: AlertState) -> AlertState:
        if self.silence is not None:
            return replace(state, silenced_until=self.now + self.silence, silenced_by=self.user)
        if state.acknowledged_by is not None and state.acknowledged_at is not None:
            raise AlertStateError(
                messages.ALERT_ALREADY_ACKED.format(
                    user=state.acknowledged_by, at=slack_time(state.acknowledged_at)
                )
            )
        return replace(state, acknowledged_by=self.user, acknowledged_at=self.now)


async def acknowledge(deps: AlertDeps, click: ButtonClick) -> Outcome:
    """Record who acknowledged: no more reminders for this episode."""
    await _may_respond(deps, click.user)
    change = _Change(user=click.user, now=deps.clock())
    saved = await _change(deps, click, "acknowledge", change)
    return Outcome(result="acknowledged", endpoint=saved.key.endpoint, detail=saved.key.as_id())


async def silence(deps: AlertDeps, click: ButtonClick, *, hours: int) -> Outcome:
    """No message about this alert (reminders, a new episode) for ``hours``."""
    await _may_respond(deps, click.user)
    change = _Change(user=click.user, now=deps.clock(), silence=timedelta(hours=hours))
    saved = await _change(deps, click, "silence", change)
    return Outcome(
        result="silenced", endpoint=saved.key.endpoint, detail=f"{saved.key.as_id()} {hours}h"
    )


async def shift_away(deps: AlertDeps, click: ButtonClick) -> Outcome:
    """Ask for approval to move the deployment's traffic to the other deployments."""
    key = parse_alert_id(click.value)
    if is_source(key) or await deps.alert_store.get(key) is None:
        raise AlertStateError(messages.ALERT_UNKNOWN)
    await deps.access.require(click.user, "deploy")
    plan = await plan_redistribution(deps.backend, key.endpoint, key.deployment, 0)
    approval = await request_traffic_shift(deps.desk, plan=plan, origin=click.origin)
    return Outcome(result="requested", endpoint=key.endpoint, approval_id=approval.id)
