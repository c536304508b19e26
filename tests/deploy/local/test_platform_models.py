"""Registered models: create/list/show semantics, immutable copies, and deployments of
``azureml:name:version`` laid out under AZUREML_MODEL_DIR as Azure lays them out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from deploy.errors import ConflictError, NotFoundError, ValidationError
from deploy.local.platform import Platform
from deploy.types import EndpointSpec, ModelRef
from tests.deploy.local.platform_kit import (
    Progress,
    deployment_spec,
    echo_code,
    model_folder,
    running_platform,
    score,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=30)]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models-home")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(home: Path) -> AsyncIterator[Platform]:
    async with running_platform(home) as started:
        yield started


async def test_register_a_folder_list_and_show(
    platform: Platform, home: Path, tmp_path: Path
) -> None:
    source = model_folder(tmp_path / "model", {"weights.bin": "v1", "meta/info.txt": "i"})
    model = await platform.register_model(
        "recommendation-model", "1", str(source), description="first"
    )
    assert (model.name, model.version, model.description) == ("recommendation-model", "1", "first")
    assert model.path == str(home / "models" / "recommendation-model" / "1" / "model")
    assert (Path(model.path) / "meta" / "info.txt").read_text() == "i"
    assert model.created_at is not None
    # The registered copy does not follow later edits of the source.
    (source / "weights.bin").write_text("edited")
    assert (Path(model.path) / "weights.bin").read_text() == "v1"
    assert await platform.get_model("recommendation-model", "1") == model
    assert model in await platform.list_models()


async def test_register_a_single_file(platform: Platform, tmp_path: Path) -> None:
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"onnx")
    model = await platform.register_model("single-file-model", "3", str(weights))
    assert Path(model.path).name == "model.onnx"
    assert _read(model.path) == b"onnx"


async def test_versions_never_change(platform: Platform, tmp_path: Path) -> None:
    source = model_folder(tmp_path / "model")
    first = await platform.register_model("frozen-model", "1", str(source))
    other = model_folder(tmp_path / "other", {"different.bin": "x"})
    with pytest.raises(ConflictError, match="frozen-model:1 is registered already"):
        await platform.register_model("frozen-model", "1", str(other))
    assert await platform.get_model("frozen-model", "1") == first
    assert _names(first.path) == ["sub", "weights.bin"]


async def test_bad_model_requests_change_nothing(
    platform: Platform, home: Path, tmp_path: Path
) -> None:
    before = await platform.list_models()
    folders = sorted(p.name for p in (home / "models").iterdir())
    source = model_folder(tmp_path / "model")
    cases = [
        (("-bad-name", "1", str(source)), "Invalid model name '-bad-name'"),
        (("has/slash", "1", str(source)), "Invalid model name"),
        (("good-name", "../1", str(source)), "Invalid model version"),
        (("good-name", "1", str(tmp_path / "missing")), "Model path .*missing' does not exist"),
    ]
    for (name, version, path), message in cases:
        with pytest.raises(ValidationError, match=message):
            await platform.register_model(name, version, path)
    assert await platform.list_models() == before
    assert sorted(p.name for p in (home / "models").iterdir()) == folders
    with pytest.raises(NotFoundError, match=r"Model frozen-model:9 is not registered.*: 1\)"):
        await platform.get_model("frozen-model", "9")


async def test_a_deployment_of_a_registered_model_uses_the_registered_copy(
    platform: Platform, home: Path, tmp_path: Path
) -> None:
    source = model_folder(tmp_path / "model-v2", {"weights.bin": "v2"})
    await platform.register_model("registered-model", "2", str(source))
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-registered"))
    spec = deployment_spec(
        "ep-registered",
        "blue",
        echo_code(tmp_path / "code"),
        model=ModelRef(name="registered-model", version="2"),
    )
    progress = Progress()
    deployment = await platform.create_or_update_deployment(spec, progress=progress)
    assert deployment.model == "registered-model:2"
    status, body, _ = await score(platform, "ep-registered", deployment="blue")
    assert status == 200
    # AZUREML_MODEL_DIR is the registered version's folder; the model keeps its name in it.
    assert body["model_dir"] == str(home / "models" / "registered-model" / "2")
    assert body["model_files"] == ["model-v2/weights.bin"]
    assert "Using registered model registered-model:2" in progress.text()
    assert not any(line.startswith("Copying model") for line in progress.lines)
    # Nothing was copied into the deployment's own folder.
    generation = home / "deployments" / "ep-registered" / "blue" / "1"
    assert sorted(p.name for p in generation.iterdir()) == ["code", "environment.json"]


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def _names(folder: str) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir())


async def test_archived_versions_are_flagged_and_still_deploy(
    platform: Platform, home: Path, tmp_path: Path
) -> None:
    for version in ("1", "2"):
        source = model_folder(tmp_path / f"m{version}", {"weights.bin": version})
        await platform.register_model("archivable-model", version, str(source))
    await platform.set_model_archived("archivable-model", "1", archived=True)
    flags = {m.version: m.archived for m in await platform.list_models()
             if m.name == "archivable-model"}  # fmt: skip
    assert flags == {"1": True, "2": False}
    assert (await platform.get_model("archivable-model", "1")).archived
    # As on Azure, azureml:name:version of an archived version still resolves.
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-archived"))
    spec = deployment_spec(
        "ep-archived", "blue", echo_code(tmp_path / "code"),
        model=ModelRef(name="archivable-model", version="1"),
    )  # fmt: skip
    await platform.create_or_update_deployment(spec, progress=Progress())
    status, body, _ = await score(platform, "ep-archived", deployment="blue")
    assert status == 200
    assert body["model_dir"] == str(home / "models" / "archivable-model" / "1")
    await platform.set_model_archived("archivable-model", "1", archived=False)
    assert not (await platform.get_model("archivable-model", "1")).archived


async def test_archiving_a_whole_model_archives_every_version_until_it_is_restored(
    platform: Platform, tmp_path: Path
) -> None:
    for version in ("1", "2"):
        source = model_folder(tmp_path / f"w{version}", {"weights.bin": version})
        await platform.register_model("whole-model", version, str(source))
    await platform.set_model_archived("whole-model", None, archived=True)
    versions = [m for m in await platform.list_models() if m.name == "whole-model"]
    assert [m.archived for m in versions] == [True, True]
    # Azure refuses restoring one version of a model archived as a whole; nothing changes.
    with pytest.raises(ValidationError, match="archived as a whole"):
        await platform.set_model_archived("whole-model", "2", archived=False)
    assert (await platform.get_model("whole-model", "2")).archived
    await platform.set_model_archived("whole-model", None, archived=False)
    versions = [m for m in await platform.list_models() if m.name == "whole-model"]
    assert [m.archived for m in versions] == [False, False]


async def test_archiving_an_unknown_model_or_version_is_not_found(platform: Platform) -> None:
    with pytest.raises(NotFoundError, match="Model 'no-such-model' is not registered"):
        await platform.set_model_archived("no-such-model", None, archived=True)
    with pytest.raises(NotFoundError, match=r"whole-model:9 is not registered.*: 1, 2\)"):
        await platform.set_model_archived("whole-model", "9", archived=True)
