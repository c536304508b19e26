"""A canary rollout as a state machine: pure transitions from one ``Rollout`` to the next.

::

    running ──(interval passes, not last)──> running at the next step
       │  └─(passes before the last step, --confirm-promotion)──> awaiting_promotion
       │  └─(passes before the last step)──────────────────────> finishing (promoted)
       │  └─(fails, threshold reached)─────────────────────────> finishing (rolled_back)
       ├──pause──> paused ──resume──> running (a fresh interval at the same step)
       ├──abort──> finishing (aborted)          (from paused and awaiting_promotion too)
       └──promote──> finishing (promoted)       (an approved "Promote now", or the
                                                 approval awaited at the last step)
    finishing ──(its traffic is live)──> done

Within ``running`` a step is first *applied* (its weights set on the endpoint; ``applied``
becomes True), then *observed*: an interval starts with a ``Reading`` of the metrics and
is judged when ``interval`` has passed. A failed or inconclusive interval holds the step
and starts the next interval at once; so does a passed one while the endpoint is locked.

Every function returns a new ``Rollout`` and never touches the outside world: the engine
(``rollouts.engine``) reads metrics, sets traffic and stores the result with a
compare-and-set on ``version``, so that a step is never applied twice, also across a
restart or with several engines on one database.

    r = new_rollout(id="ab12", endpoint="pr", spec=spec, baseline={"blue": 100}, ...)
    target_weights(r)        # {'blue': 90, 'green': 10}
    r = applied(r, now=t0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from deploy.metrics_window import Reading
from deploy.rules import redistribute
from rollouts import messages
from rollouts.checks import IntervalResult
from rollouts.errors import RolloutStateError
from rollouts.messages import mention
from rollouts.spec import RolloutSpec

__all__ = [
    "ACTIVE",
    "Event",
    "Outcome",
    "Rollout",
    "Status",
    "abort",
    "applied",
    "apply_failed",
    "await_promotion_request",
    "due",
    "judged",
    "new_rollout",
    "pause",
    "promote",
    "resume",
    "started_interval",
    "target_weights",
    "weights_at",
]

Status = Literal["running", "paused", "awaiting_promotion", "finishing", "done"]
Outcome = Literal["promoted", "rolled_back", "aborted"]

#: Statuses of a rollout that still holds its endpoint.
ACTIVE: tuple[Status, ...] = ("running", "paused", "awaiting_promotion", "finishing")

#: Failed attempts to set the traffic after which the rollout gives up (see ``apply_failed``).
MAX_APPLY_ERRORS = 3


@dataclass(frozen=True, kw_only=True)
class Event:
    """A line of the rollout's history: a step applied, a pause, a rollback..."""

    at: datetime
    text: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {"at": self.at.isoformat(), "text": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        """Rebuild from ``to_json``'s output."""
        return cls(at=datetime.fromisoformat(data["at"]), text=str(data["text"]))


@dataclass(frozen=True, kw_only=True)
class Rollout:
    """One rollout as stored; ``version`` grows by one with every stored transition."""

    id: str
    endpoint: str
    spec: RolloutSpec
    #: The live split when the rollout started (the canary's share included).
    baseline: Mapping[str, int]
    requested_by: str
    approved_by: str | None
    channel: str | None
    created_at: datetime
    status: Status = "running"
    step: int = 0
    applied: bool = False
    outcome: Outcome | None = None
    reason: str | None = None
    failures: int = 0
    apply_errors: int = 0
    interval_start: datetime | None = None
    #: Readings of the canary's and the baseline's metrics when the interval started.
    readings: Mapping[str, Reading] = field(default_factory=dict)
    results: tuple[IntervalResult, ...] = ()
    events: tuple[Event, ...] = ()
    #: The approval request awaited before promoting (``--confirm-promotion``).
    promotion_approval: str | None = None
    version: int = 0

    @property
    def canary(self) -> str:
        """The deployment rolled out."""
        return self.spec.canary

    @property
    def active(self) -> bool:
        """True until the rollout is done."""
        return self.status in ACTIVE

    @property
    def weight(self) -> int:
        """The canary's weight at the current step."""
        return self.spec.steps[self.step]

    @property
    def primary(self) -> str | None:
        """The baseline deployment with the most traffic (the one the canary is compared to)."""
        others = sorted((-w, n) for n, w in self.baseline.items() if n != self.canary and w > 0)
        return others[0][1] if others else None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (the ``state`` column)."""
        return {
            "spec": self.spec.to_json(),
            "baseline": dict(self.baseline),
            "requested_by": self.requested_by,
            "approved_by": self.approved_by,
            "channel": self.channel,
            "created_at": self.created_at.isoformat(),
            "status": self.status,
            "step": self.step,
            "applied": self.applied,
            "outcome": self.outcome,
            "reason": self.reason,
            "failures": self.failures,
            "apply_errors": self.apply_errors,
            "interval_start": self.interval_start.isoformat() if self.interval_start else None,
            "readings": {name: reading.to_json() for name, reading in self.readings.items()},
            "results": [result.to_json() for result in self.results],
            "events": [event.to_json() for event in self.events],
            "promotion_approval": self.promotion_approval,
        }

    @classmethod
    def from_json(cls, *, id: str, endpoint: str, version: int, data: Mapping[str, Any]) -> Rollout:
        """Rebuild from ``to_json``'s output and the row's columns."""
        start = data.get("interval_start")
        return cls(
            id=id,
            endpoint=endpoint,
            version=version,
            spec=RolloutSpec.from_json(data["spec"]),
            baseline={str(k): int(v) for k, v in dict(data["baseline"]).items()},
            requested_by=str(data["requested_by"]),
            approved_by=data.get("approved_by"),
            channel=data.get("channel"),
            created_at=datetime.fromisoformat(data["created_at"]),
            status=data["status"],
            step=int(data["step"]),
            applied=bool(data["applied"]),
            outcome=data.get("outcome"),
            reason=data.get("reason"),
            failures=int(data.get("failures", 0)),
            apply_errors=int(data.get("apply_errors", 0)),
            interval_start=datetime.fromisoformat(start) if start else None,
            readings={
                str(name): Reading.from_json(reading)
                for name, reading in dict(data.get("readings") or {}).items()
            },
            results=tuple(IntervalResult.from_json(r) for r in data.get("results") or ()),
            events=tuple(Event.from_json(e) for e in data.get("events") or ()),
            promotion_approval=data.get("promotion_approval"),
        )


def _event(rollout: Rollout, now: datetime, text: str) -> tuple[Event, ...]:
    return (*rollout.events, Event(at=now, text=text))


def new_rollout(
    *,
    id: str,
    endpoint: str,
    spec: RolloutSpec,
    baseline: Mapping[str, int],
    requested_by: str,
    approved_by: str | None,
    channel: str | None,
    now: datetime,
) -> Rollout:
    """A rollout about to apply its first step."""
    started = messages.EVENT_STARTED.format(canary=spec.canary, steps=spec.steps_text())
    return Rollout(
        id=id,
        endpoint=endpoint,
        spec=spec,
        baseline={name: weight for name, weight in baseline.items() if weight > 0},
        requested_by=requested_by,
        approved_by=approved_by,
        channel=channel,
        created_at=now,
        events=(Event(at=now, text=started),),
    )


def weights_at(rollout: Rollout, step: int) -> dict[str, int]:
    """The split at ``step``: the canary at its weight, the baseline sharing the rest."""
    return redistribute(rollout.baseline, rollout.canary, rollout.spec.steps[step])


def target_weights(rollout: Rollout) -> dict[str, int]:
    """The live split the rollout wants now (deployments at 0% left out)."""
    if rollout.outcome in ("rolled_back", "aborted"):
        return redistribute(rollout.baseline, rollout.canary, 0)
    return weights_at(rollout, rollout.step)


def applied(rollout: Rollout, *, now: datetime) -> Rollout:
    """The target weights are live: a finishing rollout is done; a running one observes next."""
    if rollout.status == "finishing":
        text = messages.EVENT_FINISHED[rollout.outcome or "aborted"].format(
            canary=rollout.canary, weight=target_weights(rollout).get(rollout.canary, 0)
        )
        return replace(
            rollout, status="done", applied=True, apply_errors=0, events=_event(rollout, now, text)
        )
    text = messages.EVENT_STEP.format(
        step=rollout.step + 1,
        steps=len(rollout.spec.steps),
        canary=rollout.canary,
        weight=rollout.weight,
    )
    return replace(
        rollout,
        applied=True,
        apply_errors=0,
        interval_start=None,
        readings={},
        events=_event(rollout, now, text),
    )


def apply_failed(rollout: Rollout, *, now: datetime, error: str) -> Rollout:
    """Setting the traffic failed; after ``MAX_APPLY_ERRORS`` in a row the rollout gives up:
    a running one rolls back, a finishing one is left to a human (done, saying so)."""
    errors = rollout.apply_errors + 1
    text = messages.EVENT_APPLY_FAILED.format(error=error)
    events = rollout.events
    if not events or events[-1].text != text:
        events = (*events, Event(at=now, text=text))
    failed = replace(rollout, apply_errors=errors, events=events)
    if errors < MAX_APPLY_ERRORS:
        return failed
    if rollout.status == "finishing":
        reason = messages.REASON_GAVE_UP.format(error=error)
        return replace(failed, status="done", reason=reason)
    return replace(
        failed,
        status="finishing",
        outcome="rolled_back",
        applied=False,
        apply_errors=0,
        reason=messages.REASON_APPLY_FAILED.format(error=error),
    )


def started_interval(
    rollout: Rollout, *, now: datetime, readings: Mapping[str, Reading]
) -> Rollout:
    """An interval of the current step starts now, from these readings."""
    return replace(rollout, interval_start=now, readings=dict(readings))


def due(rollout: Rollout, now: datetime) -> bool:
    """True when the current interval has passed and must be judged."""
    return (
        rollout.status == "running"
        and rollout.applied
        and rollout.interval_start is not None
        and now >= rollout.interval_start + rollout.spec.interval
    )


def judged(
    rollout: Rollout,
    result: IntervalResult,
    *,
    now: datetime,
    readings: Mapping[str, Reading],
    locked: bool = False,
) -> Rollout:
    """The next state after an interval's verdict.

    ``readings`` start the next interval when the step holds; ``locked`` holds a passed
    step (the endpoint is locked: no step forward, no promotion; a rollback still happens).
    """
    if not due(rollout, now):
        raise RolloutStateError(messages.NOT_DUE)
    results = (*rollout.results, result)
    holding = replace(rollout, results=results, interval_start=now, readings=dict(readings))
    if result.verdict == "inconclusive":
        return holding
    if result.verdict == "fail":
        failures = rollout.failures + 1
        if failures < rollout.spec.threshold:
            return replace(holding, failures=failures)
        numbers = "; ".join(check.describe() for check in result.failed_checks())
        reason = messages.REASON_FAILED.format(
            failures=failures, threshold=rollout.spec.threshold, numbers=numbers
        )
        return replace(
            holding,
            failures=failures,
            status="finishing",
            outcome="rolled_back",
            applied=False,
            interval_start=None,
            readings={},
            reason=reason,
        )
    if locked:
        return holding
    following = rollout.step + 1
    if following == rollout.spec.last and rollout.spec.confirm_promotion:
        text = messages.EVENT_AWAITING.format(canary=rollout.canary)
        return replace(
            holding,
            status="awaiting_promotion",
            interval_start=None,
            readings={},
            events=_event(rollout, now, text),
        )
    moved = replace(holding, step=following, applied=False, interval_start=None, readings={})
    if following == rollout.spec.last:
        return replace(moved, status="finishing", outcome="promoted")
    return moved


def await_promotion_request(rollout: Rollout, approval_id: str) -> Rollout:
    """Remember the approval request that decides the promotion."""
    return replace(rollout, promotion_approval=approval_id)


def _require(rollout: Rollout, allowed: tuple[Status, ...], action: str) -> None:
    if rollout.status not in allowed:
        raise RolloutStateError(
            messages.CANNOT.format(
                action=action,
                endpoint=rollout.endpoint,
                status=messages.STATUS_WORDS[rollout.status],
            )
        )


def pause(rollout: Rollout, *, user: str, now: datetime) -> Rollout:
    """Hold at the current step until resumed (the interval under way is dropped)."""
    _require(rollout, ("running",), "pause")
    return replace(
        rollout,
        status="paused",
        interval_start=None,
        readings={},
        events=_event(rollout, now, messages.EVENT_PAUSED.format(user=mention(user))),
    )


def resume(rollout: Rollout, *, user: str, now: datetime) -> Rollout:
    """Run again from the current step, with a fresh interval."""
    _require(rollout, ("paused",), "resume")
    return replace(
        rollout,
        status="running",
        interval_start=None,
        readings={},
        events=_event(rollout, now, messages.EVENT_RESUMED.format(user=mention(user))),
    )


def abort(rollout: Rollout, *, user: str, now: datetime) -> Rollout:
    """Roll back: all traffic to the baseline."""
    _require(rollout, ("running", "paused", "awaiting_promotion"), "abort")
    return replace(
        rollout,
        status="finishing",
        outcome="aborted",
        applied=False,
        interval_start=None,
        readings={},
        reason=messages.REASON_ABORTED.format(user=mention(user)),
        events=_event(rollout, now, messages.EVENT_ABORTED.format(user=mention(user))),
    )


def promote(rollout: Rollout, *, user: str, now: datetime) -> Rollout:
    """Go to the last step (100%) now: an approved "Promote now" or the awaited approval."""
    _require(rollout, ("running", "paused", "awaiting_promotion"), "promote")
    return replace(
        rollout,
        status="finishing",
        outcome="promoted",
        step=rollout.spec.last,
        applied=False,
        interval_start=None,
        readings={},
        reason=messages.REASON_PROMOTED.format(user=mention(user)),
        events=_event(rollout, now, messages.EVENT_PROMOTED.format(user=mention(user))),
    )
