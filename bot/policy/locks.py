"""What stands between a write command and an endpoint: its lock, and a rollout running on it.

A locked endpoint refuses deploys, traffic shifts, rollouts and scaling, unless the user
is an approver who passes ``--force``. While a rollout runs, traffic moves by its steps
only: a manual shift is refused, saying how to abort the rollout first. Both are checked
when a change is asked for and again when an approved change is applied.

    await require_unlocked(services, "product-recommender", user="U0ALICE", force=False)
    await require_no_rollout(services, "product-recommender")
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

from bot import messages
from bot.errors import AccessDeniedError
from deploy.errors import FlightdeckError
from rollouts import RolloutConflictError
from rollouts import messages as rollout_messages

if TYPE_CHECKING:
    from bot.policy.access import AccessPolicy
    from rollouts import LockStore, RolloutStore

__all__ = ["Guards", "dry_run_notes", "require_no_rollout", "require_unlocked"]


class Guards(Protocol):
    """What the checks read (a feature's dependencies carry these)."""

    @property
    def locks(self) -> LockStore: ...
    @property
    def access(self) -> AccessPolicy: ...
    @property
    def rollout_store(self) -> RolloutStore: ...


async def require_unlocked(services: Guards, endpoint: str, *, user: str, force: bool) -> None:
    """``EndpointLockedError`` when locked (``force`` lets approvers past it)."""
    lock = await services.locks.get(endpoint)
    if lock is None:
        return
    if not force:
        raise lock.error()
    if not await services.access.allows(user, "approve"):
        raise AccessDeniedError(messages.FORCE_NOT_APPROVER.format(user=user))


async def require_no_rollout(services: Guards, endpoint: str) -> None:
    """``RolloutConflictError`` when a rollout is active on ``endpoint``."""
    active = await services.rollout_store.active_for(endpoint)
    if active is None:
        return
    raise RolloutConflictError(
        rollout_messages.SHIFT_DURING_ROLLOUT.format(
            canary=active.canary,
            endpoint=endpoint,
            step=active.step + 1,
            steps=len(active.spec.steps),
            weight=active.weight,
        )
    )


async def dry_run_notes(
    services: Guards,
    endpoint: str,
    *,
    user: str,
    force: bool,
    shifts_traffic: bool,
) -> list[str]:
    """What would refuse the change now (access, a lock, a rollout), as lines for a dry run;
    an empty list when nothing would."""
    checks: list[Awaitable[None]] = [
        services.access.require(user, "deploy"),
        require_unlocked(services, endpoint, user=user, force=force),
    ]
    if shifts_traffic:
        checks.append(require_no_rollout(services, endpoint))
    notes: list[str] = []
    for check in checks:
        try:
            await check
        except FlightdeckError as exc:
            notes.append(messages.DRY_RUN_REFUSED.format(reason=exc.message))
    return notes
