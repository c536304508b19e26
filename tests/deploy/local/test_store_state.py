"""The platform's SQLite state: round trips, transactions, cascades, persistence."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deploy.local.state.store import DeploymentRecord, EndpointRecord, ProcessRecord, Store
from deploy.types import (
    AutoscalePolicy,
    DeploymentSpec,
    EndpointSpec,
    ModelRef,
    ProbeSettings,
    RegisteredModel,
    RequestSettings,
)


def _endpoint(name: str = "product-recommender", **changes: object) -> EndpointRecord:
    values: dict[str, object] = {
        "spec": EndpointSpec(name=name, auth_mode="aml_token", description="d", tags={"t": "1"}),
        "primary_key": "p-key",
        "secondary_key": "s-key",
        "token_secret": b"\x00\x01secret\xff",
        "traffic": {"blue": 90, "green": 10},
        "mirror_traffic": {"shadow": 20},
        "previous_traffic": {"blue": 100, "green": 0},
        "created_at": 1700000000.5,
    }
    values.update(changes)
    return EndpointRecord(**values)  # type: ignore[arg-type]


def _deployment(endpoint: str = "product-recommender", name: str = "blue") -> DeploymentRecord:
    spec = DeploymentSpec(
        name=name,
        endpoint_name=endpoint,
        model=ModelRef(name="recommendation-model", version="1"),
        code_path="/src",
        scoring_script="score.py",
        instance_count=3,
        request_settings=RequestSettings(
            request_timeout_ms=3000, max_concurrent_requests_per_instance=50
        ),
        liveness_probe=ProbeSettings(initial_delay=0.5, period=1, failure_threshold=3),
        environment_variables={"WORKER_COUNT": "4"},
        autoscale=AutoscalePolicy(min_instances=2, max_instances=10),
    )
    return DeploymentRecord(spec=spec, generation=4, created_at=1700000001.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "state.db")
    yield opened
    opened.close()


def test_endpoint_and_deployment_round_trip(store: Store) -> None:
    store.put_endpoint(_endpoint())
    store.put_deployment(_deployment())
    assert store.endpoints() == [_endpoint()]
    assert store.deployments("product-recommender") == [_deployment()]


def test_put_endpoint_replaces_and_keeps_deployments(store: Store) -> None:
    store.put_endpoint(_endpoint())
    store.put_deployment(_deployment())
    changed = _endpoint(traffic={"blue": 100}, previous_traffic=None, primary_key="new")
    store.put_endpoint(changed)
    assert store.endpoints() == [changed]
    assert [d.name for d in store.deployments("product-recommender")] == ["blue"]


def test_deleting_an_endpoint_deletes_its_deployments(store: Store) -> None:
    store.put_endpoint(_endpoint())
    store.put_endpoint(_endpoint("other-endpoint"))
    store.put_deployment(_deployment())
    store.put_deployment(_deployment("other-endpoint", "green"))
    store.delete_endpoint("product-recommender")
    assert [e.name for e in store.endpoints()] == ["other-endpoint"]
    assert store.deployments("product-recommender") == []
    assert [d.name for d in store.deployments("other-endpoint")] == ["green"]


def test_a_deployment_needs_its_endpoint(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.put_deployment(_deployment("missing-endpoint"))


def test_a_failed_batch_writes_nothing(store: Store) -> None:
    store.put_endpoint(_endpoint())
    with pytest.raises(RuntimeError), store.batch():
        store.put_deployment(_deployment())
        store.put_endpoint(_endpoint(traffic={"blue": 100}))
        raise RuntimeError("failure after the writes")
    assert store.endpoints() == [_endpoint()]
    assert store.deployments("product-recommender") == []


def test_a_batch_commits_together(store: Store) -> None:
    store.put_endpoint(_endpoint())
    store.put_deployment(_deployment())
    with store.batch():
        store.delete_deployment("product-recommender", "blue")
        with store.batch():  # nested: part of the outer transaction
            store.put_endpoint(_endpoint(traffic={}))
    assert store.deployments("product-recommender") == []
    assert store.endpoints()[0].traffic == {}


def test_models_are_immutable_versions(store: Store) -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    model = RegisteredModel(
        name="recommendation-model", version="1", path="/m/1/model", created_at=created
    )
    store.put_model(model)
    store.put_model(RegisteredModel(name="recommendation-model", version="2", path="/m/2/x"))
    assert store.model("recommendation-model", "1") == model
    assert store.model("recommendation-model", "3") is None
    assert [m.version for m in store.models()] == ["1", "2"]
    with pytest.raises(sqlite3.IntegrityError):
        store.put_model(model)


def test_processes_are_recorded_and_forgotten(store: Store) -> None:
    first = ProcessRecord(pid=41, create_time=1.5, endpoint="e", deployment="d", instance="d-1")
    second = ProcessRecord(pid=42, create_time=2.5, endpoint="e", deployment="d", instance="d-2")
    store.put_process(first)
    store.put_process(second)
    store.delete_process(41)
    assert store.processes() == [second]


def test_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.db"
    store = Store.open(path)
    store.put_endpoint(_endpoint())
    store.put_deployment(_deployment())
    store.close()
    reopened = Store.open(path)
    try:
        assert reopened.endpoints() == [_endpoint()]
        assert reopened.deployments("product-recommender") == [_deployment()]
    finally:
        reopened.close()


def test_a_failed_deployment_round_trips(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.db")
    store.put_endpoint(_endpoint())
    failed = replace(_deployment(), failure="Deployment 'blue' failed: instance blue-1 exited")
    store.put_deployment(failed)
    store.close()
    again = Store.open(tmp_path / "state.db")
    try:
        [back] = again.deployments("product-recommender")
        assert back == failed and back.failed
    finally:
        again.close()


def test_an_older_state_db_gets_the_failure_column(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE deployments (endpoint TEXT NOT NULL, name TEXT NOT NULL,"
            " spec TEXT NOT NULL, generation INTEGER NOT NULL, created_at REAL NOT NULL,"
            " PRIMARY KEY (endpoint, name))"
        )
    old.close()
    store = Store.open(path)
    try:
        store.put_endpoint(_endpoint())
        store.put_deployment(_deployment())
        [back] = store.deployments("product-recommender")
        assert back.failure is None and not back.failed
    finally:
        store.close()
