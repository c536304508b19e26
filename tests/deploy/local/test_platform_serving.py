"""Serving as Azure does it: instances, AZUREML_MODEL_DIR layout, environment, WORKER_COUNT,
copies of code and model, progress, logs, credentials, request_settings at the scoring URI
(408, 429). Real Router, real azmlinfsrv."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp
import psutil
import pytest
import pytest_asyncio

from deploy.errors import NotFoundError, SpecError
from deploy.local.platform import Platform
from deploy.types import EndpointSpec, EnvironmentSpec, ModelRef, ProbeSettings, RequestSettings
from samples.scripts import slow_score
from tests.deploy.local.platform_kit import (
    STATUS,
    Progress,
    deployment_spec,
    echo_code,
    model_folder,
    processes_under,
    running_platform,
    score,
    wait_for,
    write_code,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow(budget=30)]

#: A slow script keeps its one sync worker busy, probes wait behind the requests: a probe
#: timeout above what the tests hold keeps the instance in rotation meanwhile.
PATIENT = ProbeSettings(initial_delay=0, period=0.5, timeout=8, failure_threshold=3)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving-home")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(home: Path) -> AsyncIterator[Platform]:
    async with running_platform(home) as started:
        yield started


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving-sources")


async def test_endpoint_scoring_uri_and_keys(platform: Platform) -> None:
    created = await platform.create_or_update_endpoint(
        EndpointSpec(name="ep-keys", description="first", tags={"team": "recs"})
    )
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/ep-keys/score", created.scoring_uri)
    assert created.swagger_uri == created.scoring_uri.replace("/score", "/swagger.json")
    assert created.traffic == {}
    credentials = await platform.get_credentials("ep-keys")
    assert credentials.auth_mode == "key"
    assert credentials.primary_key and credentials.secondary_key
    assert credentials.primary_key != credentials.secondary_key
    # An update changes description and tags; keys stay.
    updated = await platform.create_or_update_endpoint(
        EndpointSpec(name="ep-keys", description="second", tags={"team": "ml"})
    )
    assert (updated.description, dict(updated.tags)) == ("second", {"team": "ml"})
    assert await platform.get_credentials("ep-keys") == credentials
    regenerated = await platform.regenerate_keys("ep-keys", key_type="secondary")
    assert regenerated.primary_key == credentials.primary_key
    assert regenerated.secondary_key not in (None, credentials.secondary_key)
    assert [e.name for e in await platform.list_endpoints()].count("ep-keys") == 1


async def test_aml_token_endpoint_gives_expiring_tokens(platform: Platform) -> None:
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-token", auth_mode="aml_token"))
    credentials = await platform.get_credentials("ep-token")
    assert credentials.primary_key is None
    assert credentials.access_token
    assert credentials.expiry_time_utc is not None
    assert credentials.refresh_after_time_utc is not None
    assert credentials.refresh_after_time_utc < credentials.expiry_time_utc


async def test_folder_model_keeps_its_name_and_env_is_passed_as_given(
    platform: Platform, sources: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A secret in the platform's own environment must not reach the instances.
    monkeypatch.setenv("FLIGHTDECK_TEST_SECRET", "do-not-leak")
    code = echo_code(sources / "code-folder")
    model = model_folder(sources / "recommender-model")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-folder"))
    progress = Progress()
    spec = deployment_spec(
        "ep-folder", "blue", code, model=ModelRef(path=str(model)), env={"TAG": "blue-tag"}
    )
    deployment = await platform.create_or_update_deployment(spec, progress=progress)
    assert deployment.instance_count == 1
    assert [(i.name, i.state) for i in deployment.instances] == [("blue-1", "ready")]
    status, body, answered = await score(platform, "ep-folder", deployment="blue")
    assert (status, answered) == (200, "blue")
    assert body["model_files"] == [
        "recommender-model/sub/vocab.txt",
        "recommender-model/weights.bin",
    ]
    assert body["tag"] == "blue-tag"
    assert body["secret"] is None
    # WORKER_COUNT is not derived from max_concurrent_requests_per_instance: server default.
    assert body["worker_count"] == "1"
    lines = progress.lines
    assert lines[0].startswith("Creating deployment blue on endpoint ep-folder")
    assert any(line.startswith("Copying model") for line in lines)
    assert "Starting instance blue-1 ..." in lines
    assert "Instance blue-1 ready (1/1)" in lines
    assert lines[-1] == "Deployment blue is ready (1 instance(s))."
    assert not any("WORKER_COUNT" in line for line in lines)


async def test_a_single_file_model_sits_at_the_root(platform: Platform, sources: Path) -> None:
    code = echo_code(sources / "code-file")
    weights = sources / "single" / "model.onnx"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"onnx bytes")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-file"))
    spec = deployment_spec("ep-file", "blue", code, model=ModelRef(path=str(weights)))
    await platform.create_or_update_deployment(spec)
    _status, body, _ = await score(platform, "ep-file", deployment="blue")
    assert body["model_files"] == ["model.onnx"]
    assert (Path(body["model_dir"]) / "model.onnx").read_bytes() == b"onnx bytes"


async def test_code_and_model_are_copies(platform: Platform, sources: Path) -> None:
    code = echo_code(sources / "code-copy", version="v1")
    model = model_folder(sources / "copied-model", {"a.txt": "1"})
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-copy"))
    spec = deployment_spec("ep-copy", "blue", code, model=ModelRef(path=str(model)))
    deployment = await platform.create_or_update_deployment(spec)
    # Editing the source folders afterwards changes nothing that runs.
    echo_code(code, version="edited")
    (model / "b.txt").write_text("2")
    await platform.set_traffic("ep-copy", {"blue": 100})
    _status, body, _ = await score(platform, "ep-copy")
    assert body["version"] == "v1"
    assert body["model_files"] == ["copied-model/a.txt"]
    assert deployment.code_path is not None
    assert Path(deployment.code_path).is_relative_to(Path(body["model_dir"]).parents[1])
    # clone_deployment_spec gets the uploaded copy, so a clone runs the same code.
    clone = await platform.clone_deployment_spec(
        "ep-copy", "blue", name="green", model=ModelRef(path=str(model))
    )
    assert clone.code_path == deployment.code_path


async def test_worker_count_is_what_they_set_and_a_mismatch_warns(
    platform: Platform, sources: Path
) -> None:
    code = echo_code(sources / "code-workers")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-workers"))
    matched = deployment_spec(
        "ep-workers", "matched", code, env={"WORKER_COUNT": "2"}, max_concurrent=2
    )
    progress = Progress()
    await platform.create_or_update_deployment(matched, progress=progress)
    assert not any("WORKER_COUNT" in line for line in progress.lines)
    master = psutil.Process(platform.instance_pids("ep-workers", "matched")["matched-1"])
    await wait_for(lambda: len(master.children()) == 2, what="two gunicorn workers")
    _status, body, _ = await score(platform, "ep-workers", deployment="matched")
    assert body["worker_count"] == "2"

    unmatched = deployment_spec("ep-workers", "unmatched", code, max_concurrent=4)
    progress = Progress()
    await platform.create_or_update_deployment(unmatched, progress=progress)
    warning = [line for line in progress.lines if "WORKER_COUNT" in line]
    assert len(warning) == 1
    assert "WORKER_COUNT is 1" in warning[0]
    assert "max_concurrent_requests_per_instance is 4" in warning[0]
    log = await platform.get_logs(
        "ep-workers", "unmatched", lines=50, container="storage-initializer"
    )
    assert warning[0] in log
    pid = platform.instance_pids("ep-workers", "unmatched")["unmatched-1"]
    assert len(psutil.Process(pid).children()) == 1


async def test_logs_across_instances_and_storage_initializer(
    platform: Platform, sources: Path
) -> None:
    code = echo_code(sources / "code-logs", version="logs-v1")
    model = model_folder(sources / "logs-model")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-logs"))
    spec = deployment_spec("ep-logs", "blue", code, model=ModelRef(path=str(model)), count=2)
    await platform.create_or_update_deployment(spec)
    for _ in range(4):
        assert (await score(platform, "ep-logs", deployment="blue"))[0] == 200
    text = await platform.get_logs("ep-logs", "blue", lines=400)
    lines = text.splitlines()
    assert any(line.startswith("[blue-1] ") for line in lines)
    assert any(line.startswith("[blue-2] ") for line in lines)
    assert sum("echo init logs-v1" in line for line in lines) == 2
    assert sum("POST /score 200" in line for line in lines) >= 4
    last = await platform.get_logs("ep-logs", "blue", lines=3)
    assert len(last.splitlines()) == 3
    assert all(line.startswith(("[blue-1] ", "[blue-2] ")) for line in last.splitlines())
    storage = await platform.get_logs("ep-logs", "blue", container="storage-initializer")
    assert f"Copying model {model}" in storage
    assert "AZUREML_MODEL_DIR=" in storage
    assert "storage-initializer" in storage


async def test_a_conda_environment_runs_in_its_own_cached_venv(
    platform: Platform, home: Path, sources: Path
) -> None:
    code = echo_code(sources / "code-conda")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-conda"))
    # numpy is one of the platform's own packages: found through the layered venv, no download.
    conda = {"name": "echo-env", "dependencies": ["pip", {"pip": ["numpy"]}]}
    spec = replace(
        deployment_spec("ep-conda", "blue", code), environment=EnvironmentSpec(conda_file=conda)
    )
    progress = Progress()
    await platform.create_or_update_deployment(spec, progress=progress)
    _status, body, _ = await score(platform, "ep-conda", deployment="blue")
    prefix = Path(body["prefix"])
    assert prefix.parent == home / "envs"
    assert any(line.startswith("Environment ") and str(prefix) in line for line in progress.lines)
    storage = await platform.get_logs("ep-conda", "blue", container="storage-initializer")
    assert "ready in" in storage
    # A second deployment of the same environment uses the cache.
    progress = Progress()
    await platform.create_or_update_deployment(replace(spec, name="green"), progress=progress)
    assert any("is cached" in line for line in progress.lines)
    _status, body, _ = await score(platform, "ep-conda", deployment="green")
    assert Path(body["prefix"]) == prefix


async def test_without_a_conda_file_the_platform_python_runs_with_a_warning(
    platform: Platform, sources: Path
) -> None:
    code = echo_code(sources / "code-registered-env")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-reg-env"))
    spec = replace(
        deployment_spec("ep-reg-env", "blue", code),
        environment=EnvironmentSpec(registered="recommendation-env:1"),
    )
    progress = Progress()
    await platform.create_or_update_deployment(spec, progress=progress)
    warning = [line for line in progress.lines if "azureml:recommendation-env:1" in line]
    assert warning and "platform's interpreter" in warning[0]
    _status, body, _ = await score(platform, "ep-reg-env", deployment="blue")
    assert body["prefix"] == sys.prefix


async def test_conda_only_packages_are_refused_before_anything_runs(
    platform: Platform, home: Path, sources: Path
) -> None:
    code = echo_code(sources / "code-conda-only")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-conda-only"))
    conda = {"dependencies": ["cudatoolkit=11.8"]}
    spec = replace(
        deployment_spec("ep-conda-only", "blue", code),
        environment=EnvironmentSpec(conda_file=conda),
    )
    with pytest.raises(SpecError, match="cudatoolkit"):
        await platform.create_or_update_deployment(spec)
    assert await platform.list_deployments("ep-conda-only") == []
    assert not (home / "deployments" / "ep-conda-only").exists()


async def test_a_model_answering_non_200_gives_424(platform: Platform, sources: Path) -> None:
    code = write_code(sources / "code-status", STATUS)
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-status"))
    await platform.create_or_update_deployment(deployment_spec("ep-status", "blue", code))
    result = await platform.invoke("ep-status", b'{"data": []}', deployment="blue")
    assert result.status == 424
    assert result.headers["ms-azureml-model-error-statuscode"] == "400"
    assert json.loads(result.body) == {"message": "no rows in the request"}


async def test_metrics_come_from_the_router(platform: Platform, sources: Path) -> None:
    code = echo_code(sources / "code-metrics")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-metrics"))
    await platform.create_or_update_deployment(deployment_spec("ep-metrics", "blue", code))
    for _ in range(5):
        assert (await score(platform, "ep-metrics", deployment="blue"))[0] == 200
    snapshot = await platform.metrics("ep-metrics", timedelta(minutes=5))
    assert snapshot.endpoint == "ep-metrics"
    window = snapshot.deployments["blue"].window
    assert window.requests == 5
    assert window.requests_by_status == {"200": 5}
    assert window.latency_p50_ms is not None


async def test_deleting_an_endpoint_removes_everything(
    platform: Platform, home: Path, sources: Path
) -> None:
    code = echo_code(sources / "code-delete")
    await platform.create_or_update_endpoint(EndpointSpec(name="ep-delete"))
    await platform.create_or_update_deployment(deployment_spec("ep-delete", "blue", code, count=2))
    await platform.set_traffic("ep-delete", {"blue": 100})
    uri = (await platform.get_endpoint("ep-delete")).scoring_uri
    key = (await platform.get_credentials("ep-delete")).bearer()
    pids = set(platform.instance_pids("ep-delete", "blue").values())
    progress = Progress()
    await platform.delete_endpoint("ep-delete", progress=progress)
    assert progress.lines == ["Deleting endpoint ep-delete ..."]
    assert "ep-delete" not in [e.name for e in await platform.list_endpoints()]
    assert not pids & {p.pid for p in processes_under(home)}
    assert not (home / "deployments" / "ep-delete").exists()
    assert not (home / "logs" / "ep-delete").exists()
    with pytest.raises(NotFoundError):
        await platform.invoke("ep-delete", b"{}")
    async with (
        aiohttp.ClientSession() as session,
        session.post(uri, data=b"{}", headers={"Authorization": f"Bearer {key}"}) as answer,
    ):
        assert answer.status == 404


async def _slow_deployment(
    platform: Platform, sources: Path, endpoint: str, *, delay_ms: int, settings: RequestSettings
) -> tuple[str, str]:
    """samples/scripts/slow_score.py as deployment blue (one instance, all traffic)."""
    code = sources / f"code-{endpoint}"
    code.mkdir()
    shutil.copy(Path(slow_score.__file__), code / "score.py")
    await platform.create_or_update_endpoint(EndpointSpec(name=endpoint))
    spec = deployment_spec(
        endpoint,
        "blue",
        code,
        env={"SAMPLE_DELAY_MS": str(delay_ms)},
        liveness=PATIENT,
        readiness=PATIENT,
    )
    await platform.create_or_update_deployment(replace(spec, request_settings=settings))
    await platform.set_traffic(endpoint, {"blue": 100})
    uri = (await platform.get_endpoint(endpoint)).scoring_uri
    return uri, (await platform.get_credentials(endpoint)).bearer()


async def _post(
    session: aiohttp.ClientSession, uri: str, key: str
) -> tuple[int, str | None, str, float]:
    """One scoring request: status, answering deployment, body, when the answer came."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with session.post(uri, data=b'{"data": [1]}', headers=headers) as answer:
        text = await answer.text()
        return answer.status, answer.headers.get("azureml-model-deployment"), text, time.monotonic()


async def test_request_timeout_ms_of_the_deployment_gives_408(
    platform: Platform, sources: Path
) -> None:
    settings = RequestSettings(request_timeout_ms=300)
    uri, key = await _slow_deployment(
        platform, sources, "ep-timeout", delay_ms=3000, settings=settings
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        sent = time.monotonic()
        status, deployment, text, answered = await _post(session, uri, key)
    assert (status, deployment) == (408, "blue")
    assert "request_timeout_ms (300 ms)" in text
    # The router gave up at the deployment's timeout, not when the model would have answered.
    assert 0.3 <= answered - sent < 2.9  # room for loaded cores below the model's 3 s
    recorded = (await platform.metrics("ep-timeout", timedelta(minutes=5))).deployments["blue"]
    assert recorded.window.requests_by_status == {"408": 1}


async def test_max_concurrent_requests_per_instance_gives_429_above_twice_the_slots(
    platform: Platform, sources: Path
) -> None:
    # One instance with one slot: 2 x 1 x 1 = 2 requests may be in flight; a third is refused.
    settings = RequestSettings(request_timeout_ms=10_000, max_concurrent_requests_per_instance=1)
    uri, key = await _slow_deployment(
        platform, sources, "ep-pending", delay_ms=1500, settings=settings
    )
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        answers = await asyncio.gather(*(_post(session, uri, key) for _ in range(3)))
    assert sorted(status for status, _, _, _ in answers) == [200, 200, 429]
    assert {deployment for _, deployment, _, _ in answers} == {"blue"}
    (refused,) = [a for a in answers if a[0] == 429]
    assert "Too many pending requests" in refused[2]
    # Refused at once, while the two others were still in flight (each takes 1.5 s).
    assert refused[3] < min(a[3] for a in answers if a[0] == 200)
    for status, _, text, _ in answers:
        if status == 200:
            assert json.loads(text)["delayed_ms"] == 1500
    recorded = (await platform.metrics("ep-pending", timedelta(minutes=5))).deployments["blue"]
    assert recorded.window.requests_by_status == {"200": 2, "429": 1}
