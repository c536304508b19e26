"""Progressive rollouts: a canary's weight moved step by step, each step judged by its live
P99 and error rate, rolled back on its own when the checks fail.

Imports deploy/ (the Backend, metrics) and alerts/ (durations); never the bot. The bot and
the CLI give the engine a ``RolloutNotifier`` (the progress message, in Slack or in the
terminal) and, for ``--with-load``, a ``LoadFeeder``.

    spec = RolloutSpec(canary="green", steps=(10, 50, 100), interval=timedelta(minutes=5), ...)
    engine = RolloutEngine(backend=backend, store=store, locks=locks, notifier=notifier,
                           settings=RolloutSettings())
    engine.start()
    rollout = await engine.begin(endpoint="product-recommender", spec=spec,
                                 requested_by="U0ALICE", approved_by="U0BOB", channel="C1")
"""

from rollouts.chart import render_rollout_chart, sparkline
from rollouts.checks import Check, IntervalResult, Verdict, judge
from rollouts.engine import RolloutEngine
from rollouts.errors import (
    EndpointLockedError,
    RolloutConfigError,
    RolloutConflictError,
    RolloutStateError,
)
from rollouts.locks import Lock, LockStore
from rollouts.machine import ACTIVE, Event, Outcome, Rollout, Status, target_weights
from rollouts.messages import mention
from rollouts.notifier import LoadFeeder, MessageRef, RolloutNotifier
from rollouts.plan import RolloutPlan, plan_rollout
from rollouts.settings import RolloutSettings
from rollouts.spec import (
    RolloutSpec,
    parse_count,
    parse_interval,
    parse_ms,
    parse_percent,
    parse_rate,
    parse_steps,
)
from rollouts.store import RolloutStore

__all__ = [
    "ACTIVE",
    "Check",
    "EndpointLockedError",
    "Event",
    "IntervalResult",
    "LoadFeeder",
    "Lock",
    "LockStore",
    "MessageRef",
    "Outcome",
    "Rollout",
    "RolloutConfigError",
    "RolloutConflictError",
    "RolloutEngine",
    "RolloutNotifier",
    "RolloutPlan",
    "RolloutSettings",
    "RolloutSpec",
    "RolloutStateError",
    "RolloutStore",
    "Status",
    "Verdict",
    "judge",
    "mention",
    "parse_count",
    "parse_interval",
    "parse_ms",
    "parse_percent",
    "parse_rate",
    "parse_steps",
    "plan_rollout",
    "render_rollout_chart",
    "sparkline",
    "target_weights",
]
