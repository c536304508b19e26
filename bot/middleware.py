"""What every listener does, once, as one Bolt middleware: ack at once, drop a retried
delivery, run the work after the ack through the error edge, audited.

Listeners only say which slash command or button they handle and do their work::

    listeners = Listeners(tasks=tasks, deliveries=deliveries, slack=slack, audit=audit)
    listeners.command("/scale", partial(run, deps))      # run(deps, request) -> Outcome
    listeners.action(actions.APPROVE, partial(approve, deps))
    app.use(listeners)

For a slash command or a ``block_actions`` click it handles, the middleware spawns the
work (tracked by ``BackgroundTasks``; it starts once the request is answered) and
returns the ack, ending the chain as Bolt's own ``AsyncIgnoringSelfEvents`` does for the
events it drops. Bolt's async middleware cannot wrap a listener (its ``next()`` only
lets the chain go on), so the work is dispatched here, and the ack never waits for it.
Anything else goes on down Bolt's chain (an unknown command gets Bolt's 404).

The work then: a delivery seen before (same ``trigger_id`` for a command; same action,
user and ``action_ts`` for a click) is ignored; otherwise the handler runs through
``bot.edge.guarded`` (known errors shown privately, unknown ones logged once, one audit
entry).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import is_block_actions, is_slash_command
from slack_bolt.response import BoltResponse

from bot.deliveries import DeliveryLog
from bot.edge import Outcome, guarded
from bot.policy.audit import AuditLog
from bot.requests import ButtonClick, SlashRequest
from bot.slack_io import Origin, SlackIO
from bot.tasks import BackgroundTasks

__all__ = ["ActionHandler", "CommandHandler", "Listeners"]

log = logging.getLogger(__name__)

#: A slash command's work: what ended it, for the audit log.
CommandHandler = Callable[[SlashRequest], Awaitable[Outcome]]
#: A button's work.
ActionHandler = Callable[[ButtonClick], Awaitable[Outcome]]


@dataclass(frozen=True, kw_only=True)
class _Work:
    """One delivery's work, whatever listener it is for."""

    name: str
    delivery: str | None
    origin: Origin
    text: str
    run: Callable[[], Awaitable[Outcome]]


class Listeners(AsyncMiddleware):
    """The bot's slash commands and buttons, acked at once and run after, once per delivery."""

    def __init__(
        self,
        *,
        tasks: BackgroundTasks,
        deliveries: DeliveryLog,
        slack: SlackIO,
        audit: AuditLog,
    ) -> None:
        self._tasks = tasks
        self._deliveries = deliveries
        self._slack = slack
        self._audit = audit
        self._commands: dict[str, CommandHandler] = {}
        self._actions: dict[str, ActionHandler] = {}

    def command(self, command: str, handler: CommandHandler) -> None:
        """Handle the slash command ``command`` (``"/traffic"``) with ``handler``."""
        self._commands[command] = handler

    def action(self, action_id: str, handler: ActionHandler) -> None:
        """Handle clicks on the button ``action_id`` with ``handler``."""
        self._actions[action_id] = handler

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        work = self._work_for(req)
        if work is None:
            return await next()
        # Spawned first, so that whoever waits for the bot to be idle never misses it;
        # it starts only once this request has been answered.
        self._tasks.spawn(self._run(work), name=work.name)
        return await req.context.ack()

    def _work_for(self, req: AsyncBoltRequest) -> _Work | None:
        body = req.body
        if is_slash_command(body):
            request = SlashRequest.from_body(body)
            command = self._commands.get(request.command)
            if command is None:
                return None
            return _Work(
                name=request.command,
                delivery=request.delivery,
                origin=request.origin,
                text=request.text,
                run=lambda: command(request),
            )
        if is_block_actions(body):
            click = ButtonClick.from_body(body)
            action = self._actions.get(click.action_id)
            if action is None:
                return None
            return _Work(
                name=click.action_id,
                delivery=click.delivery,
                origin=click.origin,
                text=click.value,
                run=lambda: action(click),
            )
        return None

    async def _run(self, work: _Work) -> None:
        if work.delivery is not None and not await self._deliveries.first_time(work.delivery):
            log.info("ignoring a repeated delivery of %s by %s", work.name, work.origin.user)
            return
        await guarded(
            slack=self._slack,
            audit=self._audit,
            origin=work.origin,
            action=work.name,
            text=work.text,
            work=work.run,
        )
