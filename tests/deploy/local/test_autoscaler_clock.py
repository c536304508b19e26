"""The autoscaler loop with an injected clock and synthetic in-flight samples (no sleeps).

The platform side is an in-memory ``Scalable`` (an interface we own); the decision
function, the metrics recorder and the loop's bookkeeping are the real ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from deploy.errors import ValidationError
from deploy.local.metrics.autoscaler import Autoscaler, ScaleTarget
from deploy.local.metrics.recorder import MetricsRecorder
from deploy.local.metrics.resources import ResourceUsage
from deploy.types import AutoscalePolicy, Deployment, ProgressCallback

pytestmark = pytest.mark.asyncio

POLICY = AutoscalePolicy(
    min_instances=1,
    max_instances=4,
    target_utilization_percentage=50,
    polling_interval=10,
    scale_down_delay=30,
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class InMemoryPlatform:
    """A platform with one deployment: scale changes its count; notes are kept."""

    def __init__(self, target: ScaleTarget) -> None:
        self.target = target
        self.notes: list[str] = []
        self.scaled: list[int] = []
        self.refuse = False

    def scale_targets(self) -> list[ScaleTarget]:
        return [self.target]

    async def scale(
        self,
        endpoint: str,
        deployment: str,
        instance_count: int,
        *,
        progress: ProgressCallback | None = None,
    ) -> Deployment:
        if self.refuse:
            raise ValidationError("quota exhausted")
        self.scaled.append(instance_count)
        self.target = replace(self.target, instances=instance_count)
        return Deployment(name=deployment, endpoint_name=endpoint, instance_count=instance_count)

    def note(self, endpoint: str, deployment: str, line: str) -> None:
        self.notes.append(line)


def _setup(
    policy: AutoscalePolicy | None = POLICY, cpu: float = 5.0
) -> tuple[InMemoryPlatform, list[int], Clock, MetricsRecorder, Autoscaler]:
    platform = InMemoryPlatform(
        ScaleTarget(
            endpoint="ep",
            deployment="blue",
            policy=policy,
            instances=1,
            max_concurrent_per_instance=2,
            pids=(1,),
        )
    )
    in_flight = [0]
    clock = Clock()
    recorder = MetricsRecorder()

    def resources(pids: Sequence[int]) -> ResourceUsage:
        return ResourceUsage(cpu_percent=cpu, memory_percent=1.5)

    autoscaler = Autoscaler(
        platform=platform,
        in_flight=lambda _e, _d: in_flight[0],
        recorder=recorder,
        resources=resources,
        clock=clock,
    )
    return platform, in_flight, clock, recorder, autoscaler


async def _run(autoscaler: Autoscaler, clock: Clock, loads: list[int], load: list[int]) -> None:
    """One tick a second, with ``load[0]`` set from ``loads`` before each."""
    for value in loads:
        load[0] = value
        await autoscaler.tick()
        clock.now += 1


async def test_burst_scales_up_on_interval_mean_then_idle_scales_down_after_delay() -> None:
    platform, load, clock, recorder, autoscaler = _setup()
    # 10 samples: 0,4,0,4,... in flight over 2 slots -> mean utilization 100 % (target 50 %).
    await _run(autoscaler, clock, [0, 4] * 5, load)
    assert platform.scaled == []
    load[0] = 0
    made = await autoscaler.tick()  # t = 10: the first interval is over (11 samples, mean 90.9)
    assert len(made) == 1
    up = made[0]
    assert up.utilization == pytest.approx(100 * 20 / 11 / 2)
    assert (up.current, up.recommended, up.desired) == (1, 2, 2)
    assert platform.scaled == [2]
    assert platform.target.instances == 2
    assert "scale up" in platform.notes[-1] and "mean of 11 samples" in platform.notes[-1]

    # Idle: every interval recommends 1, held for scale_down_delay (30 s) of lower ones.
    clock.now += 1
    await _run(autoscaler, clock, [0] * 30, load)
    assert platform.scaled == [2]
    held = autoscaler.decisions("ep", "blue")[-1]
    assert held.desired == 2 and "held" in held.reason
    await _run(autoscaler, clock, [0] * 11, load)
    assert platform.scaled == [2, 1]
    down = autoscaler.decisions("ep", "blue")[-1]
    assert down.reason.startswith("scale down") and down.utilization == 0.0
    assert [d.desired for d in autoscaler.decisions("ep", "blue")] == [2, 2, 2, 2, 1]

    # Capacity, CPU and memory went into the recorder's minutes.
    end = datetime.fromtimestamp(clock.now + 60, tz=UTC)
    start = datetime.fromtimestamp(clock.now - 120, tz=UTC)
    window = recorder.snapshot("ep", start, end).deployments["blue"].window
    assert window.cpu_utilization_percentage == pytest.approx(5.0)
    assert window.cpu_memory_utilization_percentage == pytest.approx(1.5)
    assert window.deployment_capacity is not None
    assert 1.0 < window.deployment_capacity < 2.0


async def test_load_within_tolerance_changes_nothing() -> None:
    platform, load, clock, _recorder, autoscaler = _setup()
    await _run(autoscaler, clock, [1] * 11, load)  # 1 of 2 slots: 50 % = target
    assert platform.scaled == []
    assert autoscaler.decisions("ep", "blue")[-1].reason == "within tolerance"


async def test_cpu_metric_scales_on_cpu_not_requests() -> None:
    platform, load, clock, _recorder, autoscaler = _setup(replace(POLICY, metric="cpu"), cpu=90.0)
    await _run(autoscaler, clock, [0] * 11, load)
    assert platform.scaled == [2]
    assert autoscaler.decisions("ep", "blue")[-1].utilization == pytest.approx(90.0)


async def test_no_policy_records_capacity_but_never_scales() -> None:
    platform, load, clock, recorder, autoscaler = _setup(policy=None)
    await _run(autoscaler, clock, [4] * 30, load)
    assert platform.scaled == []
    assert autoscaler.decisions("ep", "blue") == []
    end = datetime.fromtimestamp(clock.now + 60, tz=UTC)
    window = recorder.snapshot("ep", end.replace(minute=0), end).deployments["blue"].window
    assert window.deployment_capacity == 1.0


async def test_a_refused_scale_is_logged_and_kept() -> None:
    platform, load, clock, _recorder, autoscaler = _setup()
    platform.refuse = True
    await _run(autoscaler, clock, [4] * 11, load)
    assert platform.target.instances == 1
    assert autoscaler.decisions("ep", "blue")[-1].desired == 4
    assert "failed: quota exhausted" in platform.notes[-1]
