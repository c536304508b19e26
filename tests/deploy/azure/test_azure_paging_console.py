"""Lists in pages, ARM throttling, key regeneration's keyValue, and the SDK's console noise."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from deploy.azure import AzureMLBackend
from deploy.errors import BackendUnavailableError
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm

ENDPOINT = "product-recommender"
MODEL_URI = "azureml://datastores/workspaceblobstore/paths/models/{}/"


def paged(fake: FakeArm, suffix: str) -> list[str]:
    """The ``$skipToken`` of each follow-up request for a list ending with ``suffix``."""
    return [c.query["$skiptoken"] for c in fake.find("GET", suffix) if "$skiptoken" in c.query]


def spec(code_dir: Path, name: str, **changes: object) -> DeploymentSpec:
    values: dict[str, object] = {
        "name": name,
        "endpoint_name": ENDPOINT,
        "model": ModelRef(name="rec", version="1"),
        "code_path": str(code_dir),
        "scoring_script": "score.py",
        **changes,
    }
    return DeploymentSpec(**values)  # type: ignore[arg-type]


async def test_every_list_is_read_to_its_last_page(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    for name in ("product-recommender", "fraud-scorer", "churn-predictor"):
        await backend.create_or_update_endpoint(EndpointSpec(name=name))
    for version in ("1", "2", "3"):
        await backend.register_model("rec", version, MODEL_URI.format(version))
    await backend.register_model("other", "1", MODEL_URI.format("o"))
    await backend.register_model("third", "1", MODEL_URI.format("t"))
    for name in ("blue", "green", "red"):
        await backend.create_or_update_deployment(spec(code_dir, name))
    fake.clear_calls()

    assert len(await backend.list_endpoints()) == 3
    assert paged(fake, "/onlineEndpoints") == ["2"]
    assert [d.name for d in await backend.list_deployments(ENDPOINT)] == ["blue", "green", "red"]
    assert paged(fake, f"/onlineEndpoints/{ENDPOINT}/deployments") == ["2"]
    models = {(m.name, m.version) for m in await backend.list_models()}
    assert models == {("rec", "1"), ("rec", "2"), ("rec", "3"), ("other", "1"), ("third", "1")}
    assert paged(fake, "/models") == ["2"]
    assert paged(fake, "/models/rec/versions") == ["2"]


async def test_a_code_version_on_a_later_page_is_found_by_hash(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path, tmp_path: Path
) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("rec", "1", MODEL_URI.format("1"))
    await backend.create_or_update_deployment(spec(code_dir, "blue"))
    fake.ml.page_size = 1
    # Two more code versions with the same content: the look-up by hash answers in pages.
    existing = next(iter(fake.ml.assets["codes"].values()))
    for extra in ("copy-a", "copy-b"):
        fake.ml.assets["codes"][extra] = {"1": existing["1"]}
    uploads = fake.ml.storage.uploads()
    await backend.create_or_update_deployment(spec(code_dir, "green"))
    assert fake.ml.storage.uploads() == uploads
    assert len(fake.find("POST", "/startPendingUpload")) == 1


async def test_throttled_requests_are_retried_after_the_wait_azure_asks_for(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    fake.ml.throttle.every = 0  # only the two below
    before = len(fake.ml.throttle.throttled)
    fake.throttle.waits.clear()
    fake.ml.throttle.next(2)
    assert [e.name for e in await backend.list_endpoints()] == [ENDPOINT]
    assert len(fake.ml.throttle.throttled) == before + 2
    assert fake.throttle.waits == [1.0, 1.0]


async def test_throttling_that_does_not_stop_is_reported_as_such(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    fake.ml.throttle.next(50)
    with pytest.raises(BackendUnavailableError, match="throttling"):
        await backend.list_endpoints()


async def test_key_regeneration_names_the_key_it_replaces(
    backend: AzureMLBackend, fake: FakeArm
) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    before = await backend.get_credentials(ENDPOINT)
    after = await backend.regenerate_keys(ENDPOINT, key_type="secondary")
    (sent,) = fake.find("POST", "/regenerateKeys")
    assert sent.body == {"keyType": "Secondary", "keyValue": before.secondary_key}
    assert after.secondary_key != before.secondary_key
    assert after.primary_key == before.primary_key


def test_the_fake_refuses_a_stale_key_value(fake: FakeArm) -> None:
    from tests.support.fake_arm_http import Call

    fake.ml.endpoints[ENDPOINT] = {"properties": {"authMode": "Key"}}
    fake.ml.keys[ENDPOINT] = {"primaryKey": "current", "secondaryKey": "other"}
    path = f"{fake.workspace_id}/onlineEndpoints/{ENDPOINT}/regenerateKeys"
    call = Call("POST", f"https://management.azure.com{path}", "management.azure.com", path,
                {}, {}, {"keyType": "Primary", "keyValue": "stale"})  # fmt: skip
    refused = fake.ml.handle(call)
    assert refused.status == 400
    assert "keyValue does not match" in refused.body["error"]["message"]
    assert fake.ml.keys[ENDPOINT]["primaryKey"] == "current"


async def test_the_sdk_prints_nothing_and_its_warnings_reach_the_logs(
    backend: AzureMLBackend,
    fake: FakeArm,
    code_dir: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from azure.ai.ml import _utils
    from azure.ai.ml._utils._logger_utils import initialize_logger_info

    # What importing azure.ai.ml does: a stderr handler at INFO on its logger (bound to the
    # stderr of this test, so that the capture sees whatever it would print).
    initialize_logger_info(logging.getLogger("azure.ai.ml"), terminator="\n")
    assert _utils is not None
    fake.lro_polls = 3
    caplog.set_level(logging.INFO)

    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("rec", "1", MODEL_URI.format("1"))
    await backend.create_or_update_deployment(
        spec(code_dir, "blue", instance_type="Standard_DS2_v2")
    )

    out, err = capfd.readouterr()
    assert out == ""  # no poll dots
    assert "Check: endpoint" not in err
    assert err.strip() == ""
    logged = [r for r in caplog.records if r.name.startswith("azure.ai.ml")]
    assert not [r for r in logged if "Check: endpoint" in r.getMessage()]
    # A real warning of the SDK still reaches Flightdeck's logging.
    assert any("may be too small" in r.getMessage() for r in logged if r.levelno == logging.WARNING)
