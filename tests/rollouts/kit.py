"""Test kit for rollouts: a spec, a recording notifier, an engine on a fake clock.

backend = await scripted_backend(clock, traffic={"blue": 100, "green": 0})
engine, notifier = make_engine(backend, tmp_path / "bot.db", clock)
rollout = await engine.begin(endpoint=EP, spec=spec(), requested_by=ALICE, ...)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from base.migrations import upgrade
from rollouts import LockStore, MessageRef, Rollout, RolloutEngine, RolloutSettings, RolloutSpec
from rollouts.store import RolloutStore
from tests.alerts.kit import Clock

ALICE = "U0ALICE"
BOB = "U0BOB"


def spec(**overrides: Any) -> RolloutSpec:
    """green in steps of 10, 50, 100; one-minute intervals; default limits."""
    base = RolloutSpec(
        canary="green",
        steps=(10, 50, 100),
        interval=timedelta(minutes=1),
        max_p99_ms=500.0,
        max_error_rate=1.0,
        min_requests=100,
        threshold=2,
    )
    return replace(base, **overrides)


@dataclass
class RecordingNotifier:
    """Records what the engine showed; posts get ts ``1.000001``, ``1.000002``..."""

    shown: list[Rollout] = field(default_factory=list)
    done: list[Rollout] = field(default_factory=list)
    promotions: list[Rollout] = field(default_factory=list)
    approval_id: str | None = "appr0001"
    _ts: int = 0

    async def show(self, rollout: Rollout, where: MessageRef) -> MessageRef | None:
        self.shown.append(rollout)
        if where.ts is not None:
            return None
        self._ts += 1
        return MessageRef(rollout.channel or "C0DEPLOYS", f"1.{self._ts:06d}")

    async def finished(self, rollout: Rollout, where: MessageRef) -> None:
        self.done.append(rollout)

    async def request_promotion(self, rollout: Rollout, where: MessageRef) -> str | None:
        self.promotions.append(rollout)
        return self.approval_id


def make_engine(
    backend: Any, db: Path, clock: Clock, *, renew_every: float | None = None, **settings: Any
) -> tuple[RolloutEngine, RecordingNotifier]:
    """An engine on a SQLite file (a new engine each call: a restart); not started."""
    engine = create_engine(f"sqlite:///{db}")
    store = RolloutStore(engine=engine, clock=clock)
    upgrade(store.engine)
    notifier = RecordingNotifier()
    rollouts = RolloutEngine(
        backend=backend,
        store=store,
        locks=LockStore(engine=engine, clock=clock),
        notifier=notifier,
        settings=RolloutSettings.model_validate({"min_interval": "1s", **settings}),
        clock=clock,
        renew_every=renew_every,
    )
    return rollouts, notifier
