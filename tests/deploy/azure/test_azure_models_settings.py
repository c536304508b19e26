"""Registered models, and how the azure backend is configured and chosen."""

from __future__ import annotations

import pytest

from deploy.azure import AzureMLBackend, AzureSettings, create_azure_backend
from deploy.errors import ConflictError, FlightdeckError, NotFoundError, ValidationError
from deploy.registry import create_backend
from tests.support.fake_arm import FakeArm

URI = "azureml://datastores/workspaceblobstore/paths/models/recommendation/"


async def test_register_list_and_get_models(backend: AzureMLBackend, fake: FakeArm) -> None:
    first = await backend.register_model("recommendation-model", "1", URI + "1/", description="v1")
    await backend.register_model("recommendation-model", "2", URI + "2/")
    await backend.register_model("basket-classifier", "1", URI.replace("recommendation", "b"))

    (put,) = fake.find("PUT", "/models/recommendation-model/versions/1")
    assert put.body["properties"]["modelUri"].endswith(
        "/datastores/workspaceblobstore/paths/models/recommendation/1/"
    )
    assert put.body["properties"]["description"] == "v1"
    assert (first.name, first.version, first.description) == ("recommendation-model", "1", "v1")
    assert first.created_at is not None

    listed = sorted((m.name, m.version) for m in await backend.list_models())
    assert listed == [
        ("basket-classifier", "1"),
        ("recommendation-model", "1"),
        ("recommendation-model", "2"),
    ]
    found = await backend.get_model("recommendation-model", "2")
    assert found.path.endswith("/paths/models/recommendation/2/")
    with pytest.raises(NotFoundError, match="Model 'recommendation-model:3' is not registered"):
        await backend.get_model("recommendation-model", "3")


async def test_a_version_keeps_its_path(backend: AzureMLBackend) -> None:
    await backend.register_model("recommendation-model", "1", URI + "1/")
    with pytest.raises(ConflictError, match="path cannot be changed"):
        await backend.register_model("recommendation-model", "1", URI + "other/")


async def test_a_missing_local_path_is_refused_before_any_upload(
    backend: AzureMLBackend, fake: FakeArm, tmp_path: object
) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        await backend.register_model("recommendation-model", "1", f"{tmp_path}/nothing-here")
    assert not fake.find("PUT", "/models/recommendation-model/versions/1")


def test_settings_come_from_the_mapping_then_the_environment() -> None:
    environ = {
        "AZURE_SUBSCRIPTION_ID": "sub-env",
        "AZURE_RESOURCE_GROUP": "rg-env",
        "AZUREML_WORKSPACE_NAME": "mlw-env",
    }
    settings = AzureSettings.from_mapping({"workspace_name": "mlw-config"}, environ)
    assert settings.subscription_id == "sub-env"
    assert settings.resource_group == "rg-env"
    assert settings.workspace_name == "mlw-config"
    assert settings.deployment_id("ep", "blue") == (
        "/subscriptions/sub-env/resourceGroups/rg-env/providers/"
        "Microsoft.MachineLearningServices/workspaces/mlw-config/onlineEndpoints/ep/deployments/blue"
    )


def test_missing_settings_are_named_with_their_variables() -> None:
    with pytest.raises(ValidationError) as missing:
        AzureSettings.from_mapping({"subscription_id": "s"}, {})
    assert "resource_group, workspace_name" in missing.value.message
    assert "AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME" in missing.value.message


def test_bad_numbers_are_refused() -> None:
    base = {"subscription_id": "s", "resource_group": "r", "workspace_name": "w"}
    with pytest.raises(ValidationError, match="'operation_timeout' .* positive number"):
        AzureSettings.from_mapping({**base, "operation_timeout": "soon"}, {})


def test_the_registry_builds_the_azure_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "sub")
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", "rg")
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", "mlw")
    backend = create_backend("azure", {"progress_interval": 2})
    assert isinstance(backend, AzureMLBackend)
    assert backend.settings.workspace_name == "mlw"
    assert backend.settings.progress_interval == 2
    assert backend.name == "azure" and not backend.loopback_only
    assert (
        create_azure_backend(
            {"subscription_id": "a", "resource_group": "b", "workspace_name": "c"}, environ={}
        ).settings.subscription_id
        == "a"
    )


def test_unknown_keys_are_refused_by_name() -> None:
    base = {"subscription_id": "s", "resource_group": "r", "workspace_name": "w"}
    with pytest.raises(ValidationError) as typo:
        AzureSettings.from_mapping({**base, "workspace": "mlw"}, {})
    assert "Unknown setting 'workspace' of the azure backend." in typo.value.message
    assert "Did you mean 'workspace_name'?" in typo.value.message
    assert "log_analytics_workspace_id" in typo.value.message  # the known ones are listed
    with pytest.raises(ValidationError, match="Unknown setting 'colour'") as unrelated:
        create_backend("azure", {**base, "colour": "blue"})
    assert "Did you mean" not in unrelated.value.message


def test_the_log_analytics_workspace_comes_from_the_mapping_then_the_environment() -> None:
    base = {"subscription_id": "s", "resource_group": "r", "workspace_name": "w"}
    environ = {"AZURE_LOG_ANALYTICS_WORKSPACE_ID": "env-workspace"}
    assert AzureSettings.from_mapping(base, {}).log_analytics_workspace_id is None
    assert AzureSettings.from_mapping(base, environ).log_analytics_workspace_id == "env-workspace"
    chosen = AzureSettings.from_mapping(
        {**base, "log_analytics_workspace_id": "config-workspace"}, environ
    )
    assert chosen.log_analytics_workspace_id == "config-workspace"
    sovereign = AzureSettings.from_mapping(
        {**base, "log_analytics_endpoint": "https://api.loganalytics.azure.cn"}, {}
    )
    assert sovereign.log_analytics_endpoint == "https://api.loganalytics.azure.cn"


async def test_archive_and_restore_are_refused_clearly_and_send_nothing(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    await backend.register_model("recommendation-model", "1", URI + "1/")
    before = len(fake.calls)
    for archived in (True, False):
        with pytest.raises(FlightdeckError, match="not supported by Flightdeck on Azure yet"):
            await backend.set_model_archived("recommendation-model", "1", archived=archived)
    assert len(fake.calls) == before
