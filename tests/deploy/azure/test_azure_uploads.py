"""Uploads: a model from a local path, a code folder, through the workspace's storage account."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.azure import AzureMLBackend
from deploy.errors import PermissionDeniedError
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm

ENDPOINT = "product-recommender"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.onnx").write_bytes(b"\x08\x07onnx-weights")
    (folder / "labels.txt").write_text("buy\nskip\n")
    return folder


def model_puts(fake: FakeArm, name: str) -> list[dict[str, object]]:
    return [c.body for c in fake.find("PUT", "") if f"/models/{name}/versions/" in c.path]


async def test_a_local_model_is_uploaded_with_the_datastore_key_then_registered(
    backend: AzureMLBackend, fake: FakeArm, model_dir: Path
) -> None:
    model = await backend.register_model("recommender", "1", str(model_dir))

    assert fake.find("GET", "/datastores/workspaceblobstore")
    assert fake.find("POST", "/datastores/workspaceblobstore/listSecrets")
    storage = fake.ml.storage
    uploaded = storage.uploads()
    assert sorted(Path(name).name for name in uploaded) == ["labels.txt", "weights.onnx"]
    assert all(name.startswith(f"{storage.container}/LocalUpload/") for name in uploaded)
    puts = [c for c in storage.requests if c.method == "PUT"]
    assert all(c.headers["authorization"].startswith("SharedKey stflightdeck:") for c in puts)
    # The upload is confirmed on the first file's metadata, then the version is registered.
    assert any(c.query.get("comp") == "metadata" for c in puts)
    (body,) = model_puts(fake, "recommender")
    uri = body["properties"]["modelUri"]  # type: ignore[index]
    assert uri.startswith("azureml://") and "/workspaceblobstore/paths/LocalUpload/" in uri
    assert uri.rstrip("/").endswith("/model")
    assert (model.name, model.version) == ("recommender", "1")


async def test_the_same_model_folder_again_is_not_uploaded_again(
    backend: AzureMLBackend, fake: FakeArm, model_dir: Path
) -> None:
    await backend.register_model("recommender", "1", str(model_dir))
    first = fake.ml.storage.uploads()
    await backend.register_model("recommender", "2", str(model_dir))

    assert fake.ml.storage.uploads() == first  # found by its content hash
    one, two = model_puts(fake, "recommender")
    assert one["properties"]["modelUri"] == two["properties"]["modelUri"]  # type: ignore[index]
    assert [m.version for m in await backend.list_models()] == ["1", "2"]


async def test_a_code_folder_is_uploaded_once_and_found_by_hash_afterwards(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("rec", "1", "azureml://datastores/workspaceblobstore/paths/m/")

    def spec(name: str) -> DeploymentSpec:
        return DeploymentSpec(
            name=name,
            endpoint_name=ENDPOINT,
            model=ModelRef(name="rec", version="1"),
            code_path=str(code_dir),
            scoring_script="score.py",
        )

    await backend.create_or_update_deployment(spec("blue"))
    (pending,) = fake.find("POST", "/startPendingUpload")
    uploaded = fake.ml.storage.uploads()
    assert [Path(name).name for name in uploaded] == ["score.py"]
    sas = [c for c in fake.ml.storage.requests if c.method == "PUT"]
    assert all("sig" in c.query and "authorization" not in c.headers for c in sas)
    (code_put,) = [c for c in fake.calls if c.method == "PUT" and "/codes/" in c.path]
    assert code_put.body["properties"]["properties"]["hash_sha256"]

    await backend.create_or_update_deployment(spec("green"))
    assert len(fake.find("POST", "/startPendingUpload")) == 1
    assert fake.ml.storage.uploads() == uploaded
    blue, green = (c for c in fake.find("PUT", "") if "/deployments/" in c.path)
    code_ids = [d.body["properties"]["codeConfiguration"]["codeId"] for d in (blue, green)]
    assert code_ids[0] == code_ids[1] and code_ids[0].endswith(code_put.path)
    assert pending.path.startswith(code_put.path)


async def test_an_identity_based_datastore_uploads_with_flightdeck_s_identity(
    backend: AzureMLBackend, fake: FakeArm, model_dir: Path
) -> None:
    fake.ml.storage.identity_based = True
    await backend.register_model("recommender", "1", str(model_dir))
    assert not fake.find("POST", "/listSecrets")
    puts = [c for c in fake.ml.storage.requests if c.method == "PUT"]
    assert puts and all(c.headers["authorization"].startswith("Bearer ") for c in puts)


async def test_without_a_blob_data_role_the_refusal_names_the_role_and_the_account(
    backend: AzureMLBackend, fake: FakeArm, model_dir: Path
) -> None:
    fake.ml.storage.identity_based = True
    fake.ml.storage.data_contributor = False
    with pytest.raises(PermissionDeniedError) as denied:
        await backend.register_model("recommender", "1", str(model_dir))
    message = denied.value.message
    assert "Storage Blob Data Contributor" in message
    assert "'stflightdeck'" in message
    assert "AuthorizationPermissionMismatch" in message
    assert not model_puts(fake, "recommender")
    assert not fake.ml.storage.uploads()

    fake.ml.storage.data_contributor = True  # the role was granted
    model = await backend.register_model("recommender", "1", str(model_dir))
    assert model.version == "1"
