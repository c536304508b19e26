"""Autoscaling for real: slow requests through the router on loopback scale a deployment up,
and idleness scales it back down (polling_interval 1 s, scale_down_delay 2 s)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from deploy.local.dataplane.router import Router
from deploy.local.metrics.autoscaler import Autoscaler
from deploy.local.metrics.recorder import MetricsRecorder
from deploy.local.platform import Platform
from deploy.types import AutoscalePolicy, EndpointSpec
from samples.scripts import slow_score
from tests.deploy.local.platform_kit import deployment_spec, end_processes_under, wait_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=60)]

POLICY = AutoscalePolicy(
    min_instances=1,
    max_instances=2,
    target_utilization_percentage=50,
    polling_interval=1,
    scale_down_delay=2,
)


@dataclass
class Stack:
    platform: Platform
    autoscaler: Autoscaler
    recorder: MetricsRecorder
    home: Path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("autoscale-home")
    recorder = MetricsRecorder()
    router = Router(recorder=recorder)
    await router.start()
    platform = Platform(home=home, router=router, recorder=recorder)
    autoscaler = Autoscaler(
        platform=platform, in_flight=router.in_flight, recorder=recorder, sample_interval=0.1
    )
    try:
        await platform.start()
        autoscaler.start()
        yield Stack(platform=platform, autoscaler=autoscaler, recorder=recorder, home=home)
    finally:
        try:
            await autoscaler.stop()
            await platform.stop()
            await router.stop()
        finally:
            assert not end_processes_under(home)


async def test_burst_scales_up_and_idleness_scales_down(stack: Stack, tmp_path: Path) -> None:
    platform = stack.platform
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(Path(slow_score.__file__), code / "score.py")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-auto"))
    spec = deployment_spec("ep-auto", "blue", code, env={"SAMPLE_DELAY_MS": "400"})
    await platform.create_or_update_deployment(spec)
    await platform.set_traffic("ep-auto", {"blue": 100})
    await platform.set_autoscale("ep-auto", "blue", POLICY)

    async def count() -> int:
        return (await platform.get_deployment("ep-auto", "blue")).instance_count

    stop = asyncio.Event()
    statuses: list[int] = []

    async def caller() -> None:
        while not stop.is_set():
            result = await platform.invoke("ep-auto", b'{"data": [1]}')
            statuses.append(result.status)
            if result.status == 429:  # refused at once: pace the retries, leave CPU to the rest
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.05)

    # A burst: 3 concurrent callers of a 400 ms script keep the one slot (100 %) busy.
    callers = [asyncio.create_task(caller()) for _ in range(3)]
    try:
        await wait_until(lambda: _is(count, 2), "a scale up to 2 instances", seconds=60)
    finally:
        stop.set()
        await asyncio.gather(*callers)
    assert 200 in statuses
    up = [d for d in stack.autoscaler.decisions("ep-auto", "blue") if d.desired == 2]
    assert up and up[0].current == 1 and up[0].utilization > 55

    # Idle: lower recommendations for scale_down_delay, then back to min_instances.
    await wait_until(lambda: _is(count, 1), "a scale down to 1 instance", seconds=60)
    made = stack.autoscaler.decisions("ep-auto", "blue")
    down = [d for d in made if d.reason.startswith("scale down:")]
    assert down and down[-1].current == 2 and down[-1].desired == 1
    deployment = await platform.get_deployment("ep-auto", "blue")
    assert len(deployment.instances) == 1

    log = await platform.get_logs("ep-auto", "blue", container="storage-initializer", lines=500)
    assert "autoscale: utilization" in log and "scale up" in log and "scale down:" in log
    snapshot = await platform.metrics("ep-auto", timedelta(minutes=5))
    window = snapshot.deployments["blue"].window
    # Answers took 400 ms; the calls over the one slot were refused at once (429).
    assert window.requests_by_status.get("200", 0) > 0
    assert window.latency_p99_ms is not None and window.latency_p50_ms is not None
    assert window.deployment_capacity is not None and window.deployment_capacity >= 1
    assert window.cpu_utilization_percentage is not None
    assert window.cpu_memory_utilization_percentage is not None
    assert window.cpu_memory_utilization_percentage > 0


async def _is(count: object, expected: int) -> bool:
    assert callable(count)
    return bool(await count() == expected)
