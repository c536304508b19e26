"""``commands.capacity`` against Azure-on-the-fake: the azure-ai-ml backend on the fake ARM
service, whose scoring URIs (``tests/support/fake_scoring.py``) answer after a fixed delay on
a fixed number of workers, so the deployment's capacity is known (workers / delay). The search
drives the scoring URI and key the backend reports, with the deployment header; it must find
that capacity within 15%. Parsing: each bad option is named and nothing is sent.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from capacity import PriceTable
from commands import capacity
from commands.errors import UsageError
from deploy.errors import ValidationError
from deploy.types import EndpointSpec, ModelRef
from loadtest import Limits
from tests.contract.backends import azure_on_fake

EP = "capacity-ep"
DELAY_MS = 25
WORKERS = 2
TRUTH = WORKERS / (DELAY_MS / 1000)  # 80 req/s


@pytest.mark.slow(budget=200)
async def test_finds_the_fake_azure_deployments_capacity(tmp_path: Path) -> None:
    async with azure_on_fake(tmp_path) as case:
        backend = case.backend
        await backend.create_or_update_endpoint(EndpointSpec(name=EP))
        await backend.register_model("capacity-model", "1", case.model_source("1"))
        model = ModelRef(name="capacity-model", version="1")
        env = {"WORKER_COUNT": str(WORKERS), "FAKE_SCORE_DELAY_MS": str(DELAY_MS)}
        spec = case.deployment(EP, "green", model, environment_variables=env)
        await backend.create_or_update_deployment(spec)
        request = capacity.parse(
            f"{EP} green --max-p99 120ms --start-rate 20 --max-rate 300 --step 2s"
            " --target-rate 1000"
        )
        assert isinstance(request, capacity.CapacityRequest)
        limits = Limits(allow_only_loopback=backend.loopback_only)
        prepared = await capacity.prepare(backend, request, limits=limits, body=b'{"data": [1]}')
        assert prepared.url == (await backend.get_endpoint(EP)).scoring_uri
        assert prepared.headers["Authorization"].startswith("Bearer ")
        assert prepared.live_weight == 0  # no traffic yet: no confirmation needed
        report = await capacity.measure(
            backend, prepared, headroom=0.3, prices=PriceTable.default()
        )
    found = report.outcome.capacity_rps
    assert abs(found - TRUTH) / TRUTH <= 0.15, report.outcome.steps
    assert report.facts.worker_count == WORKERS and report.facts.instances == 1
    rec = report.recommendation
    assert rec is not None and not report.target_from_peak
    assert rec.instance_count == math.ceil(1000 * 1.3 / found)
    assert rec.monthly_cost == pytest.approx(rec.instance_count * 0.293 * 730)
    # WORKER_COUNT 2 with the default max_concurrent_requests_per_instance of 1: named.
    assert any("max_concurrent_requests_per_instance is 1" in note for note in rec.notes)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("my-ep", "Name the endpoint and the deployment"),
        ("my-ep green", "`--max-p99` is required"),
        ("my-ep green --max-p99 soon", "`--max-p99`"),
        ("my-ep green --max-p99 200 --max-error-rate lots", "`--max-error-rate` 'lots'"),
        ("my-ep green --max-p99 200 --step 0", "`--step` must be above 0"),
        ("my-ep green --max-p99 200 --start-rate 50 --max-rate 20", "--start-rate 50 is above"),
        ("my-ep green --max-p99 200 --rate 5", "--rate"),
        ("Bad_Name green --max-p99 200", "Bad_Name"),
    ],
)
def test_bad_options_are_named(text: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        capacity.parse(text)
    assert problem in str(caught.value), str(caught.value)


def test_units_of_the_options() -> None:
    parsed = capacity.parse("my-ep green --max-p99 0.2s --max-error-rate 1% --step 1m --dry-run")
    assert isinstance(parsed, capacity.CapacityRequest)
    assert (parsed.max_p99_ms, parsed.max_error_rate, parsed.step) == (200, 0.01, 60)
    assert parsed.dry_run
    assert capacity.p99_ms("150") == 150 and capacity.error_rate("0.1") == pytest.approx(0.001)
    with pytest.raises(ValidationError):
        capacity.error_rate("150%")
