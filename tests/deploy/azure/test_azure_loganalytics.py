"""Log Analytics on Azure: the traffic log, and console logs when the live tail has nothing.

The real LogsQueryClient (azure-monitor-query) sends its KQL to the fake Log Analytics
API behind the same transport as the other clients (``tests/support/fake_loganalytics``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from deploy.azure import AzureMLBackend, create_azure_backend
from deploy.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from deploy.types import DeploymentSpec, EndpointSpec, ModelRef
from tests.support.fake_arm import FakeArm
from tests.support.fake_arm_http import Call, FakeCredential
from tests.support.fake_loganalytics import CONSOLE, TRAFFIC
from tests.support.fake_scoring import FakeScoring

ENDPOINT = "product-recommender"


def azure(fake: FakeArm, credential: FakeCredential, **extra: object) -> AzureMLBackend:
    return create_azure_backend(
        {
            "subscription_id": fake.subscription_id,
            "resource_group": fake.resource_group,
            "workspace_name": fake.workspace,
            "credential": credential,
            "transport": fake,
            "progress_interval": 0.05,
            **extra,
        },
        environ={"AZURE_LOG_ANALYTICS_WORKSPACE_ID": fake.log_analytics.workspace_id},
    )


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential()


@pytest.fixture
async def logged(
    fake: FakeArm, scoring: FakeScoring, credential: FakeCredential
) -> AsyncIterator[AzureMLBackend]:
    """The backend with the Log Analytics workspace from $AZURE_LOG_ANALYTICS_WORKSPACE_ID."""
    backend = azure(fake, credential)
    yield backend
    await backend.aclose()


async def deploy(backend: AzureMLBackend, code_dir: Path, **variables: str) -> None:
    await backend.create_or_update_endpoint(EndpointSpec(name=ENDPOINT))
    await backend.register_model("rec", "1", "azureml://datastores/workspaceblobstore/paths/m/")
    for name in ("blue", "green"):
        await backend.create_or_update_deployment(
            DeploymentSpec(
                name=name,
                endpoint_name=ENDPOINT,
                model=ModelRef(name="rec", version="1"),
                code_path=str(code_dir),
                scoring_script="score.py",
                environment_variables=variables if name == "green" else {},
            )
        )


def queries(fake: FakeArm) -> list[Call]:
    return [c for c in fake.calls if c.host == "api.loganalytics.io"]


async def test_the_traffic_log_lists_recent_requests_with_status_and_latency(
    logged: AzureMLBackend, fake: FakeArm, code_dir: Path, credential: FakeCredential
) -> None:
    assert logged.settings.log_analytics_workspace_id == fake.log_analytics.workspace_id
    await deploy(logged, code_dir, FAKE_SCORE_STATUS="503")
    await logged.set_traffic(ENDPOINT, {"blue": 100})
    for _ in range(3):
        assert (await logged.invoke(ENDPOINT, b'{"data": [[1]]}')).status == 200
    assert (await logged.invoke(ENDPOINT, b"{}", deployment="green")).status == 503
    assert await logged.traffic_log(ENDPOINT) == []  # not ingested yet
    fake.log_analytics.wait_for_ingestion()

    records = await logged.traffic_log(ENDPOINT)
    assert [(r.deployment, r.status) for r in records] == [("green", 503)] + [("blue", 200)] * 3
    assert [r.time for r in records] == sorted((r.time for r in records), reverse=True)
    newest = records[0]
    assert (newest.method, newest.path, newest.model_status) == ("POST", "/score", 503)
    assert newest.reason == "Service Unavailable"
    assert newest.total_ms is not None and newest.total_ms >= 0
    assert newest.request_id and newest.time.tzinfo is not None

    sent = queries(fake)[-1]
    assert sent.method == "POST"
    assert sent.path == f"/v1/workspaces/{fake.log_analytics.workspace_id}/query"
    assert sent.headers["authorization"] == "Bearer fake-token"
    assert "https://api.loganalytics.io/.default" in credential.scopes
    kql = sent.body["query"]
    assert kql.startswith("AmlOnlineEndpointTrafficLog\n")
    assert f'| where EndpointName =~ "{ENDPOINT}"' in kql
    assert f'| where AzureMLWorkspaceName =~ "{fake.workspace}"' in kql
    assert "DeploymentName" not in kql.split("| project")[0]
    assert "| top 100 by TimeGenerated desc" in kql
    start, end = sent.body["timespan"].split("/")
    assert start < end

    green = await logged.traffic_log(ENDPOINT, deployment="green", limit=5)
    assert [(r.deployment, r.status) for r in green] == [("green", 503)]
    assert '| where DeploymentName =~ "green"' in queries(fake)[-1].body["query"]
    assert "| top 5 by" in queries(fake)[-1].body["query"]


async def test_traffic_log_arguments_are_checked_before_anything_is_sent(
    logged: AzureMLBackend, backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy(logged, code_dir)
    with pytest.raises(ValidationError, match="between 1 minute and 30 days"):
        await logged.traffic_log(ENDPOINT, window=timedelta(days=31))
    with pytest.raises(ValidationError, match="between 1 and 1000"):
        await logged.traffic_log(ENDPOINT, limit=0)
    with pytest.raises(NotFoundError, match="Deployment 'purple' does not exist"):
        await logged.traffic_log(ENDPOINT, deployment="purple")
    with pytest.raises(ValidationError, match="log_analytics_workspace_id"):
        await backend.traffic_log(ENDPOINT)  # configured without a Log Analytics workspace
    assert not queries(fake)


async def test_an_empty_live_tail_falls_back_to_the_console_log(
    logged: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy(logged, code_dir)
    live = await logged.get_logs(ENDPOINT, "blue", lines=2)
    assert live.splitlines() == [
        "Users's init has completed successfully",
        "Listening at: http://0.0.0.0:31311",
    ]
    assert not queries(fake), "a live tail with lines needs no Log Analytics query"

    fake.ml.logs[(ENDPOINT, "blue")]["InferenceServer"] = []  # the instance was replaced
    fake.log_analytics.wait_for_ingestion()
    archived = await logged.get_logs(ENDPOINT, "blue", lines=3)
    assert archived.splitlines() == [
        "[blue-7d9f8c6b5-x2k4q] Scoring script: score.py",
        "[blue-7d9f8c6b5-x2k4q] Users's init has completed successfully",
        "[blue-7d9f8c6b5-x2k4q] Listening at: http://0.0.0.0:31311",
    ]
    (sent,) = queries(fake)
    kql = sent.body["query"]
    assert kql.startswith(f"{CONSOLE}\n")
    endpoint_id = f"{fake.workspace_id}/onlineEndpoints/{ENDPOINT}"
    assert f'| where _ResourceId =~ "{endpoint_id}"' in kql
    assert '| where DeploymentName =~ "blue"' in kql
    assert '| where ContainerName == "inference-server"' in kql
    assert "| top 3 by TimeGenerated desc" in kql


async def test_an_unreadable_live_tail_falls_back_and_its_error_stands_if_both_fail(
    logged: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy(logged, code_dir)
    getlogs = "/deployments/green/getLogs"
    busy = "No instance of deployment 'green' is running."
    fake.log_analytics.wait_for_ingestion()
    fake.fail_next("POST", getlogs, status=409, code="Conflict", message=busy)
    text = await logged.get_logs(ENDPOINT, "green", lines=1)
    assert text == "[green-7d9f8c6b5-x2k4q] Listening at: http://0.0.0.0:31311"

    fake.log_analytics.drop_table(CONSOLE)
    fake.fail_next("POST", getlogs, status=409, code="Conflict", message=busy)
    with pytest.raises(ConflictError, match="No instance of deployment 'green'"):
        await logged.get_logs(ENDPOINT, "green", lines=1)
    # The storage initializer's log is not archived here: its error is not masked.
    fake.fail_next("POST", getlogs, status=409, code="Conflict", message=busy)
    with pytest.raises(ConflictError):
        await logged.get_logs(ENDPOINT, "green", container="storage-initializer")
    with pytest.raises(NotFoundError, match="Deployment 'purple'"):
        await logged.get_logs(ENDPOINT, "purple")


async def test_the_live_tail_stands_until_log_analytics_has_ingested_rows(
    logged: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy(logged, code_dir)
    getlogs = "/deployments/green/getLogs"
    gone = "No instance of deployment 'green' is running."
    # Right after a failure: the live tail cannot be read and Log Analytics has no rows yet.
    fake.fail_next("POST", getlogs, status=409, code="Conflict", message=gone)
    with pytest.raises(ConflictError) as early:
        await logged.get_logs(ENDPOINT, "green", lines=1)
    assert gone in early.value.message
    assert "ingests them a few minutes late" in early.value.message
    assert queries(fake), "Log Analytics was asked"
    # An empty live tail with nothing ingested yet: the live (empty) tail is shown.
    fake.ml.logs[(ENDPOINT, "green")]["InferenceServer"] = []
    assert await logged.get_logs(ENDPOINT, "green", lines=1) == ""
    # Minutes later the rows are in, and they stand in for the live tail.
    fake.log_analytics.wait_for_ingestion()
    fake.fail_next("POST", getlogs, status=409, code="Conflict", message=gone)
    late = await logged.get_logs(ENDPOINT, "green", lines=1)
    assert late == "[green-7d9f8c6b5-x2k4q] Listening at: http://0.0.0.0:31311"


async def test_log_analytics_queries_are_retried_when_throttled(
    logged: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy(logged, code_dir)
    await logged.invoke(ENDPOINT, b"{}", deployment="blue")
    fake.log_analytics.wait_for_ingestion()
    fake.throttle.next(2)
    records = await logged.traffic_log(ENDPOINT)
    assert [r.deployment for r in records] == ["blue"]
    assert [c.host for c in fake.throttle.throttled[-2:]] == ["api.loganalytics.io"] * 2
    assert fake.throttle.waits[-2:] == [2.0, 2.0]


async def test_without_a_log_analytics_workspace_nothing_is_queried(
    backend: AzureMLBackend, fake: FakeArm, code_dir: Path
) -> None:
    await deploy(backend, code_dir)
    fake.ml.logs[(ENDPOINT, "blue")]["InferenceServer"] = []
    assert await backend.get_logs(ENDPOINT, "blue") == ""
    assert not queries(fake)


async def test_log_analytics_errors_name_the_fix(
    logged: AzureMLBackend, fake: FakeArm, code_dir: Path, credential: FakeCredential
) -> None:
    await deploy(logged, code_dir)
    fake.log_analytics.drop_table(TRAFFIC)
    with pytest.raises(ValidationError, match="diagnostic setting") as missing:
        await logged.traffic_log(ENDPOINT)
    assert "AmlOnlineEndpointTrafficLog" in missing.value.message

    elsewhere = azure(fake, credential, log_analytics_workspace_id="0000-not-here")
    try:
        with pytest.raises(NotFoundError, match="'0000-not-here' was not found"):
            await elsewhere.traffic_log(ENDPOINT)
    finally:
        await elsewhere.aclose()

    fake.forbid("Microsoft.OperationalInsights/workspaces/query/read")
    with pytest.raises(PermissionDeniedError, match="Log Analytics Reader"):
        await logged.traffic_log(ENDPOINT)
