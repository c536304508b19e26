"""Scale 1 -> 3 -> 1, a killed instance replaced while the others answer, and a rolling
update, each under a steady stream of requests through the real router."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import pytest_asyncio

from deploy.local.platform import Platform
from deploy.types import EndpointSpec
from tests.deploy.local.platform_kit import (
    Progress,
    deployment_spec,
    echo_code,
    processes_under,
    running_platform,
    score,
    wait_until,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=30)]

T = TypeVar("T")
_PACE_SECONDS = 0.02


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scale-home")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(home: Path) -> AsyncIterator[Platform]:
    async with running_platform(home) as started:
        yield started


async def _while_scoring(
    platform: Platform, endpoint: str, action: Callable[[], Awaitable[T]]
) -> tuple[T, list[tuple[int, Any]]]:
    """Run ``action`` while a client keeps scoring; return its result and every answer."""
    answers: list[tuple[int, Any]] = []
    stop = asyncio.Event()

    async def client() -> None:
        while not stop.is_set():
            status, body, _ = await score(platform, endpoint)
            answers.append((status, body))
            # Pacing (about 50 requests/s), so that the client leaves CPU to the instances.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _PACE_SECONDS)

    task = asyncio.create_task(client())
    try:
        result = await action()
    finally:
        stop.set()
        await task
    return result, answers


async def test_scale_one_to_three_to_one(platform: Platform, home: Path, tmp_path: Path) -> None:
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-scale"))
    await platform.create_or_update_deployment(
        deployment_spec("ep-scale", "blue", echo_code(tmp_path / "code"))
    )
    await platform.set_traffic("ep-scale", {"blue": 100})
    progress = Progress()
    up, answers = await _while_scoring(
        platform, "ep-scale", lambda: platform.scale("ep-scale", "blue", 3, progress=progress)
    )
    assert up.instance_count == 3
    assert [(i.name, i.state) for i in up.instances] == [
        ("blue-1", "ready"),
        ("blue-2", "ready"),
        ("blue-3", "ready"),
    ]
    assert sum(line.endswith("ready (3/3)") for line in progress.lines) == 1
    assert "Starting instance blue-3 ..." in progress.lines
    assert answers and all(status == 200 for status, _ in answers)
    pids = platform.instance_pids("ep-scale", "blue")
    assert len(set(pids.values())) == 3
    # Requests now spread over the three instances (round robin of the router).
    seen: Counter[int] = Counter()
    for _ in range(9):
        status, body, _ = await score(platform, "ep-scale")
        assert status == 200
        seen[body["pid"]] += 1
    assert len(seen) == 3

    down, answers = await _while_scoring(
        platform, "ep-scale", lambda: platform.scale("ep-scale", "blue", 1)
    )
    assert down.instance_count == 1
    assert [(i.name, i.state) for i in down.instances] == [("blue-1", "ready")]
    assert answers and all(status == 200 for status, _ in answers)
    assert platform.instance_pids("ep-scale", "blue") == {"blue-1": pids["blue-1"]}
    live = {p.pid for p in processes_under(home)}
    assert pids["blue-1"] in live
    assert not {pids["blue-2"], pids["blue-3"]} & live
    # The count is stored: a show after the fact agrees.
    assert (await platform.get_deployment("ep-scale", "blue")).instance_count == 1


async def test_a_killed_instance_is_replaced_while_others_answer(
    platform: Platform, tmp_path: Path
) -> None:
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-kill"))
    await platform.create_or_update_deployment(
        deployment_spec("ep-kill", "blue", echo_code(tmp_path / "code"), count=2)
    )
    await platform.set_traffic("ep-kill", {"blue": 100})
    victim = platform.instance_pids("ep-kill", "blue")["blue-1"]
    survivor = platform.instance_pids("ep-kill", "blue")["blue-2"]
    survivor_workers = {child.pid for child in psutil.Process(survivor).children()}
    os.killpg(victim, signal.SIGKILL)

    async def states() -> dict[str, tuple[str, int]]:
        deployment = await platform.get_deployment("ep-kill", "blue")
        return {i.name: (i.state, i.restarts) for i in deployment.instances}

    # The exit is noticed at once (pidfd): blue-1 leaves rotation.
    await wait_until(lambda: _state_is(states, "blue-1", lambda s: s[0] != "ready"), "exit")

    async def replaced() -> None:
        await wait_until(lambda: _state_is(states, "blue-1", ("ready", 1).__eq__), "restart")

    _, answers = await _while_scoring(platform, "ep-kill", replaced)
    current = await states()
    assert answers and all(status == 200 for status, _ in answers)
    # While blue-1 was away, blue-2 answered.
    assert answers[0][1]["pid"] in survivor_workers
    assert current["blue-2"] == ("ready", 0)
    new = platform.instance_pids("ep-kill", "blue")
    assert new["blue-2"] == survivor
    assert new["blue-1"] != victim
    seen = set()
    for _ in range(6):
        status, body, _ = await score(platform, "ep-kill")
        assert status == 200
        seen.add(body["pid"])
    assert len(seen) == 2  # both in rotation again


async def _state_is(
    states: Callable[[], Awaitable[dict[str, tuple[str, int]]]],
    instance: str,
    check: Callable[[tuple[str, int]], bool],
) -> bool:
    return check((await states())[instance])


async def test_rolling_update_keeps_serving(platform: Platform, home: Path, tmp_path: Path) -> None:
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-roll"))
    spec = deployment_spec("ep-roll", "blue", echo_code(tmp_path / "v1", version="v1"), count=2)
    await platform.create_or_update_deployment(spec)
    await platform.set_traffic("ep-roll", {"blue": 100})
    old = platform.instance_pids("ep-roll", "blue")
    progress = Progress()
    update = deployment_spec("ep-roll", "blue", echo_code(tmp_path / "v2", version="v2"), count=2)
    updated, answers = await _while_scoring(
        platform,
        "ep-roll",
        lambda: platform.create_or_update_deployment(update, progress=progress),
    )
    assert answers and all(status == 200 for status, _ in answers)
    versions = [body["version"] for _, body in answers]
    # v1 until the swap, then v2: never back.
    assert versions == sorted(versions)
    assert progress.lines[0].startswith("Updating deployment blue")
    assert "the new version serves" in progress.text()
    assert sorted(i.name for i in updated.instances) == ["blue-3", "blue-4"]
    new = platform.instance_pids("ep-roll", "blue")
    assert not set(new.values()) & set(old.values())
    for _ in range(4):
        status, body, _ = await score(platform, "ep-roll")
        assert (status, body["version"]) == (200, "v2")
    live = {p.pid for p in processes_under(home)}
    assert not set(old.values()) & live
    # The previous generation's copies are gone; only the running one is kept.
    assert sorted(p.name for p in (home / "deployments" / "ep-roll" / "blue").iterdir()) == ["2"]
