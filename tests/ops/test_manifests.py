"""The image and the deploy manifests, checked offline: every Kubernetes resource against
Kubernetes' own schemas (kubernetes-validate, strict: an unknown field fails), the kustomize
files against what they name, the config the ConfigMap holds through Flightdeck's own loader,
and the Containerfile's promises (multi-stage, non-root, a HEALTHCHECK on /healthz).
No kustomize binary, cluster or container runtime is used."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from base.periodic import STOP_DEADLINE
from bot.config import load_settings
from bot.server import DRAIN_SECONDS
from tests.support.flightdeck_cli import REPO

OPS = REPO / "ops"
BASE = OPS / "kubernetes" / "base"
SOCKET = OPS / "kubernetes" / "overlays" / "socket-mode"
CONTAINERFILE = REPO / "Containerfile"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _base_resources() -> dict[tuple[str, str], dict[str, Any]]:
    kustomization = _documents(BASE / "kustomization.yaml")[0]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for doc in _documents(BASE / name):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml"),
    ids=lambda p: p.name,
)
def test_each_resource_is_valid_for_kubernetes(path: Path) -> None:
    version = kubernetes_validate.latest_version()
    for doc in _documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


def test_a_wrong_field_is_caught() -> None:
    """The check can fail: a probe with a misspelt field does not validate."""
    deployment = _base_resources()[("Deployment", "flightdeck")]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenessProbe"]["httpGet"]["paht"] = "/healthz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_the_base_is_two_probed_replicas_on_secrets_and_a_configmap() -> None:
    resources = _base_resources()
    assert set(resources) == {
        ("ServiceAccount", "flightdeck"),
        ("ConfigMap", "flightdeck-config"),
        ("Deployment", "flightdeck"),
        ("Service", "flightdeck"),
        ("PodDisruptionBudget", "flightdeck"),
    }
    deployment = resources[("Deployment", "flightdeck")]["spec"]
    assert deployment["replicas"] == 2
    pod = deployment["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert (
        container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    )
    secrets = {ref["secretRef"]["name"] for ref in container["envFrom"]}
    assert secrets == {"flightdeck-slack", "flightdeck-database"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The grace period covers the drain and the rollout engine's stop, plus the preStop sleep.
    assert pod["terminationGracePeriodSeconds"] >= DRAIN_SECONDS + STOP_DEADLINE + 5
    config = next(v for v in pod["volumes"] if v["name"] == "config")
    assert config["configMap"]["name"] == "flightdeck-config"
    labels = deployment["template"]["metadata"]["labels"]
    pdb = resources[("PodDisruptionBudget", "flightdeck")]["spec"]
    assert pdb["minAvailable"] == 1 and pdb["selector"]["matchLabels"].items() <= labels.items()
    service = resources[("Service", "flightdeck")]["spec"]
    assert service["selector"].items() <= labels.items()
    assert service["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_the_configmap_holds_a_config_flightdeck_loads(tmp_path: Path) -> None:
    data = _base_resources()[("ConfigMap", "flightdeck-config")]["data"]["flightdeck.yml"]
    config = tmp_path / "flightdeck.yml"
    config.write_text(data, encoding="utf-8")
    settings = load_settings(config, {})
    assert settings.backend.name == "azure"
    assert not re.search(r"xox[bap]-|password", data), "no secret in the ConfigMap"


def test_the_socket_mode_overlay_drops_the_service() -> None:
    kustomization = _documents(SOCKET / "kustomization.yaml")[0]
    assert kustomization["resources"] == ["../../base"]
    (patch,) = kustomization["patches"]
    target = (patch["target"]["kind"], patch["target"]["name"])
    assert target in _base_resources()
    (document,) = _documents(SOCKET / patch["path"])
    assert (
        document["$patch"] == "delete"
        and (document["kind"], document["metadata"]["name"]) == target
    )


def test_the_containerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = CONTAINERFILE.read_text(encoding="utf-8")
    stages = re.split(r"(?m)^FROM ", text)[1:]
    assert len(stages) == 2
    final = stages[-1]
    assert "pip install" not in final and "build" not in final.split("COPY --from=build")[0]
    user = re.search(r"(?m)^USER (\S+)", final)
    assert user is not None and user.group(1).split(":")[0] not in ("0", "root")
    health = re.search(r"(?ms)^HEALTHCHECK .*?CMD (\[.*?\])$", final)
    assert health is not None and "/healthz" in health.group(1)
    assert json.loads(re.search(r"(?m)^ENTRYPOINT (.*)$", final).group(1)) == ["flightdeck"]  # type: ignore[union-attr]


def test_the_container_app_uses_a_managed_identity_and_no_stored_secret() -> None:
    (app,) = _documents(OPS / "azure" / "containerapp.yaml")
    assert app["identity"]["type"] == "UserAssigned"
    for secret in app["properties"]["configuration"]["secrets"]:
        assert "value" not in secret and secret["keyVaultUrl"].startswith("https://")
    (container,) = app["properties"]["template"]["containers"]
    paths = {probe["type"]: probe["httpGet"]["path"] for probe in container["probes"]}
    assert paths == {"Liveness": "/healthz", "Readiness": "/readyz"}
    assert app["properties"]["template"]["scale"]["minReplicas"] == 2
