"""Contract: scale, autoscale, logs, a failed deployment and key rotation on a serving
deployment, on every backend."""

from __future__ import annotations

import pytest
import pytest_asyncio

from deploy.errors import DeploymentFailedError, NotFoundError, SpecError, ValidationError
from deploy.types import AutoscalePolicy, EndpointSpec, ModelRef
from tests.contract.backends import INIT_ERROR, ContractCase

pytestmark = pytest.mark.asyncio(loop_scope="module")

ENDPOINT = "contract-ops"
POLICY = AutoscalePolicy(
    min_instances=1,
    max_instances=4,
    target_utilization_percentage=60,
    polling_interval=30,
    scale_down_delay=120,
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def serving(case: ContractCase) -> ContractCase:
    """An endpoint whose deployment blue takes all the traffic."""
    backend = case.backend
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("contract-ops-model", "1", case.model_source("ops-1"))
    model = ModelRef(name="contract-ops-model", version="1")
    await backend.create_or_update_deployment(case.deployment(ENDPOINT, "blue", model))
    await backend.set_traffic(ENDPOINT, {"blue": 100})
    return case


async def test_scale_sets_a_fixed_count(serving: ContractCase) -> None:
    backend = serving.backend
    scaled = await backend.scale(ENDPOINT, "blue", 2)
    assert scaled.instance_count == 2
    assert (await backend.get_deployment(ENDPOINT, "blue")).instance_count == 2
    for count in (0, 51):
        with pytest.raises(ValidationError):
            await backend.scale(ENDPOINT, "blue", count)
    assert (await backend.get_deployment(ENDPOINT, "blue")).instance_count == 2
    with pytest.raises(NotFoundError):
        await backend.scale(ENDPOINT, "purple", 2)


async def test_autoscale_is_set_read_back_and_removed(serving: ContractCase) -> None:
    backend = serving.backend
    assert (await backend.set_autoscale(ENDPOINT, "blue", POLICY)).autoscale == POLICY
    assert (await backend.get_deployment(ENDPOINT, "blue")).autoscale == POLICY
    assert [d.autoscale for d in await backend.list_deployments(ENDPOINT)] == [POLICY]
    with pytest.raises(SpecError, match="max_instances"):
        await backend.set_autoscale(
            ENDPOINT, "blue", AutoscalePolicy(min_instances=3, max_instances=2)
        )
    assert (await backend.get_deployment(ENDPOINT, "blue")).autoscale == POLICY
    assert (await backend.set_autoscale(ENDPOINT, "blue", None)).autoscale is None
    assert (await backend.get_deployment(ENDPOINT, "blue")).autoscale is None


@pytest.mark.parametrize("container", ["inference-server", "storage-initializer"])
async def test_logs_of_both_containers(serving: ContractCase, container: str) -> None:
    backend = serving.backend
    text = await backend.get_logs(ENDPOINT, "blue", lines=3, container=container)  # type: ignore[arg-type]
    lines = text.splitlines()
    assert 1 <= len(lines) <= 3
    with pytest.raises(ValidationError):
        await backend.get_logs(ENDPOINT, "blue", lines=0, container=container)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await backend.get_logs(ENDPOINT, "purple", lines=3)


async def test_a_deployment_whose_init_fails_is_kept_failed_until_fixed_or_deleted(
    serving: ContractCase,
) -> None:
    """As Azure keeps it: after a failed create the deployment exists in the Failed state
    with no instances and 0% traffic, its logs readable, the endpoint's traffic unchanged;
    it can be deleted, and updating it with a fix makes it serve."""
    backend = serving.backend
    model = ModelRef(name="contract-ops-model", version="1")
    before = await backend.get_endpoint(ENDPOINT)
    spec = serving.failing_deployment(ENDPOINT, "red", model)
    for attempt in ("create", "delete and create again"):
        with pytest.raises(DeploymentFailedError) as failed:
            await backend.create_or_update_deployment(spec)
        assert "red" in failed.value.message, attempt
        assert any(INIT_ERROR in line for line in failed.value.log_lines), failed.value.log_lines
        red = await backend.get_deployment(ENDPOINT, "red")
        assert red.provisioning_state == "Failed", attempt
        assert red.instances == () and red.ready_instances == 0
        shown = {d.name: d.provisioning_state for d in await backend.list_deployments(ENDPOINT)}
        assert shown == {"blue": "Succeeded", "red": "Failed"}
        after = await backend.get_endpoint(ENDPOINT)
        assert after.traffic.get("red", 0) == 0 and after.mirror_traffic.get("red", 0) == 0
        assert {k: v for k, v in after.traffic.items() if v} == {"blue": 100}
        assert {k: v for k, v in after.traffic.items() if v} == {
            k: v for k, v in before.traffic.items() if v
        }
        logs = await backend.get_logs(ENDPOINT, "red", lines=200)
        assert INIT_ERROR in logs, logs
        answer = await backend.invoke(ENDPOINT, b'{"data": [[1]]}')
        assert (answer.status, answer.deployment) == (200, "blue")
        if attempt == "create":
            await backend.delete_deployment(ENDPOINT, "red")
            with pytest.raises(NotFoundError):
                await backend.get_deployment(ENDPOINT, "red")
    # Updating the Failed deployment with a fix makes it serve.
    fixed = await backend.create_or_update_deployment(serving.deployment(ENDPOINT, "red", model))
    assert fixed.provisioning_state == "Succeeded"  # and it serves (Azure lists no instances):
    answer = await backend.invoke(ENDPOINT, b'{"data": [[1]]}', deployment="red")
    assert (answer.status, answer.deployment) == (200, "red")
    assert {k: v for k, v in (await backend.get_endpoint(ENDPOINT)).traffic.items() if v} == {
        "blue": 100
    }
    await backend.delete_deployment(ENDPOINT, "red")
    assert [d.name for d in await backend.list_deployments(ENDPOINT)] == ["blue"]


async def test_scoring_uses_the_regenerated_key(serving: ContractCase) -> None:
    backend = serving.backend
    before = await backend.get_credentials(ENDPOINT)
    after = await backend.regenerate_keys(ENDPOINT, key_type="primary")
    assert after.primary_key != before.primary_key
    answer = await backend.invoke(ENDPOINT, b'{"data": [[1]]}')
    assert (answer.status, answer.deployment) == (200, "blue")


async def test_cleanup(serving: ContractCase) -> None:
    backend = serving.backend
    await backend.set_traffic(ENDPOINT, {})
    await backend.delete_deployment(ENDPOINT, "blue")
    await backend.delete_endpoint(ENDPOINT)
    assert ENDPOINT not in [e.name for e in await backend.list_endpoints()]
