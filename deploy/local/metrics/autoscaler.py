"""The autoscaler loop: samples load, calls ``autoscale.decide`` and applies its decisions.

Every ``sample_interval`` it samples, for each deployment with an ``AutoscalePolicy``,
the utilization (requests in flight at the router over
``max_concurrent_requests_per_instance x instances``, as a percentage; or, when the
policy's metric is ``cpu``, the mean CPU of its instances' process trees), and
records CPU, memory and capacity into the metrics recorder. Every
``polling_interval`` of a deployment it decides on the mean of that interval's
samples and applies the decision through the platform's own ``scale`` (which takes
the endpoint's lock, so it is serialised with every other operation). Each decision
is logged, with its inputs, to the daemon log and the deployment's
storage-initializer log, and the last ones are kept for ``decisions``.

    autoscaler = Autoscaler(platform=platform, in_flight=router.in_flight, recorder=recorder)
    autoscaler.start()
    ...
    await autoscaler.stop()

The clock is injected: tests drive ``tick()`` themselves with a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from deploy.errors import FlightdeckError
from deploy.local.metrics.autoscale_policy import ScaleDecision, ScalerState, decide
from deploy.local.metrics.resources import ResourceSampler, ResourceUsage
from deploy.types import AutoscalePolicy, Deployment, ProgressCallback

__all__ = ["Autoscaler", "ResourceSink", "Scalable", "ScaleTarget", "describe"]

logger = logging.getLogger(__name__)

#: How many decisions are kept per deployment (for ``decisions``).
KEPT_DECISIONS = 50


@dataclass(frozen=True, kw_only=True)
class ScaleTarget:
    """One running deployment as the autoscaler sees it."""

    endpoint: str
    deployment: str
    policy: AutoscalePolicy | None
    instances: int
    max_concurrent_per_instance: int
    pids: tuple[int, ...] = ()


class Scalable(Protocol):
    """What the autoscaler needs of the platform (``deploy.local.platform.Platform``)."""

    def scale_targets(self) -> list[ScaleTarget]:
        """Every running deployment (with or without a policy)."""
        ...

    async def scale(
        self,
        endpoint: str,
        deployment: str,
        instance_count: int,
        *,
        progress: ProgressCallback | None = None,
    ) -> Deployment:
        """Change a deployment's instance count (serialised with other operations)."""
        ...

    def note(self, endpoint: str, deployment: str, line: str) -> None:
        """Append a line to the deployment's storage-initializer log."""
        ...


class ResourceSink(Protocol):
    """Where resource samples go (``deploy.local.metrics.recorder.MetricsRecorder``)."""

    def record_resources(
        self,
        endpoint: str,
        deployment: str,
        *,
        cpu: float | None,
        memory: float | None,
        capacity: int,
        now: float,
    ) -> None:
        """One sample of a deployment's CPU %, memory % and instance count."""
        ...


@dataclass(kw_only=True)
class _Tracked:
    policy: AutoscalePolicy
    since: float
    state: ScalerState = field(default_factory=ScalerState)
    samples: list[float] = field(default_factory=list)


class Autoscaler:
    """Target-utilization autoscaling of a platform's deployments (see module doc)."""

    def __init__(
        self,
        *,
        platform: Scalable,
        in_flight: Callable[[str, str], int],
        recorder: ResourceSink | None = None,
        resources: Callable[[Sequence[int]], ResourceUsage] | None = None,
        clock: Callable[[], float] = time.time,
        sample_interval: float = 0.25,
    ) -> None:
        """``in_flight(endpoint, deployment)``: requests in flight (the router's);
        ``resources(pids)``: CPU and memory of instance trees (default: psutil)."""
        self._platform = platform
        self._in_flight = in_flight
        self._recorder = recorder
        self._resources = resources or ResourceSampler()
        self._clock = clock
        self._sample_interval = sample_interval
        self._tracked: dict[tuple[str, str], _Tracked] = {}
        self._decisions: dict[tuple[str, str], deque[ScaleDecision]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def decisions(self, endpoint: str, deployment: str) -> list[ScaleDecision]:
        """The last decisions for a deployment, oldest first."""
        return list(self._decisions.get((endpoint, deployment), ()))

    # ------------------------------------------------------------ one step

    async def tick(self) -> list[ScaleDecision]:
        """Sample every deployment; decide (and apply) for those whose interval is over."""
        now = self._clock()
        due: list[tuple[ScaleTarget, _Tracked]] = []
        seen = set()
        for target in self._platform.scale_targets():
            key = (target.endpoint, target.deployment)
            seen.add(key)
            usage = self._resources(target.pids)
            if self._recorder is not None:
                self._recorder.record_resources(
                    target.endpoint,
                    target.deployment,
                    cpu=usage.cpu_percent,
                    memory=usage.memory_percent,
                    capacity=target.instances,
                    now=now,
                )
            policy = target.policy
            if policy is None:
                self._tracked.pop(key, None)
                continue
            tracked = self._tracked.get(key)
            if tracked is None or tracked.policy != policy:
                tracked = self._tracked[key] = _Tracked(policy=policy, since=now)
            tracked.samples.append(self._utilization(target, usage))
            if now - tracked.since >= policy.polling_interval:
                due.append((target, tracked))
        for key in [k for k in self._tracked if k not in seen]:
            del self._tracked[key]
        made = []
        for target, tracked in due:
            made.append(await self._decide(target, tracked, now))
        return made

    def _utilization(self, target: ScaleTarget, usage: ResourceUsage) -> float:
        assert target.policy is not None
        if target.policy.metric == "cpu":
            return usage.cpu_percent or 0.0
        capacity = target.max_concurrent_per_instance * max(target.instances, 1)
        return 100.0 * self._in_flight(target.endpoint, target.deployment) / capacity

    async def _decide(self, target: ScaleTarget, tracked: _Tracked, now: float) -> ScaleDecision:
        utilization = sum(tracked.samples) / len(tracked.samples)
        samples = len(tracked.samples)
        decision, tracked.state = decide(
            tracked.policy,
            tracked.state,
            current=target.instances,
            utilization=utilization,
            now=now,
        )
        tracked.samples.clear()
        tracked.since = now
        key = (target.endpoint, target.deployment)
        kept = self._decisions.setdefault(key, deque(maxlen=KEPT_DECISIONS))
        kept.append(decision)
        line = describe(decision, metric=tracked.policy.metric, samples=samples)
        logger.info("autoscale %s/%s: %s", target.endpoint, target.deployment, line)
        self._note(target, f"autoscale: {line}")
        if decision.changes:
            try:
                await self._platform.scale(target.endpoint, target.deployment, decision.desired)
            except FlightdeckError as exc:
                logger.warning(
                    "autoscale %s/%s: scaling failed: %s", target.endpoint, target.deployment, exc
                )
                self._note(target, f"autoscale: scaling to {decision.desired} failed: {exc}")
            # The interval starts again once the new instances run.
            tracked.since = self._clock()
        return decision

    def _note(self, target: ScaleTarget, line: str) -> None:
        with contextlib.suppress(FlightdeckError, OSError):
            self._platform.note(target.endpoint, target.deployment, line)

    # ------------------------------------------------------------ background loop

    def start(self) -> None:
        """Run ``tick`` every ``sample_interval`` in the background."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the loop (waits for a scale in progress)."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            await task

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:
                logger.exception("the autoscaler's tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._sample_interval)


def describe(decision: ScaleDecision, *, metric: str, samples: int) -> str:
    """A decision and its inputs, in one log line."""
    return (
        f"{metric} {decision.utilization:.1f}% (mean of {samples} samples) vs target "
        f"{decision.target}%: {decision.current} -> recommended {decision.recommended}, "
        f"desired {decision.desired} ({decision.reason})"
    )
