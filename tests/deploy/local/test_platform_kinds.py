"""Kinds the local platform cannot run are refused by name; settings it does not honour
are named in a warning; a Kubernetes deployment's memory limit is enforced.

The specs are the shapes of Microsoft's azureml-examples (cli/endpoints/online/triton/
single-model/create-managed-deployment.yaml, custom-container/tfserving/half-plus-two/
tfserving-deployment.yml, kubernetes/kubernetes-blue-deployment.yml and
kubernetes-endpoint.yml), loaded through azure-ai-ml as the CLI loads them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from deploy.errors import DeploymentFailedError, ValidationError
from deploy.local.platform import Platform
from deploy.specs import deployment_spec_from_yaml, endpoint_spec_from_yaml
from deploy.types import DeploymentSpec, EndpointSpec
from tests.deploy.local.platform_kit import (
    LIVENESS,
    READINESS,
    Progress,
    model_folder,
    processes_under,
    running_platform,
    score,
    wait_until,
    write_code,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=90)]

EP = "ep-kinds"

TRITON = """
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: blue
endpoint_name: ep-kinds
model:
  name: sample-densenet-onnx-model
  version: 1
  path: ./models
  type: triton_model
instance_count: 1
instance_type: Standard_NC6s_v3
"""

TFSERVING = """
$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
name: tfserving-deployment
endpoint_name: ep-kinds
model:
  name: tfserving-mounted
  version: 1
  path: ./half_plus_two
environment_variables:
  MODEL_BASE_PATH: /var/azureml-app/azureml-models/tfserving-mounted/1
  MODEL_NAME: half_plus_two
environment:
  image: docker.io/tensorflow/serving:latest
  inference_config:
    liveness_route:
      port: 8501
      path: /v1/models/half_plus_two
    readiness_route:
      port: 8501
      path: /v1/models/half_plus_two
    scoring_route:
      port: 8501
      path: /v1/models/half_plus_two:predict
instance_type: Standard_DS3_v2
instance_count: 1
"""

KUBERNETES = """
name: blue
type: kubernetes
endpoint_name: ep-kinds
model:
  path: ./model/
code_configuration:
  code: ./onlinescoring/
  scoring_script: score.py
environment:
  conda_file: ./conda.yml
  image: mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:latest
request_settings:
  request_timeout_ms: 3000
  max_concurrent_requests_per_instance: 1
resources:
  requests:
    cpu: "0.1"
    memory: "0.1Gi"
  limits:
    cpu: "0.2"
    memory: "{memory}"
app_insights_enabled: true
tags:
  tag1: deployment-tag1-value
instance_count: 1
scale_settings:
  type: default
"""

KUBERNETES_ENDPOINT = """
name: ep-kinds
compute: azureml:inferencecompute
auth_mode: Key
identity:
  type: system_assigned
tags:
  tag1: endpoint-tag1-value
"""

#: Allocates (and touches) ``allocate_mb`` MiB and holds it, as a leaking model would.
HUNGRY = """
import json
import time

_held = []


def init():
    print("hungry init")


def run(raw_data):
    size = int(json.loads(raw_data).get("allocate_mb", 0))
    if size:
        _held.append(b"\\x01" * (size * 2**20))
        time.sleep(30)
    return {"held_mb": sum(len(b) for b in _held) // 2**20}
"""


def _load(folder: Path, text: str, **values: Any) -> DeploymentSpec:
    data = yaml.safe_load(text.format(**values) if values else text)
    return deployment_spec_from_yaml(data, file=folder / "deployment.yml")


def _fast(spec: DeploymentSpec) -> DeploymentSpec:
    from dataclasses import replace

    return replace(spec, liveness_probe=LIVENESS, readiness_probe=READINESS)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kinds-home")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kinds-sources")
    model_folder(folder / "models", {"densenet_onnx/1/model.onnx": "onnx"})
    model_folder(folder / "half_plus_two", {"00000123/saved_model.pb": "pb"})
    model_folder(folder / "model", {"sklearn_regression_model.pkl": "pkl"})
    write_code(folder / "onlinescoring", HUNGRY)
    (folder / "conda.yml").write_text(
        "name: model-env\nchannels: [conda-forge]\ndependencies:\n  - python\n", encoding="utf-8"
    )
    return folder


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(home: Path) -> AsyncIterator[Platform]:
    async with running_platform(home) as started:
        await started.create_or_update_endpoint(EndpointSpec(name=EP))
        yield started


async def test_a_triton_deployment_is_refused_by_name(platform: Platform, sources: Path) -> None:
    spec = _load(sources, TRITON)
    assert spec.model is not None and spec.model.type == "triton_model"
    with pytest.raises(ValidationError) as refused:
        await platform.create_or_update_deployment(spec)
    text = refused.value.message
    assert "Deployment 'blue'" in text and "triton_model" in text
    for reason in ("no Docker", "no Triton", "no GPU", "Azure ML", "code_configuration"):
        assert reason in text, reason
    assert await platform.list_deployments(EP) == []


async def test_a_custom_container_is_refused_by_name(platform: Platform, sources: Path) -> None:
    spec = _load(sources, TFSERVING)
    with pytest.raises(ValidationError) as refused:
        await platform.create_or_update_deployment(spec)
    text = refused.value.message
    assert "Deployment 'tfserving-deployment'" in text
    assert "custom container" in text and "docker.io/tensorflow/serving:latest" in text
    assert "port 8501, path /v1/models/half_plus_two:predict" in text
    assert "no Docker" in text and "code_configuration" in text
    assert "code_configuration (code and scoring_script) is required" not in text
    assert await platform.list_deployments(EP) == []


async def test_an_endpoints_ignored_settings_are_named_on_create_and_update(
    platform: Platform, sources: Path
) -> None:
    spec = endpoint_spec_from_yaml(
        yaml.safe_load(KUBERNETES_ENDPOINT), file=sources / "endpoint.yml"
    )
    for _ in ("create", "update"):
        progress = Progress()
        await platform.create_or_update_endpoint(spec, progress=progress)
        warnings = [line for line in progress.lines if line.startswith("Warning:")]
        assert len(warnings) == 2, progress.lines
        assert "compute (azureml:inferencecompute) is not honoured" in warnings[0]
        assert "identity (type system_assigned) is not honoured" in warnings[1]
        assert "MSI_ENDPOINT" in warnings[1]


async def test_a_kubernetes_deployment_names_what_is_ignored_and_its_memory_limit_holds(
    platform: Platform, home: Path, sources: Path
) -> None:
    spec = _fast(_load(sources, KUBERNETES, memory="400Mi"))
    assert spec.deployment_type == "kubernetes"
    names = (
        "type: kubernetes",
        "resources.requests (cpu 0.1, memory 0.1Gi)",
        "app_insights_enabled (True)",
    )
    for _ in ("create", "update"):
        progress = Progress()
        await platform.create_or_update_deployment(spec, progress=progress)
        text = progress.text()
        for name in names:
            assert text.count(f"Warning: {name} is not honoured") == 1, (name, text)
        assert text.count("resources.limits.memory 400Mi: enforced") == 1
        assert text.count("resources.limits.cpu 0.2: enforced") == 1
        assert "resources.limits.cpu (0.2) is not honoured" not in text
    storage = await platform.get_logs(EP, "blue", lines=500, container="storage-initializer")
    assert "Warning: type: kubernetes is not honoured" in storage
    status, body, _ = await score(platform, EP, {"allocate_mb": 0}, deployment="blue")
    assert (status, body) == (200, {"held_mb": 0})
    # Past the limit the instance is killed and restarted, and its log says why.
    status, _, _ = await score(platform, EP, {"allocate_mb": 600}, deployment="blue")
    assert status != 200

    async def restarted_and_ready() -> bool:
        shown = await platform.get_deployment(EP, "blue")
        return shown.instances[0].restarts >= 1 and shown.ready_instances == 1

    await wait_until(restarted_and_ready, "the instance restarted after its memory limit")
    logs = await platform.get_logs(EP, "blue", lines=200)
    assert "exceeded its memory limit of 400Mi" in logs and "restart 1" in logs, logs
    status, body, _ = await score(platform, EP, {"allocate_mb": 0}, deployment="blue")
    assert (status, body) == (200, {"held_mb": 0})
    await platform.delete_deployment(EP, "blue")
    assert not processes_under(home)


async def test_a_memory_limit_below_what_the_server_needs_fails_the_create(
    platform: Platform, sources: Path
) -> None:
    spec = _fast(_load(sources, KUBERNETES, memory="20Mi"))
    with pytest.raises(DeploymentFailedError) as failed:
        await platform.create_or_update_deployment(spec)
    assert "exceeded its memory limit of 20Mi" in failed.value.message
    await platform.delete_deployment(EP, "blue")


@pytest.mark.parametrize("memory", ["lots", "-1Mi", "1Xi"])
async def test_a_memory_limit_that_is_not_a_quantity_is_refused(
    platform: Platform, sources: Path, memory: str
) -> None:
    spec = _load(sources, KUBERNETES, memory=memory)
    with pytest.raises(ValidationError, match=f"resources.limits.memory '{memory}' is not"):
        await platform.create_or_update_deployment(spec)
    assert await platform.list_deployments(EP) == []


async def test_a_managed_deployments_cloud_settings_are_named(sources: Path) -> None:
    from deploy.local.support import deployment_warnings

    text = TFSERVING.replace(
        "environment:\n",
        "egress_public_network_access: disabled\n"
        "data_collector:\n  collections:\n    model_inputs:\n      enabled: 'True'\n"
        "environment:\n",
        1,
    )
    lines = deployment_warnings(_load(sources, text))
    assert len(lines) == 3, lines
    assert lines[0].startswith("Warning: environment.image (docker.io/tensorflow/serving")
    assert lines[1].startswith("Warning: data_collector (collections) is not honoured")
    assert lines[2].startswith("Warning: egress_public_network_access (disabled) is not")
