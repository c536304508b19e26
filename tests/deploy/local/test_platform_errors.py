"""Bad input and safety: a clear error naming what is wrong, and nothing changed.

Also: init() failing on create (nothing left) and on update (the previous version
keeps serving), and operations on one endpoint running one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from deploy.errors import ConflictError, DeploymentFailedError, NotFoundError, ValidationError
from deploy.local.platform import Platform
from deploy.types import EndpointSpec, ModelRef
from tests.deploy.local.platform_kit import (
    BROKEN_INIT,
    Progress,
    deployment_spec,
    echo_code,
    model_folder,
    processes_under,
    running_platform,
    score,
    write_code,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=30)]

EP = "ep-errors"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("errors-home")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("errors-sources")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(home: Path, sources: Path) -> AsyncIterator[Platform]:
    """An endpoint with blue (100%) and green (0%) running, started once for the module."""
    async with running_platform(home) as started:
        await started.create_or_update_endpoint(EndpointSpec(name=EP))
        code = echo_code(sources / "good", version="v1")
        for name in ("blue", "green"):
            await started.create_or_update_deployment(deployment_spec(EP, name, code))
        await started.set_traffic(EP, {"blue": 100, "green": 0})
        yield started


async def _state(platform: Platform, home: Path) -> dict[str, Any]:
    """Everything a failed operation must leave as it was."""
    endpoints = await platform.list_endpoints()
    deployments = {e.name: await platform.list_deployments(e.name) for e in endpoints}
    return {
        "endpoints": endpoints,
        "deployments": deployments,
        "credentials": {e.name: await platform.get_credentials(e.name) for e in endpoints},
        "files": sorted(str(p.relative_to(home)) for p in (home / "deployments").rglob("*")),
        "processes": sorted(p.pid for p in processes_under(home)),
    }


@pytest.mark.parametrize("name", ["ab", "1abc", "a--b", "abc-", "a" * 33, "has_underscore", ""])
async def test_invalid_endpoint_names(platform: Platform, home: Path, name: str) -> None:
    before = await _state(platform, home)
    with pytest.raises(ValidationError, match="Invalid endpoint name"):
        await platform.create_or_update_endpoint(EndpointSpec(name=name))
    assert await _state(platform, home) == before


async def test_invalid_deployment_name(platform: Platform, home: Path, sources: Path) -> None:
    before = await _state(platform, home)
    spec = deployment_spec(EP, "b_lue", echo_code(sources / "bad-name"))
    with pytest.raises(ValidationError, match="Invalid deployment name 'b_lue'"):
        await platform.create_or_update_deployment(spec)
    assert await _state(platform, home) == before


async def test_unknown_endpoint_everywhere(platform: Platform, sources: Path) -> None:
    calls = [
        platform.get_endpoint("nowhere"),
        platform.delete_endpoint("nowhere"),
        platform.set_traffic("nowhere", {"blue": 100}),
        platform.get_credentials("nowhere"),
        platform.regenerate_keys("nowhere"),
        platform.invoke("nowhere", b"{}"),
        platform.metrics("nowhere", timedelta(minutes=5)),
        platform.list_deployments("nowhere"),
        platform.get_deployment("nowhere", "blue"),
        platform.create_or_update_deployment(
            deployment_spec("nowhere", "blue", echo_code(sources / "nowhere"))
        ),
        platform.previous_traffic("nowhere"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match=f"Endpoint 'nowhere' does not exist.*{EP}"):
            await call


async def test_unknown_deployment_everywhere(platform: Platform, home: Path) -> None:
    before = await _state(platform, home)
    calls = [
        platform.get_deployment(EP, "purple"),
        platform.delete_deployment(EP, "purple"),
        platform.scale(EP, "purple", 2),
        platform.set_autoscale(EP, "purple", None),
        platform.get_logs(EP, "purple"),
    ]
    for call in calls:
        with pytest.raises(NotFoundError, match="Deployment 'purple' does not exist.*blue, green"):
            await call
    assert await _state(platform, home) == before


@pytest.mark.parametrize(
    ("traffic", "mirror", "message"),
    [
        ({"blue": 90}, None, "sum to 100"),
        ({"blue": 60, "green": 60}, None, "sum to 100"),
        ({"blue": 90, "purple": 10}, None, "Deployment 'purple' does not exist"),
        (None, {"purple": 10}, "Deployment 'purple' does not exist"),
        (None, {"green": 60}, "the most is 50%"),
        (None, {"blue": 10}, "a mirror target must take none"),
        ({"blue": 101, "green": -1}, None, "between 0 and 100"),
    ],
)
async def test_traffic_rules(
    platform: Platform,
    home: Path,
    traffic: dict[str, int] | None,
    mirror: dict[str, int] | None,
    message: str,
) -> None:
    before = await _state(platform, home)
    previous = await platform.previous_traffic(EP)
    with pytest.raises(ValidationError, match=message):
        await platform.set_traffic(EP, traffic, mirror_traffic=mirror)
    assert await _state(platform, home) == before
    assert await platform.previous_traffic(EP) == previous


async def test_missing_files_in_a_spec(platform: Platform, home: Path, sources: Path) -> None:
    good = echo_code(sources / "files")
    cases = [
        (deployment_spec(EP, "red", sources / "no-such-folder"), "code folder .* does not exist"),
        (deployment_spec(EP, "red", good, script="missing.py"), "'missing.py' is not a file"),
        (
            deployment_spec(EP, "red", good, model=ModelRef(path=str(sources / "no-model"))),
            "model path .*no-model' does not exist",
        ),
        (replace(deployment_spec(EP, "red", good), code_path=None), "code_configuration"),
        (replace(deployment_spec(EP, "red", good), instance_count=0), "instance_count"),
    ]
    for spec, message in cases:
        before = await _state(platform, home)
        with pytest.raises(ValidationError, match=message):
            await platform.create_or_update_deployment(spec)
        assert await _state(platform, home) == before
    # An update with a bad spec leaves the running version alone too.
    before = await _state(platform, home)
    with pytest.raises(ValidationError, match="'missing.py' is not a file"):
        await platform.create_or_update_deployment(
            deployment_spec(EP, "blue", good, script="missing.py")
        )
    assert await _state(platform, home) == before
    with pytest.raises(NotFoundError, match="Model missing-model:1 is not registered"):
        await platform.create_or_update_deployment(
            deployment_spec(EP, "red", good, model=ModelRef(name="missing-model", version="1"))
        )
    assert await _state(platform, home) == before


async def test_endpoint_auth_rules(platform: Platform, home: Path) -> None:
    before = await _state(platform, home)
    with pytest.raises(ValidationError, match="aad_token"):
        await platform.create_or_update_endpoint(EndpointSpec(name="ep-aad", auth_mode="aad_token"))
    with pytest.raises(ValidationError, match="cannot change to 'aml_token'"):
        await platform.create_or_update_endpoint(EndpointSpec(name=EP, auth_mode="aml_token"))
    with pytest.raises(ValidationError, match="Key type 'tertiary'"):
        await platform.regenerate_keys(EP, key_type="tertiary")
    assert await _state(platform, home) == before


async def test_bad_counts_windows_and_log_requests(platform: Platform, home: Path) -> None:
    before = await _state(platform, home)
    for count in (0, 51):
        with pytest.raises(ValidationError, match=f"instance_count must be 1 to 50, not {count}"):
            await platform.scale(EP, "blue", count)
    for minutes in (0, 24 * 60 + 1):  # the recorder keeps a day
        with pytest.raises(ValidationError, match="1 to 1440 minutes"):
            await platform.metrics(EP, timedelta(minutes=minutes))
    with pytest.raises(ValidationError, match="Container 'sidecar'"):
        await platform.get_logs(EP, "blue", container="sidecar")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="lines must be at least 1"):
        await platform.get_logs(EP, "blue", lines=0)
    assert await _state(platform, home) == before


async def test_deleting_a_deployment_with_traffic_is_refused(
    platform: Platform, home: Path
) -> None:
    before = await _state(platform, home)
    with pytest.raises(ConflictError, match="takes 100% of endpoint 'ep-errors'"):
        await platform.delete_deployment(EP, "blue")
    await platform.set_traffic(EP, mirror_traffic={"green": 10})
    try:
        with pytest.raises(ConflictError, match="receives 10% mirror traffic"):
            await platform.delete_deployment(EP, "green")
    finally:
        await platform.set_traffic(EP, mirror_traffic={})
    assert await _state(platform, home) == before


async def test_init_failure_on_create_is_kept_failed_with_its_logs(
    platform: Platform, home: Path, sources: Path
) -> None:
    before = await _state(platform, home)
    broken = write_code(sources / "broken-create", BROKEN_INIT)
    model = model_folder(sources / "broken-model")
    spec = deployment_spec(EP, "red", broken, model=ModelRef(path=str(model)), count=2)
    progress = Progress()
    with pytest.raises(DeploymentFailedError) as failed:
        await platform.create_or_update_deployment(spec, progress=progress)
    error = failed.value
    assert "Deployment 'red' failed: instance red-" in error.message
    assert "exited with code 3" in error.message
    assert "kept in the Failed state" in error.message
    assert any("flightdeck-init-marker" in line for line in error.log_lines)
    assert any("Traceback" in line for line in error.log_lines)
    assert any(line.startswith("Starting instance red-") for line in progress.lines)
    # As on Azure: the deployment stays, Failed, with no instances and no traffic.
    shown = await platform.get_deployment(EP, "red")
    assert (shown.provisioning_state, shown.instances) == ("Failed", ())
    assert (await platform.get_endpoint(EP)).traffic["red"] == 0
    assert not [p for p in processes_under(home) if "red" in " ".join(p.cmdline())]
    # get-logs: the failed instance first, under a heading naming it, its traceback whole.
    logs = await platform.get_logs(EP, "red", lines=200)
    first = logs.splitlines()[0]
    assert first.startswith("===== red-") and "failed: exited with code 3" in first
    failed_name = first.split()[1]
    block = logs.split("===== the other instances =====")[0]
    assert "Traceback" in block and "flightdeck-init-marker" in block
    assert all(line.startswith(f"[{failed_name}] ") for line in block.splitlines()[1:] if line), (
        block
    )
    storage = await platform.get_logs(EP, "red", container="storage-initializer")
    assert "Provisioning failed: Deployment 'red' failed: instance red-" in storage
    # Named in the azureml-model-deployment header: 503, as a deployment without a ready
    # instance answers on Azure, saying it is Failed and where its logs are.
    status, body, answered = await score(platform, EP, deployment="red")
    assert (status, answered, body["error"]["code"]) == (503, "red", "deployment_failed"), body
    assert (
        "'red' of endpoint" in body["error"]["message"] and "get-logs" in body["error"]["message"]
    )
    # No traffic, no scaling while Failed.
    with pytest.raises(ValidationError, match="'red' is in the Failed state.*take traffic"):
        await platform.set_traffic(EP, {"blue": 90, "red": 10})
    with pytest.raises(ValidationError, match="'red' is in the Failed state.*mirror|traffic"):
        await platform.set_traffic(EP, mirror_traffic={"red": 10})
    with pytest.raises(ValidationError, match="'red' is in the Failed state.*scale"):
        await platform.scale(EP, "red", 2)
    # Deleting it removes everything it left.
    await platform.delete_deployment(EP, "red")
    assert await _state(platform, home) == before
    assert not (home / "logs" / EP / "red").exists()
    with pytest.raises(NotFoundError):
        await platform.get_deployment(EP, "red")


async def test_a_failed_deployment_updated_with_a_fix_serves(
    platform: Platform, home: Path, sources: Path
) -> None:
    broken = write_code(sources / "broken-then-fixed", BROKEN_INIT)
    with pytest.raises(DeploymentFailedError):
        await platform.create_or_update_deployment(deployment_spec(EP, "plum", broken))
    assert (await platform.get_deployment(EP, "plum")).provisioning_state == "Failed"
    fixed = echo_code(sources / "fixed", version="v9")
    progress = Progress()
    shown = await platform.create_or_update_deployment(
        deployment_spec(EP, "plum", fixed), progress=progress
    )
    assert shown.provisioning_state == "Succeeded" and shown.ready_instances == 1
    assert progress.lines[0].startswith("Creating deployment plum")
    status, body, answered = await score(platform, EP, deployment="plum")
    assert (status, body["version"], answered) == (200, "v9", "plum")
    # The failure's heading is gone once a new attempt starts.
    assert "=====" not in await platform.get_logs(EP, "plum", lines=200)
    await platform.delete_deployment(EP, "plum")


async def test_init_failure_on_update_keeps_the_previous_version(
    platform: Platform, home: Path, sources: Path
) -> None:
    before = await _state(platform, home)
    broken = write_code(sources / "broken-update", BROKEN_INIT)
    serving: list[tuple[int, str]] = []
    stop = asyncio.Event()

    async def keep_scoring() -> None:
        while not stop.is_set():
            status, body, _ = await score(platform, EP)
            serving.append((status, body["version"] if status == 200 else body))

    scorer = asyncio.create_task(keep_scoring())
    try:
        with pytest.raises(DeploymentFailedError) as failed:
            await platform.create_or_update_deployment(deployment_spec(EP, "blue", broken))
    finally:
        stop.set()
        await scorer
    assert "The previous version keeps serving." in failed.value.message
    assert any("flightdeck-init-marker" in line for line in failed.value.log_lines)
    assert serving and all(answer == (200, "v1") for answer in serving)
    assert await _state(platform, home) == before
    status, body, answered = await score(platform, EP)
    assert (status, body["version"], answered) == (200, "v1", "blue")


async def test_operations_on_one_endpoint_run_one_at_a_time(
    platform: Platform, home: Path, sources: Path
) -> None:
    code = echo_code(sources / "serial", version="v2")
    progress = Progress()
    creating = asyncio.create_task(
        platform.create_or_update_deployment(deployment_spec(EP, "teal", code), progress=progress)
    )
    await asyncio.sleep(0)  # let the create take the endpoint's lock
    # Sent while teal is being created: it waits, so teal exists when it runs.
    shifted = await platform.set_traffic(EP, {"blue": 50, "teal": 50})
    assert creating.done()
    assert progress.lines[-1] == "Deployment teal is ready (1 instance(s))."
    assert shifted.traffic == {"blue": 50, "green": 0, "teal": 50}
    assert await platform.previous_traffic(EP) == {"blue": 100, "green": 0, "teal": 0}
    # Put things back for the other tests; deleting teal frees its files and processes.
    await platform.set_traffic(EP, {"blue": 100})
    before_delete = len(processes_under(home))
    await platform.delete_deployment(EP, "teal")
    assert len(processes_under(home)) < before_delete
    assert not (home / "deployments" / EP / "teal").exists()
    assert not (home / "logs" / EP / "teal").exists()
    assert (await platform.get_endpoint(EP)).traffic == {"blue": 100, "green": 0}
