"""``/scale``: a fixed instance count or an autoscale policy for one deployment.

/scale <endpoint> <deployment>                       the current scale (read-only)
/scale <endpoint> <deployment> <count>               a fixed count
/scale <endpoint> <deployment> --min A --max B [--target P]   target-utilization autoscale
/scale <endpoint> <deployment> --autoscale off       remove the autoscale policy
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from slack_sdk.models.blocks import Block

from commands import messages
from commands.args import is_help, parse_args, parse_int
from commands.blocks import code_block, context, escape, header, section
from commands.reply import Reply
from commands.traffic_view import health
from deploy.backend import Backend
from deploy.errors import ValidationError
from deploy.rules import MAX_INSTANCES_PER_DEPLOYMENT, validate_name
from deploy.types import AutoscalePolicy, Deployment, ProgressCallback

__all__ = [
    "HELP",
    "Autoscale",
    "ScaleHelp",
    "ScaleTo",
    "ShowScale",
    "check",
    "execute",
    "parse",
    "render_done",
    "render_dry_run",
    "render_failed",
    "render_progress",
    "render_show",
]

HELP = messages.SCALE_HELP


@dataclass(frozen=True, kw_only=True)
class ScaleHelp:
    """``/scale help``."""

    writes: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class ShowScale:
    """``/scale <endpoint> <deployment>``."""

    writes: ClassVar[bool] = False
    endpoint: str
    deployment: str


@dataclass(frozen=True, kw_only=True)
class ScaleTo:
    """``/scale <endpoint> <deployment> <count>``."""

    writes: ClassVar[bool] = True
    endpoint: str
    deployment: str
    count: int
    dry_run: bool = False
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class Autoscale:
    """``--min/--max/--target``, or ``--autoscale off`` (``policy`` is ``None``)."""

    writes: ClassVar[bool] = True
    endpoint: str
    deployment: str
    policy: AutoscalePolicy | None
    dry_run: bool = False
    force: bool = False


ScaleRequest = ScaleHelp | ShowScale | ScaleTo | Autoscale


def parse(text: str) -> ScaleRequest:
    """The typed request for ``text``; ``UsageError`` naming what is wrong."""
    if is_help(text):
        return ScaleHelp()
    args = parse_args(
        text,
        help_text=HELP,
        options={"--min", "--max", "--target", "--autoscale"},
        flags={"--dry-run", "--force"},
    )
    flags = {"dry_run": "--dry-run" in args.flags, "force": "--force" in args.flags}
    if len(args.positionals) < 2:
        raise args.usage(messages.SCALE_MISSING_NAMES)
    endpoint, deployment, *rest = args.positionals
    for kind, name in (("endpoint", endpoint), ("deployment", deployment)):
        try:
            validate_name(kind, name)
        except ValidationError as exc:
            raise args.usage(exc.message) from None
    if len(rest) > 1:
        raise args.usage(messages.UNEXPECTED.format(words=" ".join(rest[1:])))
    auto = {"--min", "--max", "--target"} & set(args.options)
    if "--autoscale" in args.options:
        if args.options["--autoscale"].lower() != "off" or rest or auto:
            raise args.usage(messages.SCALE_AUTOSCALE_OFF)
        return Autoscale(endpoint=endpoint, deployment=deployment, policy=None, **flags)
    if rest and auto:
        raise args.usage(messages.SCALE_COUNT_OR_POLICY)
    if rest:
        count = parse_int(
            rest[0], what="count", low=1, high=MAX_INSTANCES_PER_DEPLOYMENT, help_text=HELP
        )
        return ScaleTo(endpoint=endpoint, deployment=deployment, count=count, **flags)
    if not auto:
        if args.flags:
            raise args.usage(messages.SCALE_FLAGS_NEED_CHANGE)
        return ShowScale(endpoint=endpoint, deployment=deployment)
    if not {"--min", "--max"} <= auto:
        raise args.usage(messages.SCALE_MIN_AND_MAX)
    low = args.int_option("--min", default=1, low=1, high=MAX_INSTANCES_PER_DEPLOYMENT) or 1
    high = args.int_option("--max", default=1, low=1, high=MAX_INSTANCES_PER_DEPLOYMENT) or 1
    if high < low:
        raise args.usage(messages.SCALE_MAX_BELOW_MIN.format(low=low, high=high))
    target = args.int_option("--target", default=70, low=1, high=100) or 70
    policy = AutoscalePolicy(
        min_instances=low, max_instances=high, target_utilization_percentage=target
    )
    return Autoscale(endpoint=endpoint, deployment=deployment, policy=policy, **flags)


async def check(backend: Backend, request: ShowScale | ScaleTo | Autoscale) -> Deployment:
    """The deployment as it is; ``ValidationError`` when the request would change nothing."""
    deployment = await backend.get_deployment(request.endpoint, request.deployment)
    if isinstance(request, ScaleTo) and deployment.instance_count == request.count:
        raise ValidationError(
            messages.SCALE_UNCHANGED.format(deployment=deployment.name, count=request.count)
        )
    if isinstance(request, Autoscale) and request.policy is None and deployment.autoscale is None:
        raise ValidationError(messages.SCALE_NO_POLICY.format(deployment=deployment.name))
    return deployment


async def execute(
    backend: Backend, request: ScaleTo | Autoscale, *, progress: ProgressCallback
) -> Deployment:
    """Apply the count or the policy."""
    if isinstance(request, ScaleTo):
        return await backend.scale(
            request.endpoint, request.deployment, request.count, progress=progress
        )
    return await backend.set_autoscale(request.endpoint, request.deployment, request.policy)


def _describe(deployment: Deployment) -> str:
    policy = deployment.autoscale
    text = messages.SCALE_STATE.format(
        deployment=deployment.name,
        endpoint=deployment.endpoint_name,
        count=deployment.instance_count,
        instance_type=deployment.instance_type,
        health=health(deployment),
    )
    if policy is not None:
        text += "\n" + messages.SCALE_POLICY.format(
            low=policy.min_instances,
            high=policy.max_instances,
            target=policy.target_utilization_percentage,
        )
    return text


def render_show(deployment: Deployment) -> Reply:
    """The deployment's scale."""
    text = _describe(deployment)
    return Reply(text=text, blocks=(section(text),))


def _title(request: ScaleTo | Autoscale) -> str:
    if isinstance(request, ScaleTo):
        return messages.SCALE_TITLE.format(
            deployment=request.deployment, endpoint=request.endpoint, count=request.count
        )
    if request.policy is None:
        return messages.SCALE_OFF_TITLE.format(
            deployment=request.deployment, endpoint=request.endpoint
        )
    return messages.SCALE_AUTO_TITLE.format(
        deployment=request.deployment,
        endpoint=request.endpoint,
        low=request.policy.min_instances,
        high=request.policy.max_instances,
    )


def render_progress(request: ScaleTo | Autoscale, lines: Sequence[str], *, user: str) -> Reply:
    """The message updated while instances start or stop."""
    blocks: list[Block] = [
        header(_title(request)),
        code_block("\n".join(lines[-12:]) or messages.SCALE_STARTING),
        context(messages.REQUESTED_BY.format(user=user)),
    ]
    return Reply(text=_title(request), blocks=tuple(blocks))


def render_done(request: ScaleTo | Autoscale, deployment: Deployment, *, user: str) -> Reply:
    """The result."""
    blocks: list[Block] = [
        header(_title(request)),
        section(messages.DONE + " " + _describe(deployment)),
        context(messages.REQUESTED_BY.format(user=user)),
    ]
    return Reply(text=_title(request), blocks=tuple(blocks))


def render_failed(request: ScaleTo | Autoscale, error: str, *, user: str) -> Reply:
    """The failure, in the progress message."""
    blocks: list[Block] = [
        header(_title(request)),
        section(messages.SCALE_FAILED.format(error=escape(error))),
        context(messages.REQUESTED_BY.format(user=user)),
    ]
    return Reply(text=_title(request), blocks=tuple(blocks))


def render_dry_run(
    request: ScaleTo | Autoscale, deployment: Deployment, *, notes: Sequence[str] = ()
) -> Reply:
    """``--dry-run``: the deployment now, what would change, what would refuse it."""
    if isinstance(request, ScaleTo):
        change = messages.SCALE_DRY_RUN_COUNT.format(
            count=request.count, current=deployment.instance_count
        )
        if deployment.autoscale is not None:
            change += " " + messages.SCALE_DRY_RUN_OVERRIDE.format(
                low=deployment.autoscale.min_instances, high=deployment.autoscale.max_instances
            )
    elif request.policy is None:
        change = messages.SCALE_DRY_RUN_OFF.format(current=deployment.instance_count)
    else:
        change = messages.SCALE_DRY_RUN_POLICY.format(
            low=request.policy.min_instances,
            high=request.policy.max_instances,
            target=request.policy.target_utilization_percentage,
        )
    title = messages.SCALE_DRY_RUN_TITLE.format(title=_title(request))
    blocks: list[Block] = [
        header(title),
        section(messages.SCALE_DRY_RUN_NOW.format(state=_describe(deployment))),
        section(change),
        *(section(note) for note in notes),
        context(messages.DRY_RUN_FOOTER),
    ]
    return Reply(text=title, blocks=tuple(blocks))
