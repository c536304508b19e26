"""Block Kit for ``/deploy``: the progress message, the result with its shift button, a failure."""

from __future__ import annotations

import json
from collections.abc import Sequence

from slack_sdk.models.blocks import Block

from commands import actions, messages
from commands.blocks import actions as actions_block
from commands.blocks import button, code_block, context, escape, header, section, text_table
from commands.deploy import SHIFT_PERCENT, DeployPlan
from commands.reply import Reply
from commands.traffic_view import format_split, health
from deploy.errors import DeploymentFailedError, FlightdeckError
from deploy.types import Deployment, Endpoint

__all__ = [
    "live_change_blocks",
    "render_done",
    "render_dry_run",
    "render_failed",
    "render_progress",
]

PROGRESS_LINES = 12


def _title(plan: DeployPlan) -> str:
    spec = plan.spec
    verb = messages.DEPLOY_VERB_UPDATE if plan.exists else messages.DEPLOY_VERB_CREATE
    return messages.DEPLOY_TITLE.format(
        verb=verb, deployment=spec.name, endpoint=spec.endpoint_name
    )


def _summary(plan: DeployPlan, user: str) -> str:
    spec = plan.spec
    model = spec.model.display() if spec.model else messages.NONE
    origin = (
        messages.DEPLOY_FROM_SPEC.format(file=escape(plan.spec_file))
        if plan.spec_file
        else messages.DEPLOY_FROM_CLONE.format(source=escape(plan.source or ""))
    )
    return messages.DEPLOY_SUMMARY.format(
        user=user,
        model=escape(model),
        instance_type=escape(spec.instance_type),
        count=spec.instance_count,
        origin=origin,
    )


def render_progress(plan: DeployPlan, lines: Sequence[str], *, user: str) -> Reply:
    """The message updated while the deployment provisions."""
    shown = list(lines[-PROGRESS_LINES:]) or [messages.DEPLOY_STARTING]
    blocks: list[Block] = [
        header(_title(plan)),
        section(_summary(plan, user)),
        code_block("\n".join(shown)),
        context(messages.DEPLOY_IN_PROGRESS),
    ]
    return Reply(text=_title(plan), blocks=tuple(blocks))


def render_done(
    plan: DeployPlan, deployment: Deployment, endpoint: Endpoint, *, user: str
) -> Reply:
    """The result; a button to start shifting traffic when the deployment takes none yet."""
    spec = plan.spec
    share = endpoint.traffic.get(deployment.name, 0)
    text = messages.DEPLOY_DONE.format(
        deployment=deployment.name,
        endpoint=endpoint.name,
        model=escape(deployment.model or messages.NONE),
        count=deployment.instance_count,
        health=health(deployment),
        share=share,
    )
    blocks: list[Block] = [
        header(
            messages.DEPLOY_DONE_TITLE.format(deployment=spec.name, endpoint=spec.endpoint_name)
        ),
        section(_summary(plan, user)),
        section(text),
        context(
            messages.DEPLOY_SPLIT_NOW.format(
                split=format_split(endpoint.traffic, endpoint.mirror_traffic)
            )
        ),
    ]
    others_live = any(p > 0 for n, p in endpoint.traffic.items() if n != deployment.name)
    if share == 0 and others_live:
        value = json.dumps({"endpoint": endpoint.name, "deployment": deployment.name})
        blocks.append(
            actions_block(
                button(
                    messages.DEPLOY_SHIFT_BUTTON.format(
                        percent=SHIFT_PERCENT, deployment=deployment.name
                    ),
                    action_id=actions.SHIFT_TO_NEW,
                    value=value,
                    style="primary",
                )
            )
        )
    return Reply(
        text=messages.DEPLOY_DONE_TITLE.format(deployment=spec.name, endpoint=spec.endpoint_name),
        blocks=tuple(blocks),
    )


def render_failed(plan: DeployPlan, error: FlightdeckError, *, user: str) -> Reply:
    """The failure, with the instances' last log lines when there are any."""
    blocks: list[Block] = [
        header(
            messages.DEPLOY_FAILED_TITLE.format(
                deployment=plan.spec.name, endpoint=plan.spec.endpoint_name
            )
        ),
        section(_summary(plan, user)),
        section(messages.DEPLOY_FAILED.format(error=escape(error.message))),
    ]
    if isinstance(error, DeploymentFailedError) and error.log_lines:
        blocks.append(code_block("\n".join(error.log_lines)))
    if plan.exists:
        blocks.append(context(messages.DEPLOY_PREVIOUS_SERVES))
    text = messages.DEPLOY_FAILED_TITLE.format(
        deployment=plan.spec.name, endpoint=plan.spec.endpoint_name
    )
    return Reply(text=text, blocks=tuple(blocks))


def render_dry_run(
    plan: DeployPlan, endpoint: Endpoint, *, user: str, notes: Sequence[str] = ()
) -> Reply:
    """``--dry-run``: the deployment that would be made, the checks already run, and what
    would refuse it now (``notes``)."""
    spec = plan.spec
    title = messages.DEPLOY_DRY_RUN_TITLE.format(title=_title(plan))
    share = endpoint.traffic.get(spec.name, 0)
    effect = (
        messages.DEPLOY_DRY_RUN_UPDATE.format(deployment=spec.name, share=share)
        if plan.exists
        else messages.DEPLOY_DRY_RUN_NEW.format(deployment=spec.name)
    )
    model_check = (
        messages.DEPLOY_DRY_RUN_MODEL.format(model=escape(spec.model.display()))
        if spec.model is not None and spec.model.registered
        else ""
    )
    spec_check = messages.DEPLOY_DRY_RUN_SPEC if plan.spec_file else ""
    blocks: list[Block] = [
        header(title),
        section(_summary(plan, user)),
        section(effect),
        context(
            messages.DEPLOY_DRY_RUN_CHECKED.format(model_check=model_check, spec_check=spec_check)
        ),
    ]
    blocks.extend(section(note) for note in notes)
    blocks.append(context(messages.DRY_RUN_FOOTER))
    return Reply(text=title, blocks=tuple(blocks))


def live_change_blocks(
    plan: DeployPlan,
    *,
    model_before: str | None,
    instances_before: str,
    traffic: dict[str, int],
    mirror: dict[str, int],
) -> list[Block]:
    """A deploy onto a live deployment: its model and instances before and after, and the
    split it serves (for the approval request)."""
    spec = plan.spec
    after_model = spec.model.display() if spec.model else messages.NONE
    before_model = model_before or messages.NONE
    after_instances = f"{spec.instance_count} x {spec.instance_type}"
    rows = [
        list(messages.DEPLOY_LIVE_COLUMNS),
        [
            messages.DEPLOY_LIVE_MODEL,
            before_model,
            "→" if before_model != after_model else " ",
            after_model,
        ],
        [
            messages.DEPLOY_LIVE_INSTANCES,
            instances_before,
            "→" if instances_before != after_instances else " ",
            after_instances,
        ],
    ]
    origin = (
        messages.DEPLOY_FROM_SPEC.format(file=escape(plan.spec_file))
        if plan.spec_file
        else messages.DEPLOY_FROM_CLONE.format(source=escape(plan.source or ""))
    )
    split = messages.DEPLOY_LIVE_SPLIT.format(
        split=format_split(traffic, mirror), origin=origin[:1].upper() + origin[1:] + "."
    )
    return [code_block(text_table(rows)), context(split)]
