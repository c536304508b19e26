"""/deploy: parsing, the clone's source, the spec folder, and the result's views."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from commands import deploy
from commands.deploy import DeployFromModel, DeployFromSpec, DeployHelp, plan, resolve_spec_file
from commands.deploy_view import render_done, render_failed, render_progress
from commands.errors import UsageError
from deploy.errors import DeploymentFailedError, FlightdeckError, NotFoundError, ValidationError
from deploy.memory import MemoryBackend as FakeBackend
from deploy.types import DeploymentSpec, ModelRef

EP = "product-recommender"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "product-recommender"


def test_parse() -> None:
    assert deploy.parse("help") == DeployHelp()
    assert deploy.parse("--spec green.yml") == DeployFromSpec(spec_file="green.yml")
    assert deploy.parse(
        f"{EP} green --model azureml:recommendation-model:2 --instance-count 3 --instance-type S"
    ) == DeployFromModel(
        endpoint=EP,
        deployment="green",
        model=ModelRef(name="recommendation-model", version="2"),
        instance_type="S",
        instance_count=3,
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "Name the endpoint and the deployment"),
        (f"{EP} green", "Give the model to deploy"),
        (f"{EP} green --model m", "`--model m` must be `<name>:<version>`"),
        (f"{EP} green --model m:1 --instance-count 51", "between 1 and 50"),
        (f"{EP} green extra --model m:1", "Unexpected words: `extra`"),
        (f"{EP} green-- --model m:1", "Invalid deployment name"),
        ("--spec a.yml pr", "`--spec` comes alone"),
        ("--spec a.yml --server turbo", "`--server turbo` is not a server"),
        (f"{EP} green --model m:1 --server Fast", "`--server Fast` is not a server"),
    ],
)
def test_parse_errors(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        deploy.parse(text)
    assert problem in caught.value.problem


async def test_a_new_deployment_clones_the_live_one(backend: FakeBackend) -> None:
    request = deploy.parse(f"{EP} canary --model recommendation-model:2")
    assert isinstance(request, DeployFromModel)
    planned = await plan(backend, request, spec_folder=None)
    assert (planned.exists, planned.source) == (False, "blue")
    assert planned.spec.model == ModelRef(name="recommendation-model", version="2")
    request = deploy.parse(f"{EP} green --model recommendation-model:1 --instance-count 4")
    assert isinstance(request, DeployFromModel)
    planned = await plan(backend, request, spec_folder=None)
    assert (planned.exists, planned.source, planned.spec.instance_count) == (True, "green", 4)


def test_parse_server() -> None:
    assert deploy.parse("--spec green.yml --server fast") == DeployFromSpec(
        spec_file="green.yml", server="fast"
    )
    request = deploy.parse(f"{EP} green --server=azmlinfsrv --model recommendation-model:2")
    assert isinstance(request, DeployFromModel) and request.server == "azmlinfsrv"
    assert deploy.parse(f"{EP} green --model recommendation-model:2") == DeployFromModel(
        endpoint=EP, deployment="green", model=ModelRef(name="recommendation-model", version="2")
    )


async def test_server_goes_into_the_specs_environment(backend: FakeBackend, tmp_path: Path) -> None:
    request = deploy.parse(f"{EP} canary --model recommendation-model:2 --server fast")
    assert isinstance(request, DeployFromModel)
    planned = await plan(backend, request, spec_folder=None)
    without = deploy.parse(f"{EP} canary --model recommendation-model:2")
    assert isinstance(without, DeployFromModel)
    plain = await plan(backend, without, spec_folder=None)
    # The clone as it would be, with the variable added to its own.
    assert planned.spec == replace(
        plain.spec,
        environment_variables={**plain.spec.environment_variables, "FLIGHTDECK_SERVER": "fast"},
    )
    assert "FLIGHTDECK_SERVER" not in plain.spec.environment_variables
    # The sample's YAML, laid out as in the repository (../../scoring, ./model-v1).
    folder = tmp_path / "examples" / "specs"
    shutil.copytree(EXAMPLE, folder)
    (tmp_path / "scoring").mkdir()
    (tmp_path / "scoring" / "score.py").write_text("def init(): pass\n")
    from_file = deploy.parse("--spec blue-deployment --server fast")
    assert isinstance(from_file, DeployFromSpec)
    planned = await plan(backend, from_file, spec_folder=folder)
    assert planned.spec.environment_variables == {"WORKER_COUNT": "2", "FLIGHTDECK_SERVER": "fast"}


async def test_plan_checks(backend: FakeBackend) -> None:
    with pytest.raises(NotFoundError, match="not registered"):
        await plan(
            backend,
            DeployFromModel(
                endpoint=EP,
                deployment="x-1",
                model=ModelRef(name="recommendation-model", version="7"),
            ),
            spec_folder=None,
        )
    with pytest.raises(NotFoundError, match="Endpoint 'nowhere' does not exist"):
        await plan(
            backend,
            DeployFromModel(
                endpoint="nowhere",
                deployment="x-1",
                model=ModelRef(name="recommendation-model", version="1"),
            ),
            spec_folder=None,
        )
    await backend.set_traffic(EP, {"blue": 0, "green": 0})
    with pytest.raises(ValidationError, match="no live deployment to clone"):
        await plan(
            backend,
            DeployFromModel(
                endpoint=EP,
                deployment="x-1",
                model=ModelRef(name="recommendation-model", version="1"),
            ),
            spec_folder=None,
        )


def test_spec_files_come_from_the_folder_only(tmp_path: Path) -> None:
    folder = tmp_path / "specs"
    (folder / "team").mkdir(parents=True)
    (folder / "team" / "green.yaml").write_text("name: green\n")
    (tmp_path / "outside.yml").write_text("x: 1\n")
    assert resolve_spec_file(folder, "team/green") == folder / "team" / "green.yaml"
    with pytest.raises(ValidationError, match="outside the spec folder"):
        resolve_spec_file(folder, "../outside.yml")
    with pytest.raises(ValidationError, match="outside the spec folder"):
        resolve_spec_file(folder, str(tmp_path / "outside.yml"))
    with pytest.raises(ValidationError, match=r"files there: team/green.yaml"):
        resolve_spec_file(folder, "blue.yml")
    with pytest.raises(FlightdeckError, match="folder that is not configured"):
        resolve_spec_file(None, "green.yml")


async def test_views(backend: FakeBackend) -> None:
    request = deploy.parse(f"{EP} canary --model recommendation-model:2")
    assert isinstance(request, DeployFromModel)
    planned = await plan(backend, request, spec_folder=None)
    lines = [f"line {i}" for i in range(40)]
    progress = render_progress(planned, lines, user="<@U1>").block_dicts()
    assert "line 39" in progress[2]["text"]["text"] and "line 27" not in progress[2]["text"]["text"]
    deployment = await backend.create_or_update_deployment(planned.spec)
    endpoint = await backend.get_endpoint(EP)
    done = render_done(planned, deployment, endpoint, user="<@U1>").block_dicts()
    assert done[-1]["elements"][0]["text"]["text"] == "Shift 10% to canary"
    assert '"deployment": "canary"' in done[-1]["elements"][0]["value"]
    failure = DeploymentFailedError(
        "init() failed", log_lines=tuple(f"log {i}" for i in range(900))
    )
    failed = render_failed(planned, failure, user="<@U1>").block_dicts()
    assert failed[-1]["text"]["text"].endswith("log 899\n```")
    assert len(failed[-1]["text"]["text"]) <= 3000
    assert isinstance(planned.spec, DeploymentSpec)
