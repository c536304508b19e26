"""Operations that collide or stop: Azure busy with another change, a canceled operation.

The backend runs on a fake clock and sleep: waiting for a busy resource takes no time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.azure import AzureMLBackend, AzureSettings
from deploy.errors import ConflictError, FlightdeckError, ValidationError
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm
from tests.support.fake_arm_http import FakeCredential

ENDPOINT = "product-recommender"
MODEL_URI = "azureml://datastores/workspaceblobstore/paths/models/recommendation/1/"


class FakeTime:
    """A clock that moves only when the backend sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def backend(fake: FakeArm, clock: FakeTime) -> AsyncIterator[AzureMLBackend]:
    settings = AzureSettings(
        subscription_id=fake.subscription_id,
        resource_group=fake.resource_group,
        workspace_name=fake.workspace,
        progress_interval=0.05,
        operation_timeout=600,
    )
    azure = AzureMLBackend(
        settings=settings,
        credential=FakeCredential(),
        transport=fake,
        clock=clock,
        sleep=clock.sleep,
    )
    yield azure
    await azure.aclose()


def spec(code_dir: Path, name: str) -> DeploymentSpec:
    return DeploymentSpec(
        name=name,
        endpoint_name=ENDPOINT,
        model=ModelRef(name="recommendation-model", version="1"),
        code_path=str(code_dir),
        scoring_script="score.py",
        instance_count=1,
    )


@pytest.fixture
async def serving(backend: AzureMLBackend, fake: FakeArm, code_dir: Path) -> FakeArm:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("recommendation-model", "1", MODEL_URI)
    await backend.create_or_update_deployment(spec(code_dir, "blue"))
    fake.clear_calls()
    return fake


async def test_a_scale_waits_for_the_autoscale_change_running_on_the_deployment(
    backend: AzureMLBackend, serving: FakeArm, clock: FakeTime
) -> None:
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    serving.ml.busy(ENDPOINT, "blue", polls=3)  # Azure's autoscale is changing the capacity
    scaled = await backend.scale(ENDPOINT, "blue", 2, progress=progress)

    assert scaled.instance_count == 2
    refused = [c for c in serving.find("PUT", "/deployments/blue")]
    assert len(refused) == 4  # three refusals (409), then the change
    assert clock.sleeps == [2.0, 4.0, 8.0]
    waiting = [line for line in lines if line.startswith("Waiting for the running operation")]
    assert len(waiting) == 3
    assert "on deployment 'blue' of 'product-recommender'" in waiting[0]
    assert "provisioning state Updating" in waiting[0]
    assert "before scaling 'blue'" in waiting[0]


async def test_a_resource_busy_past_the_deadline_fails_naming_the_operation_in_the_way(
    backend: AzureMLBackend, serving: FakeArm, clock: FakeTime
) -> None:
    serving.ml.busy(ENDPOINT, "blue", polls=10**6)
    with pytest.raises(ConflictError) as busy:
        await backend.scale(ENDPOINT, "blue", 2)
    message = busy.value.message
    assert "another operation is still running on deployment 'blue' of 'product-recommender'" in (
        message
    )
    assert "provisioning state Updating" in message
    assert "An operation is already in progress" in message  # Azure's own words
    assert 600 <= sum(clock.sleeps) < 640
    assert max(clock.sleeps) == 30.0


async def test_a_deployment_waits_while_its_endpoint_is_being_updated(
    backend: AzureMLBackend, serving: FakeArm, clock: FakeTime, code_dir: Path
) -> None:
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    serving.ml.busy(ENDPOINT, polls=2)
    green = await backend.create_or_update_deployment(spec(code_dir, "green"), progress=progress)

    assert green.provisioning_state == "Succeeded"
    assert len(clock.sleeps) == 2
    waiting = [line for line in lines if line.startswith("Waiting for the running operation")]
    assert "because it is in Updating provisioning state" in waiting[0]


async def test_traffic_waits_for_the_running_endpoint_operation(
    backend: AzureMLBackend, serving: FakeArm, clock: FakeTime
) -> None:
    serving.ml.busy(ENDPOINT, polls=1)
    endpoint = await backend.set_traffic(ENDPOINT, {"blue": 100})
    assert endpoint.traffic == {"blue": 100}
    assert clock.sleeps == [2.0]


async def test_a_refusal_for_another_reason_is_not_retried(
    backend: AzureMLBackend, serving: FakeArm, clock: FakeTime
) -> None:
    serving.fail_next(
        "PUT",
        "/deployments/blue",
        status=400,
        code="BadArgument",
        message="Instance type Standard_XYZ is not supported.",
    )
    with pytest.raises(ValidationError, match="Standard_XYZ"):
        await backend.scale(ENDPOINT, "blue", 2)
    assert clock.sleeps == []


async def test_a_canceled_operation_is_reported_as_canceled_by_whom_azure_says(
    backend: AzureMLBackend, serving: FakeArm
) -> None:
    serving.cancel_next_operation("Operation was canceled by user admin@contoso.com.")
    with pytest.raises(FlightdeckError) as stopped:
        await backend.scale(ENDPOINT, "blue", 3)
    message = stopped.value.message
    assert message.startswith("Scaling 'blue' of 'product-recommender' to 3 was canceled on Azure")
    assert "admin@contoso.com" in message
    assert "invalid status" not in message
    assert "failed" not in message


async def test_a_canceled_operation_without_a_reason_still_says_canceled(
    backend: AzureMLBackend, serving: FakeArm
) -> None:
    serving.cancel_next_operation()
    with pytest.raises(FlightdeckError) as stopped:
        await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT, description="v2"))
    assert stopped.value.message.startswith(
        "Updating endpoint 'product-recommender' was canceled on Azure."
    )
    assert "invalid status" not in stopped.value.message
