"""``/traffic``: show an endpoint's split, propose a new one, or roll back the last shift.

    /traffic <endpoint>                                   status at a glance (read-only)
    /traffic <endpoint> blue=90 green=10 [--mirror green=10]   a shift, for approval
    /traffic <endpoint> rollback                          back to the split before the last shift
    /traffic <endpoint> canary <deployment> [...]         a progressive rollout (commands.canary)
    /traffic <endpoint> lock --reason TEXT | unlock       a freeze on the endpoint's changes

Shifts, rollbacks and canaries take ``--dry-run`` (show what would change, change
nothing) and ``--force`` (an approver, past a lock).

A shift is planned here (validated against the endpoint's deployments) and applied
by ``apply_plan`` once approved; the bot holds the approval and the history of the
shifts it applied, which ``plan_rollback`` reads through ``TrafficHistory``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from commands import messages
from commands.args import ParsedArgs, is_help, parse_args
from commands.canary import CANARY_FLAGS, CANARY_OPTIONS, CanaryTraffic, parse_canary
from commands.errors import UsageError
from deploy.backend import Backend
from deploy.errors import ValidationError
from deploy.rules import parse_weights, redistribute, validate_name, validate_traffic
from deploy.types import Deployment, Endpoint
from rollouts import Lock, Rollout, RolloutSettings

__all__ = [
    "HELP",
    "CanaryTraffic",
    "LockEndpoint",
    "RollbackTraffic",
    "ShiftTraffic",
    "ShowTraffic",
    "TrafficChange",
    "TrafficHelp",
    "TrafficHistory",
    "TrafficPlan",
    "TrafficStatus",
    "UnlockEndpoint",
    "apply_plan",
    "load_status",
    "parse",
    "plan_rollback",
    "plan_shift",
    "redistribute",
    "replan",
]

HELP = messages.TRAFFIC_HELP


@dataclass(frozen=True, kw_only=True)
class TrafficHelp:
    """``/traffic help``."""

    writes: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class ShowTraffic:
    """``/traffic <endpoint>``."""

    writes: ClassVar[bool] = False
    endpoint: str


@dataclass(frozen=True, kw_only=True)
class ShiftTraffic:
    """``/traffic <endpoint> blue=90 green=10 [--mirror green=10]``; ``None`` keeps that part."""

    writes: ClassVar[bool] = True
    endpoint: str
    traffic: Mapping[str, int] | None
    mirror: Mapping[str, int] | None
    dry_run: bool = False
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class RollbackTraffic:
    """``/traffic <endpoint> rollback``."""

    writes: ClassVar[bool] = True
    endpoint: str
    dry_run: bool = False
    force: bool = False


@dataclass(frozen=True, kw_only=True)
class LockEndpoint:
    """``/traffic <endpoint> lock --reason TEXT``."""

    writes: ClassVar[bool] = True
    endpoint: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class UnlockEndpoint:
    """``/traffic <endpoint> unlock``."""

    writes: ClassVar[bool] = True
    endpoint: str


TrafficRequest = (
    TrafficHelp
    | ShowTraffic
    | ShiftTraffic
    | RollbackTraffic
    | CanaryTraffic
    | LockEndpoint
    | UnlockEndpoint
)

_FLAGS = {"--dry-run", "--force", *CANARY_FLAGS}
_OPTIONS = {"--mirror", "--reason", *CANARY_OPTIONS}


def parse(
    text: str, *, rollouts: RolloutSettings | None = None, max_load_rate: float | None = None
) -> TrafficRequest:
    """The typed request for ``text``; ``UsageError`` naming what is wrong.

    ``rollouts`` gives a canary's defaults and bounds; ``max_load_rate`` caps its
    ``--with-load`` (both from the configuration).
    """
    if is_help(text):
        return TrafficHelp()
    args = parse_args(text, help_text=HELP, options=_OPTIONS, flags=_FLAGS)
    if not args.positionals:
        raise args.usage(messages.TRAFFIC_NO_ENDPOINT)
    endpoint, *rest = args.positionals
    _check_name(args.help_text, "endpoint", endpoint)
    verb = rest[0] if rest else None
    if verb == "canary":
        settings = rollouts or RolloutSettings()
        cap = min(settings.max_load_rate, max_load_rate or settings.max_load_rate)
        return parse_canary(
            args, endpoint=endpoint, rest=rest[1:], settings=settings, max_load_rate=cap
        )
    for name in [*args.options, *args.flags]:
        if name in CANARY_OPTIONS | CANARY_FLAGS:
            raise args.usage(messages.CANARY_ONLY.format(option=name))
    if verb in ("lock", "unlock"):
        _only(args, allowed={"--reason"} if verb == "lock" else set(), verb=verb)
        if len(rest) > 1:
            raise args.usage(messages.UNEXPECTED.format(words=" ".join(rest[1:])))
        if verb == "unlock":
            return UnlockEndpoint(endpoint=endpoint)
        reason = args.options.get("--reason", "").strip()
        if not reason:
            raise args.usage(messages.LOCK_NEEDS_REASON)
        return LockEndpoint(endpoint=endpoint, reason=reason[:500])
    if "--reason" in args.options:
        raise args.usage(messages.REASON_LOCK_ONLY)
    dry_run, force = "--dry-run" in args.flags, "--force" in args.flags
    if rest == ["rollback"]:
        if "--mirror" in args.options:
            raise args.usage(messages.TRAFFIC_ROLLBACK_NO_MIRROR)
        return RollbackTraffic(endpoint=endpoint, dry_run=dry_run, force=force)
    if not rest and "--mirror" not in args.options:
        if dry_run or force:
            raise args.usage(messages.TRAFFIC_FLAGS_NEED_CHANGE)
        return ShowTraffic(endpoint=endpoint)
    try:
        traffic = parse_weights(" ".join(rest)) if rest else None
        mirror = (
            parse_weights(args.options["--mirror"], what="mirror")
            if "--mirror" in args.options
            else None
        )
    except ValidationError as exc:
        raise args.usage(exc.message) from None
    return ShiftTraffic(
        endpoint=endpoint, traffic=traffic, mirror=mirror, dry_run=dry_run, force=force
    )


def _only(args: ParsedArgs, *, allowed: set[str], verb: str) -> None:
    """``UsageError`` when an option or flag not ``allowed`` with ``verb`` is given."""
    for name in [*args.options, *args.flags]:
        if name not in allowed:
            raise args.usage(messages.OPTION_NOT_WITH.format(option=name, verb=verb))


def _check_name(help_text: str, kind: str, name: str) -> None:
    try:
        validate_name(kind, name)
    except ValidationError as exc:
        raise UsageError(exc.message, help_text=help_text) from None


# ---------------------------------------------------------------- status


@dataclass(frozen=True, kw_only=True)
class TrafficStatus:
    """An endpoint and its deployments, for the at-a-glance view."""

    endpoint: Endpoint
    deployments: tuple[Deployment, ...]
    #: Who locked the endpoint, when and why (the bot fills it in).
    lock: Lock | None = None
    #: The rollout running on it (the bot fills it in).
    rollout: Rollout | None = None


async def load_status(backend: Backend, endpoint: str) -> TrafficStatus:
    """The endpoint and its deployments (``NotFoundError`` when it does not exist)."""
    found = await backend.get_endpoint(endpoint)
    deployments = await backend.list_deployments(endpoint)
    return TrafficStatus(
        endpoint=found, deployments=tuple(sorted(deployments, key=lambda d: d.name))
    )


# ---------------------------------------------------------------- plans


@dataclass(frozen=True, kw_only=True)
class TrafficChange:
    """A shift the bot applied: the split before and after it."""

    id: int
    endpoint: str
    at: datetime
    before: Mapping[str, int]
    before_mirror: Mapping[str, int]
    after: Mapping[str, int]
    after_mirror: Mapping[str, int]


class TrafficHistory(Protocol):
    """The shifts the bot applied (kept in its database)."""

    async def last_shift(self, endpoint: str) -> TrafficChange | None:
        """The latest shift on ``endpoint`` not rolled back yet."""
        ...


@dataclass(frozen=True, kw_only=True)
class TrafficPlan:
    """A proposed split: the full live traffic and mirror, beside the current ones."""

    endpoint: str
    current: Mapping[str, int]
    current_mirror: Mapping[str, int]
    traffic: Mapping[str, int]
    mirror: Mapping[str, int]
    rollback_of: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (stored with the approval)."""
        return {
            "endpoint": self.endpoint,
            "current": dict(self.current),
            "current_mirror": dict(self.current_mirror),
            "traffic": dict(self.traffic),
            "mirror": dict(self.mirror),
            "rollback_of": self.rollback_of,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrafficPlan:
        """Rebuild from ``to_json``'s output."""
        rollback_of = data.get("rollback_of")
        return cls(
            endpoint=str(data["endpoint"]),
            current=_weights(data["current"]),
            current_mirror=_weights(data["current_mirror"]),
            traffic=_weights(data["traffic"]),
            mirror=_weights(data["mirror"]),
            rollback_of=int(rollback_of) if rollback_of is not None else None,
        )


def _weights(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(value).items()}


def _nonzero(weights: Mapping[str, int]) -> dict[str, int]:
    return {name: pct for name, pct in weights.items() if pct > 0}


async def plan_shift(backend: Backend, request: ShiftTraffic) -> TrafficPlan:
    """Check a shift against the endpoint; a ``ValidationError`` says what is wrong."""
    endpoint = await backend.get_endpoint(request.endpoint)
    return await _plan(
        backend,
        endpoint,
        traffic=request.traffic if request.traffic is not None else endpoint.traffic,
        mirror=request.mirror if request.mirror is not None else endpoint.mirror_traffic,
    )


async def plan_rollback(backend: Backend, history: TrafficHistory, endpoint: str) -> TrafficPlan:
    """The split before the last shift Flightdeck applied on ``endpoint``."""
    found = await backend.get_endpoint(endpoint)
    change = await history.last_shift(endpoint)
    if change is None:
        raise ValidationError(messages.TRAFFIC_NOTHING_TO_ROLL_BACK.format(endpoint=endpoint))
    return await _plan(
        backend, found, traffic=change.before, mirror=change.before_mirror, rollback_of=change.id
    )


async def replan(backend: Backend, plan: TrafficPlan) -> TrafficPlan:
    """The same proposed split (and mirror), planned against the endpoint's split today."""
    found = await backend.get_endpoint(plan.endpoint)
    return await _plan(backend, found, traffic=plan.traffic, mirror=plan.mirror)


async def plan_redistribution(
    backend: Backend, endpoint: str, deployment: str, percent: int
) -> TrafficPlan:
    """``deployment`` at ``percent``, the others sharing the rest as they do now."""
    found = await backend.get_endpoint(endpoint)
    await backend.get_deployment(endpoint, deployment)
    traffic = redistribute(found.traffic, deployment, percent)
    mirror = {k: v for k, v in found.mirror_traffic.items() if k != deployment}
    return await _plan(backend, found, traffic=traffic, mirror=mirror)


async def _plan(
    backend: Backend,
    endpoint: Endpoint,
    *,
    traffic: Mapping[str, int],
    mirror: Mapping[str, int],
    rollback_of: int | None = None,
) -> TrafficPlan:
    deployments = [d.name for d in await backend.list_deployments(endpoint.name)]
    validate_traffic(deployments, traffic, mirror)
    plan = TrafficPlan(
        endpoint=endpoint.name,
        current=_nonzero(endpoint.traffic),
        current_mirror=_nonzero(endpoint.mirror_traffic),
        traffic=_nonzero(traffic),
        mirror=_nonzero(mirror),
        rollback_of=rollback_of,
    )
    if plan.traffic == plan.current and plan.mirror == plan.current_mirror:
        raise ValidationError(messages.TRAFFIC_UNCHANGED.format(endpoint=endpoint.name))
    return plan


async def apply_plan(backend: Backend, plan: TrafficPlan) -> Endpoint:
    """Set the planned split (and mirror), checked again against today's deployments."""
    deployments = [d.name for d in await backend.list_deployments(plan.endpoint)]
    validate_traffic(deployments, plan.traffic, plan.mirror)
    endpoint = await backend.get_endpoint(plan.endpoint)
    traffic = {name: plan.traffic.get(name, 0) for name in deployments}
    mirror = {name: plan.mirror.get(name, 0) for name in deployments}
    if _nonzero(endpoint.mirror_traffic) == plan.mirror:
        return await backend.set_traffic(plan.endpoint, traffic)
    if _nonzero(endpoint.traffic) == plan.traffic:
        return await backend.set_traffic(plan.endpoint, mirror_traffic=mirror)
    return await backend.set_traffic(plan.endpoint, traffic, mirror_traffic=mirror)
