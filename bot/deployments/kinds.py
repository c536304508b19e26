"""``deploy_live``: a ``/deploy`` onto a deployment that takes live (or mirrored) traffic, held
for an approver's click like a traffic shift (four eyes, expiry, the stale check).

The request records the split and the deployment's model and instances it was made
against; approving it after either changed is refused (``StaleRequestError``) and can be
asked again against today's state. ``approvals.deploy_live`` (per endpoint) decides whether
such a deploy is asked for (``require``), refused (``refuse``) or done at once (``allow``).

    payload = await live_payload(backend, plan, force=False)
    await request_approval(desk, kind=DeployLiveKind.kind, endpoint=..., payload=payload, ...)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot import messages
from bot.approvals.kinds import ApplyDeps, applying_guard, require_split_unchanged
from bot.approvals.store import Approval
from bot.approvals.view import ApprovalContent
from bot.errors import StaleRequestError
from bot.policy.locks import require_unlocked
from commands import deploy
from commands.blocks import format_split
from commands.deploy_view import live_change_blocks
from deploy.backend import Backend
from deploy.types import Deployment

__all__ = ["DeployLiveKind", "live_payload", "share_text"]


def share_text(traffic: int, mirror: int) -> str:
    """``100% of the live traffic``, ``a 10% mirror of the traffic``, or both."""
    if traffic and mirror:
        return messages.DEPLOY_LIVE_BOTH.format(traffic=traffic, mirror=mirror)
    if mirror:
        return messages.DEPLOY_LIVE_MIRRORED.format(mirror=mirror)
    return messages.DEPLOY_LIVE_SHARE.format(traffic=traffic)


def _instances(deployment: Deployment) -> str:
    return f"{deployment.instance_count} x {deployment.instance_type}"


def _nonzero(weights: Mapping[str, int]) -> dict[str, int]:
    return {name: pct for name, pct in weights.items() if pct > 0}


async def live_payload(backend: Backend, plan: deploy.DeployPlan, *, force: bool) -> dict[str, Any]:
    """What a ``deploy_live`` request stores: the plan, and the state it is made against."""
    spec = plan.spec
    endpoint = await backend.get_endpoint(spec.endpoint_name)
    current = await backend.get_deployment(spec.endpoint_name, spec.name)
    return {
        "plan": plan.to_json(),
        "current": _nonzero(endpoint.traffic),
        "current_mirror": _nonzero(endpoint.mirror_traffic),
        "model_before": current.model,
        "instances_before": _instances(current),
        "force": force,
    }


def _weights(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(value or {}).items()}


class DeployLiveKind:
    """Deploy onto a live deployment (the payload: ``live_payload``)."""

    kind = "deploy_live"

    def content(self, approval: Approval) -> ApprovalContent:
        payload = approval.payload
        plan = deploy.DeployPlan.from_json(payload["plan"])
        spec = plan.spec
        traffic, mirror = _weights(payload["current"]), _weights(payload["current_mirror"])
        share = share_text(traffic.get(spec.name, 0), mirror.get(spec.name, 0))
        model = spec.model.display() if spec.model else "-"
        return ApprovalContent(
            title=messages.DEPLOY_LIVE_TITLE.format(
                deployment=spec.name, endpoint=spec.endpoint_name
            ),
            intro=messages.DEPLOY_LIVE_ASK.format(
                user=approval.requester,
                deployment=spec.name,
                endpoint=spec.endpoint_name,
                share=share,
            ),
            body=tuple(
                live_change_blocks(
                    plan,
                    model_before=payload.get("model_before"),
                    instances_before=str(payload.get("instances_before") or "-"),
                    traffic=traffic,
                    mirror=mirror,
                )
            ),
            confirm_title=messages.DEPLOY_LIVE_CONFIRM_TITLE,
            confirm_text=messages.DEPLOY_LIVE_CONFIRM_TEXT.format(
                deployment=spec.name, model=model, share=share, endpoint=spec.endpoint_name
            ),
        )

    def audit_text(self, approval: Approval) -> str:
        plan = deploy.DeployPlan.from_json(approval.payload["plan"])
        return messages.DEPLOY_LIVE_AUDIT.format(
            deployment=plan.spec.name,
            before=approval.payload.get("model_before") or "-",
            after=plan.spec.model.display() if plan.spec.model else "-",
        )

    async def apply(self, deps: ApplyDeps, approval: Approval) -> str:
        payload = approval.payload
        plan = deploy.DeployPlan.from_json(payload["plan"])
        spec = plan.spec
        await applying_guard(deps.locks, approval)
        await require_split_unchanged(
            deps.backend,
            spec.endpoint_name,
            current=_weights(payload["current"]),
            current_mirror=_weights(payload["current_mirror"]),
        )
        live = await deps.backend.get_deployment(spec.endpoint_name, spec.name)
        asked = (payload.get("model_before"), payload.get("instances_before"))
        if (live.model, _instances(live)) != asked:
            raise StaleRequestError(
                messages.DEPLOY_LIVE_STALE.format(
                    deployment=spec.name,
                    asked=f"{asked[0] or '-'}, {asked[1]}",
                    live=f"{live.model or '-'}, {_instances(live)}",
                )
            )

        async def progress(line: str) -> None:
            """The approval message says "Applying…" until the deployment serves or fails."""

        deployment, endpoint = await deploy.execute(deps.backend, plan, progress=progress)
        return messages.DEPLOY_LIVE_DONE.format(
            deployment=deployment.name,
            model=deployment.model or "-",
            count=deployment.instance_count,
            split=format_split(endpoint.traffic, endpoint.mirror_traffic),
        )

    async def renew(self, deps: ApplyDeps, approval: Approval, *, user: str) -> Mapping[str, Any]:
        plan = deploy.DeployPlan.from_json(approval.payload["plan"])
        force = bool(approval.payload.get("force"))
        await require_unlocked(deps, plan.spec.endpoint_name, user=user, force=force)
        return await live_payload(deps.backend, plan, force=force)
