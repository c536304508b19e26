"""The router in front of a real azmlinfsrv instance (Azure's own inference server)."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator

import pytest

from deploy.local.dataplane.router import Router
from deploy.local.dataplane.routes import DeploymentRoute, Upstream
from tests.deploy.local.router_kit import endpoint_route, running_router, score
from tests.support.azmlinfsrv import AzmlinfsrvProcess, start_azmlinfsrv

pytestmark = pytest.mark.slow(budget=30)

ECHO_SCRIPT = textwrap.dedent(
    """
    import json
    import time

    from azureml_inference_server_http.api.aml_response import AMLResponse


    def init():
        print("echo model ready")


    def run(raw_data):
        data = json.loads(raw_data)
        if "sleep" in data:
            time.sleep(data["sleep"])
        if data.get("reject"):
            return AMLResponse({"message": "bad input: " + data["reject"]}, 400, json_str=True)
        if data.get("crash"):
            raise RuntimeError("the model crashed")
        return {"echo": data}
    """
)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzmlinfsrvProcess]:
    folder = tmp_path_factory.mktemp("echo-model")
    script = folder / "score.py"
    script.write_text(ECHO_SCRIPT)
    (folder / "model").mkdir()
    server = start_azmlinfsrv(
        entry_script=script, model_dir=folder / "model", log_path=folder / "azmlinfsrv.log"
    )
    yield server
    server.stop()


@pytest.fixture
async def router(instance: AzmlinfsrvProcess) -> AsyncIterator[Router]:
    upstream = Upstream(instance="echo-1", url=instance.base_url)
    # Two seconds: a quick answer on two loaded cores stays inside it; the slow run's 4 s not.
    deployment = DeploymentRoute(name="echo", upstreams=(upstream,), request_timeout_ms=2000)
    async with running_router() as router:
        router.update(endpoint_route("demo", {"echo": 100}, deployment))
        yield router


async def test_a_scoring_request_is_answered_by_the_instance(router: Router) -> None:
    answer = await score(router, "demo", body=b'{"data": [1, 2]}')
    assert answer.status == 200
    assert answer.deployment == "echo"
    assert answer.json() == {"echo": {"data": [1, 2]}}
    assert "x-ms-run-fn-exec-ms" in answer.headers  # azmlinfsrv's own header, passed on


async def test_a_model_answering_400_gives_424_with_its_body(router: Router) -> None:
    answer = await score(router, "demo", body=b'{"reject": "no user_id"}')
    assert answer.status == 424
    assert answer.headers["ms-azureml-model-error-statuscode"] == "400"
    assert answer.headers["ms-azureml-model-error-reason"] == "BAD REQUEST"
    assert answer.json() == {"message": "bad input: no user_id"}
    assert answer.deployment == "echo"


async def test_a_crashing_run_gives_424_with_status_500(router: Router) -> None:
    answer = await score(router, "demo", body=b'{"crash": true}')
    assert answer.status == 424
    assert answer.headers["ms-azureml-model-error-statuscode"] == "500"
    assert answer.headers.get("x-ms-run-function-failed") == "True"


async def test_swagger_comes_from_the_instance(router: Router) -> None:
    answer = await score(router, "demo", path="swagger.json", method="GET", query="version=3")
    assert answer.status == 200
    assert answer.deployment == "echo"
    assert answer.json()["openapi"].startswith("3.")
    unknown = await score(router, "demo", path="swagger.json", method="GET", query="version=9")
    assert unknown.status == 404  # the instance's own answer, passed through


async def test_a_slow_run_gives_408(router: Router, instance: AzmlinfsrvProcess) -> None:
    answer = await score(router, "demo", body=b'{"sleep": 4.0}')
    assert answer.status == 408
    assert answer.deployment == "echo"
    assert "echo model ready" in instance.log_text()
