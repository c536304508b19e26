"""The endpoint, deployment and model verbs through the real ``flightdeck`` entry point.

One daemon for the module (a tmp home, free ports) with the sample endpoint and a
blue deployment (short probes); each test checks a verb's JSON, or that bad input
is one ``ERROR:`` line, exit 1, and unchanged state. The seed's whole flow (split,
mirror, scale, restarts) is in tests/e2e/test_seed_flow.py.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from deploy.local.control.client import create_local_backend
from samples.product_recommender import reference_predict
from tests.support.flightdeck_cli import (
    REPO,
    ROW,
    CliResult,
    LocalPlatform,
    local_platform,
    poll,
    write_deployment,
    write_endpoint,
    write_request,
)

pytestmark = pytest.mark.slow(budget=60)

EP = "product-recommender"


@dataclass
class Deployed:
    platform: LocalPlatform
    specs: Path
    endpoint: CliResult
    blue: CliResult

    def cli(self, *args: str) -> CliResult:
        return self.platform.cli(*args)

    def state(self) -> tuple[Any, ...]:
        """What must not change when a command fails (read through the daemon's client)."""

        async def read() -> tuple[Any, ...]:
            backend = create_local_backend({"home": str(self.platform.home)})
            try:
                endpoints = await backend.list_endpoints()
                deployments = [await backend.list_deployments(e.name) for e in endpoints]
                return endpoints, deployments, await backend.list_models()
            finally:
                await backend.aclose()

        return asyncio.run(read())


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("cli-verbs")
    specs = root / "specs"
    specs.mkdir()
    with local_platform(root / "home") as platform:
        endpoint = platform.cli("online-endpoint", "create", "--file", str(write_endpoint(specs)))
        blue = platform.cli(
            "online-deployment", "create", "--file", str(write_deployment(specs)), "--all-traffic"
        )
        yield Deployed(platform=platform, specs=specs, endpoint=endpoint.ok(), blue=blue.ok())


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_create_prints_the_endpoint_and_the_deployment(deployed: Deployed) -> None:
    endpoint = deployed.endpoint.json()
    assert endpoint["name"] == EP
    assert endpoint["auth_mode"] == "key"
    assert endpoint["scoring_uri"] == deployed.platform.scoring_uri(EP)
    assert endpoint["tags"] == {"team": "recommendations", "environment": "production"}
    assert endpoint["traffic"] == {}
    assert deployed.endpoint.stdout.startswith("{\n  ")  # az ml's indented JSON

    blue = deployed.blue.json()
    assert blue["name"] == "blue"
    assert blue["instance_count"] == 1
    assert blue["provisioning_state"] == "Succeeded"
    assert [i["state"] for i in blue["instances"]] == ["ready"]
    progress = deployed.blue.stderr.splitlines()
    assert "Starting instance blue-1 ..." in progress
    assert progress.index("Starting instance blue-1 ...") < progress.index(
        "Instance blue-1 ready (1/1)"
    )
    assert any(line.startswith("Copying model") for line in progress)


def test_show_and_list(deployed: Deployed) -> None:
    shown = deployed.cli("online-endpoint", "show", "--name", EP).ok().json()
    assert shown["traffic"] == {"blue": 100}
    assert [e["name"] for e in deployed.cli("online-endpoint", "list").ok().json()] == [EP]
    blue = deployed.cli("online-deployment", "show", "-n", "blue", "-e", EP).ok().json()
    assert blue["model"].endswith("model-v1")
    assert blue["request_settings"]["request_timeout_ms"] == 3000
    listed = deployed.cli("online-deployment", "list", "--endpoint-name", EP).ok().json()
    assert [d["name"] for d in listed] == ["blue"]


def test_invoke_scores_through_the_router(deployed: Deployed) -> None:
    request = write_request(deployed.specs)
    answer = deployed.cli("online-endpoint", "invoke", "--name", EP, "--request-file", str(request))
    # As az ml: the answer's text as a JSON string.
    predictions = np.array(json.loads(answer.ok().json())["predictions"], dtype=np.float32)
    expected = reference_predict("v1", np.array([ROW], dtype=np.float32))
    np.testing.assert_allclose(predictions, expected, rtol=1e-5)
    by_name = deployed.cli(
        "online-endpoint", "invoke", "-n", EP, "-r", str(request), "--deployment-name", "blue"
    )
    assert json.loads(by_name.ok().json())["batch_size"] == 1


def test_credentials_are_the_keys_the_router_accepts(deployed: Deployed) -> None:
    keys = deployed.cli("online-endpoint", "get-credentials", "--name", EP).ok().json()
    assert set(keys) == {"primaryKey", "secondaryKey"}  # az ml's names
    body = json.dumps({"data": [ROW]}).encode()
    uri = deployed.platform.scoring_uri(EP)
    for key in (keys["primaryKey"], keys["secondaryKey"]):
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        status, answered, _ = _post(uri, body, headers)
        assert status == 200
        assert answered["azureml-model-deployment"] == "blue"
    status, _, _ = _post(uri, body, {"Authorization": "Bearer wrong"})
    assert status == 401


def test_get_logs_of_both_containers(deployed: Deployed) -> None:
    server = deployed.cli(
        "online-deployment", "get-logs", "-n", "blue", "-e", EP, "--lines", "5"
    ).ok()
    assert 0 < len(server.stdout.splitlines()) <= 5
    storage = deployed.cli(
        "online-deployment",
        "get-logs",
        "-n",
        "blue",
        "-e",
        EP,
        "--container",
        "storage-initializer",
    ).ok()
    assert "model-v1" in storage.stdout


def test_models_register_list_show(deployed: Deployed) -> None:
    model_dir = Path(__file__).resolve().parents[2] / "examples" / "product-recommender"
    created = deployed.cli(
        "model", "create", "--name", "cli-model", "--version", "1",
        "--path", str(model_dir / "model-v1"), "--description", "v1",
    ).ok().json()  # fmt: skip
    assert (created["name"], created["version"], created["description"]) == ("cli-model", "1", "v1")
    shown = deployed.cli("model", "show", "--name", "cli-model", "--version", "1").ok().json()
    assert shown == created
    listed = deployed.cli("model", "list", "--name", "cli-model").ok().json()
    assert listed == [created]
    before = deployed.state()
    missing = deployed.cli("model", "show", "--name", "cli-model", "--version", "9")
    assert "not registered" in missing.error_line(code=3)
    twice = deployed.cli(
        "model", "create", "-n", "cli-model", "-v", "1", "-p", str(model_dir / "model-v1")
    )
    assert "cli-model" in twice.error_line()
    nowhere = deployed.cli("model", "create", "-n", "m2", "-v", "1", "-p", "/nonexistent/m")
    assert "does not exist" in nowhere.error_line()
    assert deployed.state() == before


def test_models_archive_and_restore_as_az(deployed: Deployed) -> None:
    model_dir = Path(__file__).resolve().parents[2] / "examples" / "product-recommender"
    for version in ("1", "2"):
        deployed.cli(
            "model", "create", "-n", "arch-model", "-v", version, "-p", str(model_dir / "model-v1")
        ).ok()

    def listed(*flags: str) -> list[str]:
        models = deployed.cli("model", "list", "-n", "arch-model", *flags).ok().json()
        return sorted(m["version"] for m in models)

    archived = deployed.cli("model", "archive", "-n", "arch-model", "--version", "2").ok()
    assert archived.stdout == ""  # az prints nothing
    assert listed() == ["1"]
    assert listed("--include-archived") == ["1", "2"]
    assert listed("--archived-only") == ["2"]
    # An archived version is still shown by version; ``latest`` is the newest active one.
    shown = deployed.cli("model", "show", "-n", "arch-model", "-v", "2").ok().json()
    assert shown["version"] == "2"
    assert deployed.cli("model", "show", "-n", "arch-model").ok().json()["version"] == "1"
    # The whole model (az's model container): every version, and no version alone comes back.
    deployed.cli("model", "archive", "-n", "arch-model").ok()
    assert listed() == []
    assert listed("--archived-only") == ["1", "2"]
    before = deployed.state()
    alone = deployed.cli("model", "restore", "-n", "arch-model", "-v", "2")
    assert "archived as a whole" in alone.error_line()
    both = deployed.cli("model", "list", "--archived-only", "--include-archived")
    assert "cannot be used together" in both.error_line(code=2)
    unknown = deployed.cli("model", "archive", "-n", "never-registered")
    assert "not registered" in unknown.error_line(code=3)
    assert deployed.state() == before
    deployed.cli("model", "restore", "-n", "arch-model").ok()
    assert listed() == ["1"]
    deployed.cli("model", "restore", "-n", "arch-model", "-v", "2").ok()
    assert listed() == ["1", "2"]


def test_an_endpoint_is_created_and_deleted(deployed: Deployed) -> None:
    spec = write_endpoint(deployed.specs, name="scratch-ep", auth_mode="aml_token")
    created = deployed.cli("online-endpoint", "create", "--file", str(spec)).ok().json()
    assert created["auth_mode"] == "aml_token"
    token = deployed.cli("online-endpoint", "get-credentials", "-n", "scratch-ep").ok().json()
    assert token["accessToken"].startswith("scratch-ep.")
    assert {"expiryTimeUtc", "refreshAfterTimeUtc", "tokenType"} <= set(token)
    again = deployed.cli("online-endpoint", "create", "--file", str(spec))
    assert "already exists" in again.error_line()
    deleted = deployed.cli("online-endpoint", "delete", "--name", "scratch-ep", "--yes").ok()
    assert deleted.stdout == ""
    names = [e["name"] for e in deployed.cli("online-endpoint", "list").ok().json()]
    assert names == [EP]


def test_no_wait_returns_at_once_and_show_reports_the_state_until_done(
    deployed: Deployed,
) -> None:
    code = deployed.specs / "slow-init"
    code.mkdir()
    (code / "score.py").write_text(
        "import json\nimport time\n\n\ndef init():\n    time.sleep(2)\n\n\n"
        "def run(raw_data):\n    return json.loads(raw_data)\n",
        encoding="utf-8",
    )
    spec = write_deployment(
        deployed.specs, name="slow", file_name="slow.yml",
        code_configuration={"code": str(code), "scoring_script": "score.py"},
    )  # fmt: skip
    show = ("online-deployment", "show", "-n", "slow", "-e", EP, "--query", "provisioning_state")

    def state() -> str:
        return str(deployed.cli(*show).ok().json())

    def settles(what: str) -> None:
        poll(lambda: state() == "Succeeded", timeout=60, what=what)

    created = deployed.cli("online-deployment", "create", "-f", str(spec), "--no-wait").ok()
    assert created.json()["provisioning_state"] == "Creating"
    assert state() == "Creating"  # init sleeps 2 s: not ready yet
    settles("the slow deployment to be created")
    update = ("online-deployment", "update", "-n", "slow", "-e", EP, "--no-wait")
    deployed.cli(*update, "--set", "instance_count=2").ok()
    assert state() == "Updating"
    settles("the slow deployment to scale")
    shown = deployed.cli("online-deployment", "show", "-n", "slow", "-e", EP).ok().json()
    assert shown["instance_count"] == 2
    deployed.cli("online-deployment", "delete", "-n", "slow", "-e", EP, "-y", "--no-wait").ok()
    poll(lambda: deployed.cli(*show).code == 3, timeout=60, what="the slow deployment to go")


def _files(folder: str) -> list[str]:
    root = Path(folder)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts)


def test_update_without_a_file_sets_any_setting_as_az(deployed: Deployed) -> None:
    update = ("online-deployment", "update", "-n", "blue", "-e", EP)
    show = ("online-deployment", "show", "-n", "blue", "-e", EP)
    before = deployed.cli(*show).ok().json()
    changed = deployed.cli(
        *update, "--set", "request_settings.request_timeout_ms=3000",
        "environment_variables.FLIGHTDECK_TEST_MODE=on",
    ).ok().json()  # fmt: skip
    assert changed["request_settings"]["request_timeout_ms"] == 3000
    assert changed["environment_variables"]["FLIGHTDECK_TEST_MODE"] == "on"
    shown = deployed.cli(*show).ok().json()
    assert shown["request_settings"]["request_timeout_ms"] == 3000
    # Everything not named stays as it was: model, code, the other settings, the count.
    for key in ("model", "instance_count", "instance_type", "liveness_probe"):
        assert shown[key] == before[key], key
    code, old_code = shown["code_configuration"], before["code_configuration"]
    assert code["scoring_script"] == old_code["scoring_script"]
    # The new version runs from its own copy of the same code (the old one's is swept).
    assert _files(code["code"]) == _files(str(REPO / "scoring"))
    for key in ("max_concurrent_requests_per_instance", "max_queue_wait_ms"):
        assert shown["request_settings"][key] == before["request_settings"][key], key
    timeout = before["request_settings"]["request_timeout_ms"]
    restored = deployed.cli(
        *update, "--remove", "environment_variables.FLIGHTDECK_TEST_MODE",
        "--set", f"request_settings.request_timeout_ms={timeout}",
    ).ok().json()  # fmt: skip
    assert restored["environment_variables"] == before["environment_variables"]
    assert restored["request_settings"] == before["request_settings"]
    request = write_request(deployed.specs)
    answer = deployed.cli("online-endpoint", "invoke", "-n", EP, "-r", str(request)).ok().json()
    assert json.loads(answer)["batch_size"] == 1


# ---------------------------------------------------------------- bad input


def test_unknown_names_are_one_line_errors(deployed: Deployed) -> None:
    before = deployed.state()
    cases = [
        (("online-endpoint", "show", "--name", "nope-ep"), "Endpoint 'nope-ep' does not exist"),
        (("online-deployment", "show", "-n", "nope", "-e", EP), "Deployment 'nope'"),
        (("online-deployment", "get-logs", "-n", "nope", "-e", EP), "Deployment 'nope'"),
        (("online-deployment", "delete", "-n", "nope", "-e", EP, "-y"), "Deployment 'nope'"),
        (("online-endpoint", "delete", "-n", "nope-ep", "-y"), "Endpoint 'nope-ep'"),
        (
            ("online-deployment", "update", "-n", "nope", "-e", EP, "--set", "instance_count=2"),
            "Deployment 'nope'",
        ),
    ]
    for args, expected in cases:
        assert expected in deployed.cli(*args).error_line(code=3), args  # az: 3, missing
    assert deployed.state() == before


def test_bad_traffic_changes_nothing(deployed: Deployed) -> None:
    before = deployed.state()
    cases = [
        ("blue=90", "sum to 100"),
        ("blue=90 green=10", "Deployment 'green' does not exist"),
        ("blue=ninety", "not a whole number"),
    ]
    for traffic, expected in cases:
        result = deployed.cli("online-endpoint", "update", "--name", EP, "--traffic", traffic)
        assert expected in result.error_line(), traffic
    mirror = deployed.cli("online-endpoint", "update", "-n", EP, "--mirror-traffic", "blue=10")
    assert "takes live traffic" in mirror.error_line()
    live = deployed.cli("online-deployment", "delete", "-n", "blue", "-e", EP, "--yes")
    assert "blue" in live.error_line()
    assert deployed.state() == before


def test_bad_specs_change_nothing(deployed: Deployed) -> None:
    before = deployed.state()
    folder = deployed.specs
    bad_name = write_endpoint(folder, name="9-lives")
    assert "name" in deployed.cli("online-endpoint", "create", "-f", str(bad_name)).error_line()
    no_script = write_deployment(
        folder,
        name="red",
        file_name="no-script.yml",
        code_configuration={"code": str(folder), "scoring_script": "missing.py"},
    )
    error = deployed.cli("online-deployment", "create", "--file", str(no_script)).error_line()
    assert "no-script.yml" in error and "scoring_script" in error
    no_model = write_deployment(folder, name="red", model=folder / "absent", file_name="nm.yml")
    error = deployed.cli("online-deployment", "create", "--file", str(no_model)).error_line()
    assert "nm.yml" in error and "model" in error and "does not exist" in error
    unregistered = write_deployment(
        folder, name="red", model="azureml:never-registered:1", file_name="reg.yml"
    )
    error = deployed.cli("online-deployment", "create", "--file", str(unregistered)).error_line(
        code=3
    )
    assert "never-registered" in error
    exists = deployed.cli("online-deployment", "create", "--file", str(write_deployment(folder)))
    assert "already exists" in exists.error_line()
    bad_sets = [
        ("instance_count=many", "whole number"),
        ("instance_count=0", "instance_count"),
        ("request_settings.request_timeout=10", "request_settings.request_timeout"),
        ("request_settings.request_timeout_ms=soon", "Not a valid integer"),
        ("model=azureml:other:1", "only request_settings.*"),
        ("instance_count=2 code_configuration.scoring_script=x.py", "code_configuration"),
    ]
    for item, expected in bad_sets:
        update = ("online-deployment", "update", "-n", "blue", "-e", EP, "--set", *item.split())
        result = deployed.cli(*update)
        assert expected in result.error_line(), item
    missing_request = deployed.cli("online-endpoint", "invoke", "-n", EP, "-r", "/nope.json")
    assert "cannot be read" in missing_request.error_line()
    assert deployed.state() == before


def test_a_failing_update_shows_the_instance_log_and_blue_keeps_serving(
    deployed: Deployed,
) -> None:
    broken = deployed.specs / "broken-model"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"this is not an ONNX model")
    spec = write_deployment(deployed.specs, name="blue", model=broken, file_name="broken.yml")
    before = deployed.state()
    result = deployed.cli("online-deployment", "update", "--file", str(spec))
    error = result.error_line()
    assert "blue" in error and "previous version keeps serving" in error
    assert "The instance's last log lines:" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == error  # the ERROR line comes last
    assert deployed.state() == before
    request = write_request(deployed.specs)
    answer = deployed.cli("online-endpoint", "invoke", "-n", EP, "-r", str(request)).ok().json()
    assert json.loads(answer)["batch_size"] == 1  # az ml prints the answer as a JSON string
