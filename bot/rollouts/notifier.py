"""A rollout's messages in Slack: one progress message updated at each step, a reply in its
thread when it ends (with a PNG chart of its intervals), and the approval request a
``--confirm-promotion`` rollout waits for.

A rollout started from the terminal (``flightdeck rollout start``) carries the channel
it was given (``--channel``, or the endpoint's alerts channel): the bot, when it drives
it, posts the progress message there; without a channel it shows nothing. A chart that
cannot be made or uploaded is logged and left out.

A rollout channel Slack refuses (not invited, archived, deleted, a missing scope) is said
once (``SlackIO.tell_once``) to the person who asked for the rollout, by direct message
(a rollout from the terminal has no Slack user: the endpoint's deploy channel instead,
where its latest slash command ran, from the audit log).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import datetime

from bot import messages
from bot.approvals.flow import ApprovalDesk, request_approval
from bot.channel_health import setting_for
from bot.policy.audit import AuditLog
from bot.policy.history import TrafficHistoryStore
from bot.slack_io import Origin, SlackIO
from commands.reply import FileAttachment
from commands.rollout_view import render_rollout, render_rollout_finished
from deploy.backend import Backend
from rollouts import MessageRef, Rollout, render_rollout_chart, target_weights

__all__ = ["SlackRolloutNotifier"]

log = logging.getLogger(__name__)

#: A Slack user id (a rollout asked for in Slack; one from the terminal is ``cli:<login>``).
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")


class SlackRolloutNotifier:
    """Implements ``rollouts.RolloutNotifier`` with the bot's Slack client and stores.

    ``desk`` posts the approval request of a ``--confirm-promotion`` rollout.
    """

    def __init__(
        self,
        *,
        slack: SlackIO,
        backend: Backend,
        history: TrafficHistoryStore,
        audit: AuditLog,
        desk: ApprovalDesk,
        clock: Callable[[], datetime],
        charts: bool = True,
    ) -> None:
        self._slack = slack
        self._backend = backend
        self._history = history
        self._audit = audit
        self._desk = desk
        self._clock = clock
        self._charts = charts

    async def show(self, rollout: Rollout, where: MessageRef) -> MessageRef | None:
        reply = render_rollout(rollout, now=self._clock())
        if where.channel and where.ts:
            await self._slack.update(where.channel, where.ts, reply)
            return None
        if not rollout.channel:
            return None
        try:
            ts = await self._slack.post(rollout.channel, reply)
        except Exception:
            await self._tell_once(rollout, rollout.channel)
            raise
        return MessageRef(rollout.channel, ts)

    async def _tell_once(self, rollout: Rollout, channel: str) -> None:
        """Say once to whoever asked for ``rollout`` that its channel refuses the bot's posts
        (nothing is said when Slack merely failed: ``SlackIO.health`` has no problem)."""
        if self._slack.health.get(channel) is None:
            return
        try:
            person = rollout.requested_by if _SLACK_USER.match(rollout.requested_by) else None
            deploys = await self._audit.last_channel(rollout.endpoint, besides=channel)
            what = messages.CHANNEL_WHAT_ROLLOUT.format(
                canary=rollout.canary, endpoint=rollout.endpoint
            )
            await self._slack.tell_once(
                channel, what=what, where=setting_for(channel, None), to=[person, deploys]
            )
        except Exception:
            log.warning(
                "could not say that %s refuses rollout %s", channel, rollout.id, exc_info=True
            )

    async def finished(self, rollout: Rollout, where: MessageRef) -> None:
        if rollout.outcome == "promoted":
            # One entry for the whole rollout: `/traffic <endpoint> rollback` undoes it.
            endpoint = await self._backend.get_endpoint(rollout.endpoint)
            await self._history.record(
                endpoint=rollout.endpoint,
                before=rollout.baseline,
                before_mirror=endpoint.mirror_traffic,
                after=target_weights(rollout),
                after_mirror=endpoint.mirror_traffic,
                approval_id=None,
            )
        await self._audit.record(
            user=rollout.requested_by,
            channel=rollout.channel,
            action="rollout",
            result=rollout.outcome or "done",
            text=rollout.canary,
            detail=rollout.reason,
            endpoint=rollout.endpoint,
        )
        if not (where.channel and where.ts):
            return
        reply = render_rollout_finished(rollout)
        await self._slack.reply(
            where.channel, where.ts, reply, broadcast=rollout.outcome != "promoted"
        )
        if self._charts and rollout.results:
            await self._chart(rollout, where)

    async def _chart(self, rollout: Rollout, where: MessageRef) -> None:
        assert where.channel and where.ts
        try:
            png = await asyncio.to_thread(render_rollout_chart, rollout)
            name = f"rollout-{rollout.endpoint}-{rollout.canary}-{rollout.id}.png"
            attachment = FileAttachment(filename=name, title=name, content=png)
            await self._slack.upload(where.channel, attachment, thread_ts=where.ts)
        except Exception:
            log.warning("the chart of rollout %s was not posted", rollout.id, exc_info=True)

    async def request_promotion(self, rollout: Rollout, where: MessageRef) -> str | None:
        if not rollout.channel:
            return None
        approval = await request_approval(
            self._desk,
            kind="rollout_promote",
            endpoint=rollout.endpoint,
            payload={
                "rollout": rollout.id,
                "canary": rollout.canary,
                "current": target_weights(rollout),
                "confirming": True,
            },
            origin=Origin(user=rollout.requested_by, channel=rollout.channel),
        )
        return approval.id
