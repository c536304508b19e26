"""Azure's failures as domain errors: a message to act on, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError

from deploy.azure import AzureMLBackend, create_azure_backend
from deploy.errors import BackendUnavailableError, NotFoundError, PermissionDeniedError
from deploy.types import AutoscalePolicy, DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm


def backend_for(fake: FakeArm, credential: Any, **changes: str) -> AzureMLBackend:
    settings = {
        "subscription_id": fake.subscription_id,
        "resource_group": fake.resource_group,
        "workspace_name": fake.workspace,
        "credential": credential,
        "transport": fake,
        "progress_interval": 0.05,
        **changes,
    }
    return create_azure_backend(settings, environ={})


class NoLogin:
    """What DefaultAzureCredential does when no sign-in is available."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token.")

    def get_token_info(self, *scopes: str, options: Any = None) -> Any:
        return self.get_token(*scopes)


async def test_no_sign_in_says_how_to_sign_in(fake: FakeArm) -> None:
    backend = backend_for(fake, NoLogin())
    with pytest.raises(BackendUnavailableError) as failure:
        await backend.list_endpoints()
    assert "did not accept Flightdeck's credentials" in failure.value.message
    assert "az login" in failure.value.message
    assert fake.calls == []
    await backend.aclose()


async def test_a_rejected_token_is_an_authentication_error(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    fake.reject_tokens = True
    with pytest.raises(BackendUnavailableError, match="The access token is invalid"):
        await backend.list_endpoints()


async def test_a_missing_role_names_the_action_and_the_roles(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    fake.forbid("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write")
    with pytest.raises(PermissionDeniedError) as failure:
        await backend.create_or_update_endpoint(EndpointSpec(name="product-recommender"))
    message = failure.value.message
    assert "does not have authorization to perform action" in message
    assert "onlineEndpoints/write" in message
    assert "AzureML Data Scientist" in message
    assert fake.ml.endpoints == {}


async def deploy_blue(backend: AzureMLBackend, code_dir: Path, **changes: object) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name="product-recommender"))
    await backend.register_model("rec", "1", "azureml://datastores/workspaceblobstore/paths/m/")
    values: dict[str, object] = {
        "name": "blue",
        "endpoint_name": "product-recommender",
        "model": ModelRef(name="rec", version="1"),
        "code_path": str(code_dir),
        "scoring_script": "score.py",
        **changes,
    }
    await backend.create_or_update_deployment(DeploymentSpec(**values))  # type: ignore[arg-type]


async def test_without_monitoring_contributor_autoscale_is_refused(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy_blue(backend, code_dir)
    fake.forbid("Microsoft.Insights/autoscalesettings/write")
    policy = AutoscalePolicy(min_instances=1, max_instances=3)
    with pytest.raises(PermissionDeniedError, match="Monitoring Contributor"):
        await backend.set_autoscale("product-recommender", "blue", policy)
    assert fake.monitor.autoscale == {}


async def test_a_deployment_that_serves_without_its_autoscale_setting_says_so(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    fake.forbid("Microsoft.Insights/autoscalesettings/write")
    policy = AutoscalePolicy(min_instances=1, max_instances=3)
    with pytest.raises(PermissionDeniedError) as refused:
        await deploy_blue(backend, code_dir, autoscale=policy)
    assert refused.value.message.startswith(
        "Deployment 'blue' of 'product-recommender' is serving, but its autoscale setting was "
        "not saved: Azure refused the operation"
    )
    assert (await backend.get_deployment("product-recommender", "blue")).autoscale is None


async def test_a_setting_that_cannot_be_deleted_does_not_fail_the_delete(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    policy = AutoscalePolicy(min_instances=1, max_instances=3)
    await deploy_blue(backend, code_dir, autoscale=policy)
    fake.forbid("Microsoft.Insights/autoscalesettings/delete")
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    await backend.delete_deployment("product-recommender", "blue", progress=progress)
    assert await backend.list_deployments("product-recommender") == []
    assert any("could not be deleted" in line for line in lines)
    assert list(fake.monitor.autoscale) == ["product-recommender-blue-autoscale"]


async def test_a_wrong_workspace_is_reported_as_such(fake: FakeArm) -> None:
    from tests.support.fake_arm_http import FakeCredential

    backend = backend_for(fake, FakeCredential(), workspace_name="mlw-typo")
    with pytest.raises(NotFoundError) as failure:
        await backend.get_endpoint("product-recommender")
    assert "Workspace 'mlw-typo' was not found in resource group 'rg-flightdeck'" in str(
        failure.value
    )
    await backend.aclose()
