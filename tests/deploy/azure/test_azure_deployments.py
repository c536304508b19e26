"""Deployments on Azure: the seed's YAML as azure-ai-ml sends it, scale, failure, delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.azure import AzureMLBackend
from deploy.errors import ConflictError, DeploymentFailedError, NotFoundError, ValidationError
from deploy.specs import load_deployment_spec
from deploy.types import DeploymentSpec, EndpointSpec, EnvironmentSpec, ModelRef
from tests.support.fake_arm import FakeArm
from tests.support.seed import seed_deployment_yaml, seed_score_py

ENDPOINT = "product-recommender"
MODEL_URI = "azureml://datastores/workspaceblobstore/paths/models/recommendation/1/"


@pytest.fixture
def seed_spec(tmp_path: Path) -> DeploymentSpec:
    """The product brief's deployment.yml with its score.py, loaded as users load it."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text(seed_score_py())
    (tmp_path / "deployment.yml").write_text(seed_deployment_yaml())
    return load_deployment_spec(tmp_path / "deployment.yml")


@pytest.fixture
async def workspace(backend: AzureMLBackend, fake: FakeArm) -> FakeArm:
    """An endpoint, the seed's registered model and environment."""
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("recommendation-model", "1", MODEL_URI)
    await backend.register_model("recommendation-model", "2", MODEL_URI.replace("/1/", "/2/"))
    fake.ml.add_environment("recommendation-env", "1", "mcr.microsoft.com/azureml/minimal")
    fake.clear_calls()
    return fake


def simple_spec(code_dir: Path, name: str = "blue", **changes: object) -> DeploymentSpec:
    values: dict[str, object] = {
        "name": name,
        "endpoint_name": ENDPOINT,
        "model": ModelRef(name="recommendation-model", version="1"),
        "code_path": str(code_dir),
        "scoring_script": "score.py",
        "instance_count": 1,
        **changes,
    }
    return DeploymentSpec(**values)  # type: ignore[arg-type]


async def test_the_seed_deployment_is_a_default_scale_deployment_plus_an_autoscale_setting(
    backend: AzureMLBackend, workspace: FakeArm, seed_spec: DeploymentSpec
) -> None:
    fake = workspace
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    deployment = await backend.create_or_update_deployment(seed_spec, progress=progress)

    (put,) = fake.find("PUT", f"/onlineEndpoints/{ENDPOINT}/deployments/blue")
    props = put.body["properties"]
    assert put.body["sku"]["capacity"] == 3
    assert props["instanceType"] == "Standard_DS3_v2"
    assert props.get("scaleSettings", {"scaleType": "Default"})["scaleType"] == "Default"
    assert props["requestSettings"]["requestTimeout"] == "PT3S"
    assert props["requestSettings"]["maxConcurrentRequestsPerInstance"] == 50
    assert props["livenessProbe"]["initialDelay"] == "PT30S"
    assert props["livenessProbe"]["failureThreshold"] == 3
    assert props["model"].endswith("/models/recommendation-model/versions/1")
    assert props["environmentId"].endswith("/environments/recommendation-env/versions/1")
    assert props["codeConfiguration"]["scoringScript"] == "score.py"
    # The code folder was looked up by its hash, not found, uploaded, then registered.
    (lookup,) = [c for c in fake.find("GET", "/versions") if "/codes/" in c.path]
    assert lookup.query["hash"]
    assert fake.find("POST", "/startPendingUpload")
    assert [name for name in fake.ml.storage.uploads() if name.endswith("/score.py")]
    (code,) = [c for c in fake.calls if c.method == "PUT" and "/codes/" in c.path]
    assert props["codeConfiguration"]["codeId"].endswith(code.path)

    (setting,) = fake.find("PUT", "/autoscalesettings/product-recommender-blue-autoscale")
    deployment_id = fake.ml.deployments[ENDPOINT]["blue"]["id"]
    assert setting.body["properties"]["enabled"] is True
    assert setting.body["properties"]["targetResourceUri"] == deployment_id
    (profile,) = setting.body["properties"]["profiles"]
    assert profile["capacity"] == {"minimum": "2", "maximum": "10", "default": "3"}
    scale_out, scale_in = profile["rules"]
    assert scale_out["metricTrigger"]["metricName"] == "CpuUtilizationPercentage"
    assert scale_out["metricTrigger"]["metricResourceUri"] == deployment_id
    assert scale_out["metricTrigger"]["operator"] == "GreaterThan"
    assert scale_out["metricTrigger"]["threshold"] == 70
    assert scale_out["metricTrigger"]["timeWindow"] == "PT5M"
    assert scale_out["scaleAction"] == {
        "direction": "Increase",
        "type": "ChangeCount",
        "value": "1",
        "cooldown": "PT1M",
    }
    assert scale_in["metricTrigger"]["operator"] == "LessThan"
    assert scale_in["metricTrigger"]["threshold"] == 35
    assert scale_in["scaleAction"]["direction"] == "Decrease"
    assert scale_in["scaleAction"]["cooldown"] == "PT5M"

    assert deployment.instance_count == 3
    assert deployment.model == "recommendation-model:1"
    assert deployment.autoscale == seed_spec.autoscale
    assert deployment.request_settings == seed_spec.request_settings
    assert deployment.liveness_probe == seed_spec.liveness_probe
    assert lines[0] == "Creating deployment 'blue' of 'product-recommender' (Standard_DS3_v2 x 3)"
    again = await backend.get_deployment(ENDPOINT, "blue")
    assert again.autoscale == seed_spec.autoscale
    assert again.environment == "azureml:recommendation-env:1"
    assert again.readiness_probe == seed_spec.readiness_probe


async def test_an_update_without_scale_settings_removes_the_autoscale_setting(
    backend: AzureMLBackend, workspace: FakeArm, seed_spec: DeploymentSpec
) -> None:
    from dataclasses import replace

    await backend.create_or_update_deployment(seed_spec)
    assert workspace.monitor.autoscale
    updated = await backend.create_or_update_deployment(replace(seed_spec, autoscale=None))
    assert workspace.find("DELETE", "/autoscalesettings/product-recommender-blue-autoscale")
    assert workspace.monitor.autoscale == {}
    assert updated.autoscale is None
    assert (await backend.get_deployment(ENDPOINT, "blue")).autoscale is None


async def test_scale_sends_the_new_capacity_and_notes_an_overriding_autoscale_setting(
    backend: AzureMLBackend, workspace: FakeArm, seed_spec: DeploymentSpec
) -> None:
    await backend.create_or_update_deployment(seed_spec)
    lines: list[str] = []

    async def progress(line: str) -> None:
        lines.append(line)

    scaled = await backend.scale(ENDPOINT, "blue", 5, progress=progress)

    last = workspace.find("PUT", f"/onlineEndpoints/{ENDPOINT}/deployments/blue")[-1]
    assert last.body["sku"]["capacity"] == 5
    assert last.body["properties"]["model"].endswith("/recommendation-model/versions/1")
    assert scaled.instance_count == 5
    assert any("will override this count" in line for line in lines)


async def test_scale_out_of_bounds_is_refused_before_anything_is_sent(
    backend: AzureMLBackend, workspace: FakeArm, code_dir: Path
) -> None:
    await backend.create_or_update_deployment(simple_spec(code_dir))
    workspace.clear_calls()
    with pytest.raises(ValidationError, match="between 1 and 50"):
        await backend.scale(ENDPOINT, "blue", 51)
    assert workspace.calls == []


async def test_a_failed_new_deployment_reports_its_logs_and_is_kept_failed(
    backend: AzureMLBackend, workspace: FakeArm, code_dir: Path
) -> None:
    workspace.fail_next_deployment(
        ENDPOINT,
        "blue",
        message="User container has crashed or terminated.",
        log_lines=["Traceback (most recent call last):", "ModuleNotFoundError: No module named x"],
    )
    with pytest.raises(DeploymentFailedError) as failure:
        await backend.create_or_update_deployment(simple_spec(code_dir))

    assert "Deployment 'blue' of 'product-recommender' failed" in failure.value.message
    assert "User container has crashed or terminated." in failure.value.message
    assert "[inference-server] ModuleNotFoundError: No module named x" in failure.value.log_lines
    assert any(line.startswith("[storage-initializer]") for line in failure.value.log_lines)
    # As Azure keeps it: Failed, so that get-logs still shows why until it is fixed or deleted.
    assert not workspace.find("DELETE", f"/onlineEndpoints/{ENDPOINT}/deployments/blue")
    [kept] = await backend.list_deployments(ENDPOINT)
    assert (kept.name, kept.provisioning_state) == ("blue", "Failed")


async def test_a_failed_update_keeps_the_deployment(
    backend: AzureMLBackend, workspace: FakeArm, code_dir: Path
) -> None:
    await backend.create_or_update_deployment(simple_spec(code_dir))
    workspace.fail_next_deployment(ENDPOINT, "blue", message="Probe failed.", log_lines=["boom"])
    new_model = ModelRef(name="recommendation-model", version="2")
    with pytest.raises(DeploymentFailedError, match="Probe failed"):
        await backend.create_or_update_deployment(simple_spec(code_dir, model=new_model))
    assert not workspace.find("DELETE", "/deployments/blue")
    assert [d.name for d in await backend.list_deployments(ENDPOINT)] == ["blue"]


async def test_missing_quota_is_a_clear_error_and_creates_nothing(
    backend: AzureMLBackend, workspace: FakeArm, code_dir: Path
) -> None:
    workspace.ml.quota_cores = 8
    with pytest.raises(ValidationError) as refused:
        await backend.create_or_update_deployment(simple_spec(code_dir, instance_count=3))
    assert "Not enough quota available for Standard_DS3_v2" in refused.value.message
    assert "smaller instance_type or instance_count" in refused.value.message
    assert workspace.ml.deployments[ENDPOINT] == {}


async def test_a_model_that_is_not_registered_is_named(
    backend: AzureMLBackend, workspace: FakeArm, code_dir: Path
) -> None:
    with pytest.raises(NotFoundError, match="Model recommendation-model:9 was not found"):
        await backend.create_or_update_deployment(
            simple_spec(code_dir, model=ModelRef(name="recommendation-model", version="9"))
        )


async def test_delete_is_refused_while_the_deployment_takes_traffic(
    backend: AzureMLBackend, workspace: FakeArm, seed_spec: DeploymentSpec
) -> None:
    await backend.create_or_update_deployment(seed_spec)
    await backend.set_traffic(ENDPOINT, {"blue": 100})
    workspace.clear_calls()
    with pytest.raises(ConflictError, match="takes 100% of live traffic"):
        await backend.delete_deployment(ENDPOINT, "blue")
    assert not workspace.find("DELETE", "/deployments/blue")

    await backend.set_traffic(ENDPOINT, {})
    await backend.delete_deployment(ENDPOINT, "blue")
    assert workspace.find("DELETE", f"/onlineEndpoints/{ENDPOINT}/deployments/blue")
    assert workspace.find("DELETE", "/autoscalesettings/product-recommender-blue-autoscale")
    with pytest.raises(NotFoundError, match="Deployment 'blue' does not exist"):
        await backend.get_deployment(ENDPOINT, "blue")


async def test_logs_of_both_containers(
    backend: AzureMLBackend, workspace: FakeArm, code_dir: Path
) -> None:
    await backend.create_or_update_deployment(simple_spec(code_dir))
    server = await backend.get_logs(ENDPOINT, "blue", lines=2)
    storage = await backend.get_logs(ENDPOINT, "blue", lines=5, container="storage-initializer")

    first, second = workspace.find("POST", "/deployments/blue/getLogs")
    assert first.body == {"containerType": "InferenceServer", "tail": 2}
    assert second.body == {"containerType": "StorageInitializer", "tail": 5}
    assert server.splitlines() == [
        "Users's init has completed successfully",
        "Listening at: http://0.0.0.0:31311",
    ]
    assert "Model download complete." in storage


async def test_a_clone_reuses_the_uploaded_code_with_another_model(
    backend: AzureMLBackend, workspace: FakeArm, code_dir: Path
) -> None:
    blue = await backend.create_or_update_deployment(simple_spec(code_dir, instance_count=2))
    spec = await backend.clone_deployment_spec(
        ENDPOINT, "blue", name="green", model=ModelRef(name="recommendation-model", version="2")
    )
    workspace.clear_calls()
    green = await backend.create_or_update_deployment(spec)

    (put,) = workspace.find("PUT", f"/onlineEndpoints/{ENDPOINT}/deployments/green")
    assert put.body["properties"]["codeConfiguration"]["codeId"] == blue.code_path
    assert put.body["properties"]["model"].endswith("/recommendation-model/versions/2")
    assert put.body["sku"]["capacity"] == 2
    assert not [c for c in workspace.calls if "/codes/" in c.path]
    assert green.model == "recommendation-model:2"


async def test_an_image_and_conda_file_become_an_anonymous_environment(
    backend: AzureMLBackend, workspace: FakeArm, code_dir: Path
) -> None:
    conda = {"name": "env", "dependencies": ["python=3.11", {"pip": ["onnxruntime"]}]}
    environment = EnvironmentSpec(image="mcr.microsoft.com/azureml/minimal", conda_file=conda)
    deployment = await backend.create_or_update_deployment(
        simple_spec(code_dir, environment=environment)
    )
    (env_put,) = [c for c in workspace.calls if c.method == "PUT" and "/environments/" in c.path]
    assert env_put.body["properties"]["image"] == "mcr.microsoft.com/azureml/minimal"
    assert "onnxruntime" in env_put.body["properties"]["condaFile"]
    (put,) = workspace.find("PUT", "/deployments/blue")
    assert put.body["properties"]["environmentId"] == env_put.path
    assert deployment.environment_spec is not None
    registered = deployment.environment_spec.registered
    assert registered is not None and registered.startswith("CliV2AnonymousEnvironment:")


async def test_a_deployment_on_a_missing_endpoint_is_not_found(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    with pytest.raises(NotFoundError, match="Endpoint 'product-recommender' does not exist"):
        await backend.create_or_update_deployment(simple_spec(code_dir))
    with pytest.raises(NotFoundError, match="Endpoint 'product-recommender' does not exist"):
        await backend.list_deployments(ENDPOINT)
