"""Spec loading: Azure ML v2 YAML through azure-ai-ml's loaders, with the seed's YAML as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.errors import SpecError
from deploy.specs import load_deployment_spec, load_endpoint_spec
from deploy.types import AutoscalePolicy, ModelRef
from tests.support.seed import seed_deployment_yaml, seed_endpoint_yaml


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    """The brief's endpoint.yml and deployment.yml, with the ./src folder they name."""
    (tmp_path / "endpoint.yml").write_text(seed_endpoint_yaml())
    (tmp_path / "deployment.yml").write_text(seed_deployment_yaml())
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text("def init():\n    pass\n")
    return tmp_path


def test_seed_endpoint_loads_as_written(seed_dir: Path) -> None:
    spec = load_endpoint_spec(seed_dir / "endpoint.yml")
    assert spec.name == "product-recommender"
    assert spec.auth_mode == "key"
    assert spec.tags == {"team": "recommendations", "environment": "production"}
    assert spec.description == "Real-time product recommendation service"


def test_seed_deployment_loads_as_written(seed_dir: Path) -> None:
    spec = load_deployment_spec(seed_dir / "deployment.yml")
    assert (spec.name, spec.endpoint_name) == ("blue", "product-recommender")
    assert spec.model == ModelRef(name="recommendation-model", version="1")
    assert spec.code_path == str(seed_dir / "src")
    assert spec.scoring_script == "score.py"
    assert spec.instance_count == 3
    assert spec.request_settings.request_timeout_ms == 3000
    assert spec.request_settings.max_concurrent_requests_per_instance == 50
    assert spec.liveness_probe.initial_delay == 30
    assert spec.liveness_probe.failure_threshold == 3
    assert spec.readiness_probe.timeout == 5
    assert spec.environment is not None
    assert spec.environment.registered == "recommendation-env:1"
    # The part Azure rejects for managed endpoints became Flightdeck's own policy.
    assert spec.autoscale == AutoscalePolicy(
        min_instances=2,
        max_instances=10,
        target_utilization_percentage=70,
        polling_interval=60,
        scale_down_delay=300,
    )


def test_relative_paths_resolve_against_the_yaml_folder(
    seed_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    model = seed_dir / "model"
    model.mkdir()
    (model / "model.onnx").write_bytes(b"x")
    spec = load_deployment_spec(seed_dir / "deployment.yml", overrides=["model={path: ./model}"])
    assert spec.model is not None and spec.model.path == str(model)
    assert spec.code_path == str(seed_dir / "src")


def test_set_overrides_apply_before_loading(seed_dir: Path) -> None:
    spec = load_deployment_spec(
        seed_dir / "deployment.yml",
        overrides=["instance_count=5", "scale_settings.max_instances=20"],
    )
    assert spec.instance_count == 5
    assert spec.autoscale is not None and spec.autoscale.max_instances == 20


@pytest.mark.parametrize(
    ("overrides", "key", "reason"),
    [
        (["instance_count=abc"], "instance_count", "Not a valid integer"),
        (["request_settings.foo=1"], "request_settings.foo", "Unknown field"),
        (["name=1bad"], "name", "start with a letter"),
        (["instance_count=51"], "instance_count", "between 1 and 50"),
        (["scale_settings.max_instances=1"], "scale_settings.max_instances", "between min"),
        (["scale_settings.type=fancy"], "scale_settings.type", "not supported"),
        (["scale_settings.bogus=1"], "scale_settings.bogus", "unknown key"),
        (["code_configuration.scoring_script=nope.py"], "scoring_script", "is not a file"),
        (["code_configuration.code=./nope"], "code_configuration.code", "does not exist"),
        (["model=azureml:no-version"], "model", "must name a version"),
    ],
)
def test_bad_deployment_yaml_names_file_key_and_reason(
    seed_dir: Path, overrides: list[str], key: str, reason: str
) -> None:
    with pytest.raises(SpecError) as info:
        load_deployment_spec(seed_dir / "deployment.yml", overrides=overrides)
    message = str(info.value)
    assert message.startswith(str(seed_dir / "deployment.yml"))
    assert key in message
    assert reason in message


def test_missing_model_path_is_named(seed_dir: Path) -> None:
    with pytest.raises(SpecError, match=r"model.*does not exist"):
        load_deployment_spec(seed_dir / "deployment.yml", overrides=["model={path: ./absent}"])


def test_bad_endpoint_yaml(tmp_path: Path) -> None:
    (tmp_path / "endpoint.yml").write_text("name: product-recommender\nauth_mode: keyy\n")
    with pytest.raises(SpecError, match=r"endpoint.yml: auth_mode: .*keyy"):
        load_endpoint_spec(tmp_path / "endpoint.yml")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "endpoint.yml").write_text("name: [\n")
    with pytest.raises(SpecError, match=r"endpoint.yml: .*line 2"):
        load_endpoint_spec(tmp_path / "endpoint.yml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="absent.yml: file not found"):
        load_endpoint_spec(tmp_path / "absent.yml")
