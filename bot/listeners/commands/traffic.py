"""``/traffic``: status for everyone; shifts and rollbacks from deployers, through approval."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.approval_flow import request_traffic_shift
from bot.guard import Outcome, tell
from bot.listeners.commands.base import SlashRequest, register_command
from bot.services import Services
from commands import traffic
from commands.reply import notice
from commands.traffic_view import render_status

__all__ = ["register"]


async def run(services: Services, request: SlashRequest) -> Outcome:
    """Parse, check, then show the split or post an approval request."""
    parsed = traffic.parse(request.text)
    if isinstance(parsed, traffic.TrafficHelp):
        await tell(services, request.origin, notice(traffic.HELP))
        return Outcome(result="help")
    if isinstance(parsed, traffic.ShowTraffic):
        status = await traffic.load_status(services.backend, parsed.endpoint)
        await tell(services, request.origin, render_status(status))
        return Outcome(result="ok", endpoint=parsed.endpoint)
    await services.access.require(request.user, "deploy")
    if isinstance(parsed, traffic.RollbackTraffic):
        plan = await traffic.plan_rollback(services.backend, services.history, parsed.endpoint)
    else:
        plan = await traffic.plan_shift(services.backend, parsed)
    approval = await request_traffic_shift(services, plan=plan, origin=request.origin)
    return Outcome(result="requested", endpoint=plan.endpoint, approval_id=approval.id)


def register(app: AsyncApp, services: Services) -> None:
    """Listen to ``/traffic``."""
    register_command(app, services, "/traffic", run)
