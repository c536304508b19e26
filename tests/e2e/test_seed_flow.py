"""The seed's flow, end to end: real daemon, real router, real azmlinfsrv instances on loopback.

examples/product-recommender, driven through the ``flightdeck`` command as a user
would (specs derived from the example with short probes): the endpoint, blue with
all traffic, green at 0%; green by header; a 90/10 split seen in proportion over
many requests; mirror traffic; scale 1 -> 3 -> 1 with a killed instance replaced
while the others answer; logs; keys and tokens; a deployment from a registered
model; a daemon restart (down/up) and a killed daemon, after which everything is
back and serving. One daemon for the module; each test leaves the endpoint as it
found it (blue=100, green=0, no mirror, one instance each).

First, on a daemon of its own, the seed's own files as the blog gives them: its
endpoint.yml, its deployment.yml with its score.py in ./src, deployed with only
instance_count and probes overridden.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import psutil
import pytest

from deploy.local.control.client import create_local_backend
from deploy.local.state.home import process_alive
from samples.product_recommender import reference_predict, write_models
from tests.support.flightdeck_cli import (
    ROW,
    LocalPlatform,
    home_processes,
    local_platform,
    poll,
    write_deployment,
    write_endpoint,
    write_request,
)
from tests.support.seed import (
    seed_deployment_yaml,
    seed_endpoint_yaml,
    seed_score_py,
    seed_text,
)

pytestmark = pytest.mark.slow(budget=60)

EP = "product-recommender"
BODY = json.dumps({"data": [ROW]}).encode()
#: The seed's deployment.yml as written, but one instance, short probes (whole seconds, as
#: Azure's schema takes them) and autoscale's floor at one, so that the test stays small.
SEED_OVERRIDES = [
    "instance_count=1",
    "scale_settings.min_instances=1",
    *(f"liveness_probe.{key}" for key in ("initial_delay=1", "period=1", "failure_threshold=10")),
    *(f"readiness_probe.{key}" for key in ("initial_delay=0", "period=1", "timeout=2")),
]


@dataclass
class Seed:
    platform: LocalPlatform
    specs: Path
    primary_key: str = ""

    def cli(self, *args: str) -> Any:
        """Run a verb that must succeed; its JSON (or None when it prints nothing)."""
        result = self.platform.cli(*args).ok()
        return result.json() if result.stdout.strip() else None

    def endpoint(self) -> dict[str, Any]:
        return dict(self.cli("online-endpoint", "show", "-n", EP))

    def instances(self, name: str) -> list[tuple[str, int]]:
        """(state, restarts) of each instance, read through the daemon's client."""

        async def read() -> list[tuple[str, int]]:
            backend = create_local_backend({"home": str(self.platform.home)})
            try:
                deployment = await backend.get_deployment(EP, name)
            finally:
                await backend.aclose()
            return [(i.state, i.restarts) for i in deployment.instances]

        return asyncio.run(read())

    def score(self, count: int, *, deployment: str | None = None, key: str | None = None) -> Any:
        return asyncio.run(
            score_many(self.platform.scoring_uri(EP), key or self.primary_key, count, deployment)
        )

    def instance_masters(self, deployment: str) -> list[psutil.Process]:
        """The instances' azmlinfsrv processes (children of the daemon) of ``deployment``."""
        daemon = self.platform.pid()
        marker = str(self.platform.home / "deployments" / EP / deployment) + os.sep
        return [
            proc
            for proc in home_processes(self.platform.home)
            if proc.ppid() == daemon and any(marker in part for part in proc.cmdline())
        ]


async def score_many(
    uri: str, key: str, count: int, deployment: str | None = None
) -> list[tuple[int, str | None, Any]]:
    """``count`` scoring requests one after another: (status, answering deployment, body)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if deployment:
        headers["azureml-model-deployment"] = deployment
    answers = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for _ in range(count):
            async with session.post(uri, data=BODY, headers=headers) as response:
                text = await response.text()
                body = json.loads(text) if text.startswith("{") else text
                answers.append(
                    (response.status, response.headers.get("azureml-model-deployment"), body)
                )
    return answers


def expected(version: str) -> Any:
    return reference_predict(version, np.array([ROW], dtype=np.float32))


def assert_version(body: dict[str, Any], version: str) -> None:
    np.testing.assert_allclose(np.array(body["predictions"]), expected(version), rtol=1e-5)


async def _metrics_requests(home: Path, deployment: str) -> int:
    backend = create_local_backend({"home": str(home)})
    try:
        snapshot = await backend.metrics(EP, timedelta(minutes=10))
    finally:
        await backend.aclose()
    found = snapshot.deployments.get(deployment)
    return found.window.requests if found else 0


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    root = tmp_path_factory.mktemp("seed-flow")
    specs = root / "specs"
    specs.mkdir()
    with local_platform(root / "home") as platform:
        flow = Seed(platform=platform, specs=specs)
        flow.cli("online-endpoint", "create", "--file", str(write_endpoint(specs)))
        blue = write_deployment(specs, name="blue", version="v1")
        flow.cli("online-deployment", "create", "--file", str(blue), "--all-traffic")
        green = write_deployment(specs, name="green", version="v2")
        flow.cli("online-deployment", "create", "--file", str(green))
        flow.primary_key = flow.cli("online-endpoint", "get-credentials", "-n", EP)["primaryKey"]
        yield flow


def test_the_seeds_own_files_deploy_and_score_its_load_test_payload(tmp_path: Path) -> None:
    # As the blog lays them out: endpoint.yml and deployment.yml side by side, score.py in
    # ./src (code_configuration.code). Each cut skips, saying why, if the seed is absent.
    files = {
        "endpoint.yml": seed_endpoint_yaml(),
        "deployment.yml": seed_deployment_yaml(),
        "src/score.py": seed_score_py(),
    }
    folder = tmp_path / "seed"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    # The seed's script loads $AZUREML_MODEL_DIR/model.onnx: the sample model, registered
    # as the single file, lands at the root of recommendation-model/1.
    model = write_models(tmp_path / "models")["v1"]
    with local_platform(tmp_path / "home") as platform:
        created = platform.cli("online-endpoint", "create", "--file", str(folder / "endpoint.yml"))
        assert created.ok().json()["name"] == EP
        registered = platform.cli(
            "model", "create", "--name", "recommendation-model", "--version", "1",
            "--path", str(model),
        ).ok().json()  # fmt: skip
        assert (registered["name"], registered["version"]) == ("recommendation-model", "1")
        sets = [arg for item in SEED_OVERRIDES for arg in ("--set", item)]
        deployed = platform.cli(
            "online-deployment", "create", "--file", str(folder / "deployment.yml"), *sets
        ).ok()
        deployment = deployed.json()
        assert (deployment["name"], deployment["model"]) == (
            "blue",
            "azureml:recommendation-model:1",
        )
        assert deployment["instance_count"] == 1
        assert [i["state"] for i in deployment["instances"]] == ["ready"]
        # azureml:recommendation-env:1 is not here: the platform's interpreter, with a warning.
        warned = [line for line in deployed.stderr.splitlines() if "recommendation-env:1" in line]
        assert warned and "platform's interpreter" in warned[0], deployed.stderr

        traffic = platform.cli("online-endpoint", "update", "-n", EP, "--traffic", "blue=100")
        assert traffic.ok().json()["traffic"] == {"blue": 100}
        key = platform.cli("online-endpoint", "get-credentials", "-n", EP).ok().json()
        # The seed's load-test payload, with the endpoint's key.
        assert f"data={BODY.decode()}," in seed_text()
        answers = asyncio.run(score_many(platform.scoring_uri(EP), key["primaryKey"], 3))
    assert [(status, answered) for status, answered, _ in answers] == [(200, "blue")] * 3
    for _, _, body in answers:
        assert body["batch_size"] == 1
        assert_version(body, "v1")


def test_blue_takes_all_traffic_and_green_answers_by_header(seed: Seed) -> None:
    assert seed.endpoint()["traffic"] == {"blue": 100, "green": 0}
    for status, deployment, body in seed.score(10):
        assert (status, deployment) == (200, "blue")
        assert_version(body, "v1")
    for status, deployment, body in seed.score(3, deployment="green"):
        assert (status, deployment) == (200, "green")
        assert_version(body, "v2")
    request = write_request(seed.specs)
    by_cli = seed.cli("online-endpoint", "invoke", "-n", EP, "-r", str(request), "-d", "green")
    assert_version(json.loads(by_cli), "v2")  # az ml prints the answer as a JSON string


def test_a_90_10_split_answers_in_proportion(seed: Seed) -> None:
    split = seed.cli("online-endpoint", "update", "-n", EP, "--traffic", "blue=90 green=10")
    assert split["traffic"] == {"blue": 90, "green": 10}
    try:
        answers = seed.score(400)
    finally:
        seed.cli("online-endpoint", "update", "-n", EP, "--traffic", "blue=100 green=0")
    assert {status for status, _, _ in answers} == {200}
    shares = Counter(deployment for _, deployment, _ in answers)
    assert set(shares) == {"blue", "green"}
    assert 25 <= shares["green"] <= 55, shares  # 10% of 400 is 40
    for _, deployment, body in answers:
        assert_version(body, "v1" if deployment == "blue" else "v2")


def test_mirror_traffic_copies_without_answering(seed: Seed) -> None:
    home = seed.platform.home
    before = asyncio.run(_metrics_requests(home, "green"))
    mirrored = seed.cli("online-endpoint", "update", "-n", EP, "--mirror-traffic", "green=10")
    assert mirrored["mirror_traffic"] == {"green": 10}
    try:
        answers = seed.score(200)
        assert {(status, deployment) for status, deployment, _ in answers} == {(200, "blue")}
        # 10% of 200 requests are copied to green; the copies are recorded as they end.
        poll(
            lambda: asyncio.run(_metrics_requests(home, "green")) - before >= 20,
            timeout=30,
            what="green's mirror copies in its metrics",
        )
        assert asyncio.run(_metrics_requests(home, "green")) - before == 20
    finally:
        off = seed.cli("online-endpoint", "update", "-n", EP, "--mirror-traffic", "")
    assert off["mirror_traffic"] == {}


def test_scale_to_three_survives_a_killed_instance_then_back_to_one(seed: Seed) -> None:
    three = seed.cli(
        "online-deployment", "update", "-n", "blue", "-e", EP, "--set", "instance_count=3"
    )
    assert three["instance_count"] == 3
    assert [i["state"] for i in three["instances"]] == ["ready"] * 3
    masters = seed.instance_masters("blue")
    assert len(masters) == 3

    victim = masters[0]
    os.killpg(victim.pid, signal.SIGKILL)
    statuses: list[int] = []

    def replaced() -> bool:
        statuses.extend(status for status, _, _ in seed.score(5))
        instances = seed.instances("blue")
        return all(state == "ready" for state, _ in instances) and any(
            restarts >= 1 for _, restarts in instances
        )

    poll(replaced, timeout=90, interval=0.2, what="the killed instance to be replaced")
    assert not process_alive(victim.pid)
    assert len(seed.instance_masters("blue")) == 3
    # The two others kept answering: at most the requests already on their way to the
    # dead process failed (502), and none after the platform noticed.
    failures = [s for s in statuses if s != 200]
    assert set(failures) <= {502}, Counter(statuses)
    assert len(failures) <= 2, Counter(statuses)
    assert {status for status, _, _ in seed.score(20)} == {200}

    logs = seed.platform.cli(
        "online-deployment", "get-logs", "-n", "blue", "-e", EP, "--lines", "500"
    ).ok()
    prefixes = {line.split(" ", 1)[0] for line in logs.stdout.splitlines()}
    assert len({p for p in prefixes if p.startswith("[blue-")}) == 3, prefixes

    one = seed.cli(
        "online-deployment", "update", "-n", "blue", "-e", EP, "--set", "instance_count=1"
    )
    assert one["instance_count"] == 1
    assert [i["state"] for i in one["instances"]] == ["ready"]
    poll(lambda: len(seed.instance_masters("blue")) == 1, what="two instances stopped")
    assert {status for status, _, _ in seed.score(5)} == {200}


def test_keys_and_tokens(seed: Seed) -> None:
    keys = seed.cli("online-endpoint", "get-credentials", "-n", EP)
    for key in (keys["primaryKey"], keys["secondaryKey"]):
        assert {s for s, _, _ in seed.score(2, key=key)} == {200}
    assert {s for s, _, _ in seed.score(2, key="not-a-key")} == {401}

    spec = write_endpoint(seed.specs, name="token-ep", auth_mode="aml_token")
    seed.cli("online-endpoint", "create", "--file", str(spec))
    try:
        token = seed.cli("online-endpoint", "get-credentials", "-n", "token-ep")
        assert set(token) >= {"accessToken", "expiryTimeUtc", "tokenType"}  # az ml's names
        uri = seed.platform.scoring_uri("token-ep")
        # No deployment yet: a good token gets past auth (404), a bad one does not (401).
        good = asyncio.run(score_many(uri, token["accessToken"], 1))
        assert good[0][0] == 404
        bad = asyncio.run(score_many(uri, token["accessToken"] + "x", 1))
        assert bad[0][0] == 401
        blue_key = asyncio.run(score_many(uri, keys["primaryKey"], 1))
        assert blue_key[0][0] == 401
    finally:
        seed.cli("online-endpoint", "delete", "-n", "token-ep", "--yes")


def test_a_deployment_from_a_registered_model(seed: Seed) -> None:
    model_dir = Path(__file__).resolve().parents[2] / "examples" / "product-recommender"
    registered = seed.cli(
        "model", "create", "--name", "recommendation-model", "--version", "1",
        "--path", str(model_dir / "model-v2"),
    )  # fmt: skip
    assert (registered["name"], registered["version"]) == ("recommendation-model", "1")
    spec = write_deployment(
        seed.specs, name="registered", model="azureml:recommendation-model:1", version="v2"
    )
    created = seed.cli("online-deployment", "create", "--file", str(spec))
    assert created["model"] == "azureml:recommendation-model:1"  # a model reference, as az prints
    try:
        answers = seed.score(3, deployment="registered")
        assert {(s, d) for s, d, _ in answers} == {(200, "registered")}
        assert_version(answers[0][2], "v2")
    finally:
        seed.cli("online-deployment", "delete", "-n", "registered", "-e", EP, "--yes")
    names = [d["name"] for d in seed.cli("online-deployment", "list", "-e", EP)]
    assert names == ["blue", "green"]


def _snapshot(seed: Seed) -> dict[str, Any]:
    """Endpoint, keys, deployments and models, read through the daemon's client."""

    async def read() -> dict[str, Any]:
        backend = create_local_backend({"home": str(seed.platform.home)})
        try:
            endpoint = await backend.get_endpoint(EP)
            deployments = await backend.list_deployments(EP)
            return {
                "endpoint": (
                    endpoint.traffic,
                    endpoint.mirror_traffic,
                    endpoint.scoring_uri,
                    endpoint.tags,
                ),
                "keys": await backend.get_credentials(EP),
                "deployments": [(d.name, d.model, d.instance_count) for d in deployments],
                "models": await backend.list_models(),
            }
        finally:
            await backend.aclose()

    return asyncio.run(read())


def _serving(seed: Seed, key: str) -> None:
    blue = seed.score(3, key=key)
    assert {(s, d) for s, d, _ in blue} == {(200, "blue")}
    green = seed.score(2, deployment="green", key=key)
    assert {(s, d) for s, d, _ in green} == {(200, "green")}
    assert_version(green[0][2], "v2")


def test_down_and_up_bring_everything_back(seed: Seed) -> None:
    before = _snapshot(seed)
    seed.platform.down()
    assert home_processes(seed.platform.home) == []
    back = seed.platform.up()
    assert back["already_running"] is False
    assert _snapshot(seed) == before
    _serving(seed, before["keys"].primary_key)


def test_a_killed_daemon_comes_back_and_its_leftovers_go(seed: Seed) -> None:
    before = _snapshot(seed)
    daemon = seed.platform.pid()
    assert daemon is not None
    orphans = seed.instance_masters("blue") + seed.instance_masters("green")
    assert len(orphans) == 2
    os.kill(daemon, signal.SIGKILL)
    poll(lambda: not process_alive(daemon), what="the daemon to die")

    back = seed.platform.up()
    assert back["already_running"] is False and back["pid"] != daemon
    # Its instances went with it (PR_SET_PDEATHSIG) or as leftovers of the next start.
    assert not any(process_alive(p.pid) for p in orphans)
    assert _snapshot(seed) == before
    _serving(seed, before["keys"].primary_key)
    assert len(seed.instance_masters("blue")) == 1
