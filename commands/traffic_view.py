"""Block Kit for ``/traffic``: the status at a glance, and a proposed split beside the current."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from commands import messages
from commands.blocks import (
    code_block,
    context,
    escape,
    format_split,
    header,
    section,
    text_table,
)
from commands.reply import Reply
from commands.rollout_view import lock_line, rollout_line
from commands.traffic import TrafficPlan, TrafficStatus
from deploy.types import Deployment, Endpoint

__all__ = [
    "format_split",
    "health",
    "plan_blocks",
    "render_applied",
    "render_dry_run",
    "render_status",
    "short_model",
]


def health(deployment: Deployment) -> str:
    """A word or two: ``healthy``, ``2/3 ready``, ``failed``..."""
    state = deployment.provisioning_state
    if state.lower() not in ("succeeded", "ready"):
        return state.lower()
    if not deployment.instances:
        return messages.HEALTH_UNKNOWN
    ready = deployment.ready_instances
    if ready == len(deployment.instances):
        return messages.HEALTH_OK
    return messages.HEALTH_PARTIAL.format(ready=ready, total=len(deployment.instances))


def short_model(model: str | None, *, limit: int = 32) -> str:
    """A model for a table: ``name:version`` as is, a long local path by its last part."""
    if not model:
        return "-"
    if len(model) <= limit or "/" not in model:
        return model
    return "…/" + model.rstrip("/").rsplit("/", 1)[-1]


def _instances(deployment: Deployment) -> str:
    if deployment.instances:
        return f"{deployment.ready_instances}/{len(deployment.instances)}"
    return str(deployment.instance_count)


def render_status(status: TrafficStatus) -> Reply:
    """Deployments, weights, mirror, model, instances and health of one endpoint."""
    endpoint = status.endpoint
    blocks: list[Block] = [header(messages.STATUS_TITLE.format(endpoint=endpoint.name))]
    if not status.deployments:
        blocks.append(section(messages.STATUS_NO_DEPLOYMENTS))
    else:
        rows = [list(messages.STATUS_COLUMNS)]
        for d in status.deployments:
            rows.append(
                [
                    d.name,
                    f"{endpoint.traffic.get(d.name, 0)}%",
                    f"{endpoint.mirror_traffic[d.name]}%"
                    if endpoint.mirror_traffic.get(d.name)
                    else "-",
                    short_model(d.model),
                    _instances(d) + (" (auto)" if d.autoscale else ""),
                    health(d),
                ]
            )
        blocks.append(code_block(text_table(rows)))
    if status.rollout is not None:
        blocks.append(section(rollout_line(status.rollout)))
    if status.lock is not None:
        blocks.append(section(lock_line(status.lock)))
    blocks.append(
        context(
            messages.STATUS_FOOTER.format(
                state=escape(endpoint.provisioning_state),
                auth=escape(endpoint.auth_mode),
                uri=escape(endpoint.scoring_uri),
            )
        )
    )
    text = messages.STATUS_TEXT.format(
        endpoint=endpoint.name, split=format_split(endpoint.traffic, endpoint.mirror_traffic)
    )
    return Reply(text=text, blocks=tuple(blocks))


def plan_blocks(plan: TrafficPlan) -> list[Block]:
    """The current and the proposed split, side by side."""
    names = sorted({*plan.current, *plan.traffic, *plan.current_mirror, *plan.mirror})
    rows = [list(messages.PLAN_COLUMNS)]
    for name in names:
        now = f"{plan.current.get(name, 0)}%"
        new = f"{plan.traffic.get(name, 0)}%"
        if plan.current_mirror.get(name):
            now += f" (+{plan.current_mirror[name]}% mirror)"
        if plan.mirror.get(name):
            new += f" (+{plan.mirror[name]}% mirror)"
        rows.append([name, now, "→" if now != new else " ", new])
    return [code_block(text_table(rows))]


def render_dry_run(plan: TrafficPlan, *, notes: Sequence[str] = ()) -> Reply:
    """``--dry-run`` of a shift or rollback: the split it would set, what would stand in its
    way (``notes``), and that nothing changed."""
    kind = messages.DRY_RUN_ROLLBACK if plan.rollback_of is not None else messages.DRY_RUN_SHIFT
    title = kind.format(endpoint=plan.endpoint)
    blocks: list[Block] = [header(title), *plan_blocks(plan)]
    blocks.extend(section(note) for note in notes)
    blocks.append(context(messages.DRY_RUN_FOOTER))
    return Reply(text=title, blocks=tuple(blocks))


def render_applied(endpoint: Endpoint) -> str:
    """One line: the split now live."""
    return messages.APPLIED.format(split=format_split(endpoint.traffic, endpoint.mirror_traffic))
