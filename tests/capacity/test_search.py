"""The search and the recommendation on a modelled deployment (no load sent): a deployment
whose P99 and errors are a function of the offered rate, with a knee at a known rate."""

from __future__ import annotations

import math

import pytest

from capacity import (
    CapacityReport,
    DeploymentFacts,
    InvalidSearchError,
    Objective,
    PriceTable,
    Scaling,
    SearchPlan,
    Step,
    answer,
    recommend,
    render_capacity_chart,
    render_plan,
    render_text,
    search,
    to_dict,
)
from capacity.report import window_words
from capacity.search import SearchOutcome

OBJECTIVE = Objective(max_p99_ms=200, max_error_rate=0.001)


class Modelled:
    """A deployment that serves ``capacity`` req/s at 50 ms, then queues (latency) or, with
    ``refuse``, answers 429 beyond it (errors)."""

    def __init__(self, capacity: float, *, refuse: bool = False) -> None:
        self.capacity = capacity
        self.refuse = refuse
        self.rates: list[float] = []

    async def measure(self, rate: float) -> Step:
        self.rates.append(rate)
        over = rate > self.capacity
        p99 = 50.0 if not over or self.refuse else 400.0 + 2000.0 * (rate / self.capacity - 1)
        errors = int(rate - self.capacity) * 10 if over and self.refuse else 0
        sent = int(rate * 10)
        return Step(
            offered_rps=rate,
            achieved_rps=min(rate, self.capacity),
            p50_ms=40.0,
            p99_ms=p99,
            mean_ms=45.0,
            error_rate=errors / sent,
            sent=sent,
            errors=errors,
            status_counts={200: sent - errors, **({429: errors} if errors else {})},
        )


@pytest.mark.parametrize("capacity", [7.0, 37.0, 96.0, 300.0, 1500.0])
async def test_finds_the_knee_within_the_precision(capacity: float) -> None:
    plan = SearchPlan(objective=OBJECTIVE, start_rate=10, max_rate=2000, step_seconds=10)
    model = Modelled(capacity)
    outcome = await search(plan, measure=model.measure)
    assert outcome.capacity_rps <= capacity
    assert outcome.capacity_rps >= capacity * (1 - plan.precision) - 0.01, outcome
    assert outcome.limited_by == "latency"
    assert outcome.knee_fail_rps is not None and outcome.knee_fail_rps > capacity
    assert len(model.rates) <= plan.max_steps
    # The ramp stopped at its first failing step: nothing above it was offered.
    above = [r for r in plan.ramp() if r > capacity]
    assert max(model.rates) == above[0]


async def test_errors_and_the_rate_cap_name_the_limit() -> None:
    plan = SearchPlan(objective=OBJECTIVE, start_rate=10, max_rate=2000, step_seconds=10)
    outcome = await search(plan, measure=Modelled(120, refuse=True).measure)
    assert outcome.limited_by == "errors"
    assert 114 <= outcome.capacity_rps <= 120
    capped = SearchPlan(objective=OBJECTIVE, start_rate=10, max_rate=50, step_seconds=10)
    model = Modelled(500)
    outcome = await search(capped, measure=model.measure)
    assert (outcome.limited_by, outcome.capacity_rps) == ("rate_cap", 50)
    assert model.rates == [10, 20, 40, 50]


async def test_cancel_between_steps_keeps_what_was_measured() -> None:
    plan = SearchPlan(objective=OBJECTIVE, start_rate=10, max_rate=2000, step_seconds=10)
    model = Modelled(500)
    outcome = await search(plan, measure=model.measure, cancelled=lambda: len(model.rates) >= 2)
    assert outcome.cancelled and model.rates == [10, 20]
    assert outcome.capacity_rps == 20


def test_bad_options_are_named() -> None:
    with pytest.raises(InvalidSearchError, match="--max-p99 must be above 0"):
        Objective(max_p99_ms=0)
    with pytest.raises(InvalidSearchError, match="--max-error-rate"):
        Objective(max_p99_ms=100, max_error_rate=2)
    with pytest.raises(InvalidSearchError, match="--step must be above 0"):
        SearchPlan(objective=OBJECTIVE, start_rate=1, max_rate=10, step_seconds=0)
    with pytest.raises(InvalidSearchError, match="--start-rate 20 is above --max-rate 10"):
        SearchPlan(objective=OBJECTIVE, start_rate=20, max_rate=10, step_seconds=1)


def test_the_dry_run_names_steps_load_and_time() -> None:
    plan = SearchPlan(objective=OBJECTIVE, start_rate=10, max_rate=2000, step_seconds=10)
    text = render_plan(plan)
    assert "10, 20, 40, 80, 160, 320, 640, 1280, 2000 req/s" in text
    assert f"at most {plan.max_steps} steps" in text and "at most 2000 req/s" in text
    assert plan.max_steps == 9 + 5  # ramp + ceil(log2(1 / 0.05)) bisections


def _facts(**changes: object) -> DeploymentFacts:
    values: dict[str, object] = {
        "name": "green",
        "instance_type": "Standard_DS3_v2",
        "instances": 1,
        "worker_count": 4,
        "max_concurrent": 4,
        "cpu_percent": 35.0,
    }
    values.update(changes)
    return DeploymentFacts(**values)  # type: ignore[arg-type]


async def _outcome(capacity: float, *, refuse: bool = False) -> SearchOutcome:
    plan = SearchPlan(objective=OBJECTIVE, start_rate=12, max_rate=2000, step_seconds=10)
    return await search(plan, measure=Modelled(capacity, refuse=refuse).measure)


async def test_the_recommendation_follows_from_the_capacity() -> None:
    outcome = await _outcome(96)
    assert outcome.capacity_rps == 96
    facts = _facts()
    rec = recommend(outcome, facts, target_rps=500, headroom=0.3, prices=PriceTable.default())
    assert rec is not None
    assert rec.instance_count == math.ceil(500 * 1.3 / 96) == 7
    assert rec.monthly_cost == pytest.approx(7 * 0.293 * 730)
    # Utilization at the knee by Little's law: 96 req/s × 45 ms over 4 slots = 108%.
    assert rec.autoscale.target_utilization == math.floor(96 * 0.045 / 4 * 100 / 1.3)
    assert (rec.autoscale.min_instances, rec.autoscale.max_instances) == (3, 7)
    report = CapacityReport(
        endpoint="ep", facts=facts, objective=OBJECTIVE, outcome=outcome,
        recommendation=rec, prices=PriceTable.default(),
    )  # fmt: skip
    assert answer(report) == (
        "green serves 96 req/s per instance at P99 ≤ 200 ms (96 req/s on 1 instance, limited by"
        " P99 latency); for 500 req/s with 30% headroom: 7 × Standard_DS3_v2, about $1,497/month."
    )
    data = to_dict(report)
    assert data["recommended_instance_count"] == 7 and data["currency"] == "USD"
    assert data["capacity_rps_per_instance"] == 96 and data["instances_measured"] == 1
    assert [s["passed"] for s in data["steps"]][:5] == [True, True, True, True, False]
    assert render_capacity_chart(report).startswith(b"\x89PNG")


async def test_advice_when_workers_and_concurrency_disagree_or_429_sets_the_knee() -> None:
    outcome = await _outcome(48)
    assert outcome.capacity_rps == 48
    prices = PriceTable.default()
    below = recommend(outcome, _facts(worker_count=1), target_rps=100, headroom=0.3, prices=prices)
    assert below is not None
    assert "Set WORKER_COUNT to 4: expected about 192 req/s per instance" in below.notes[0]
    refused = await _outcome(48, refuse=True)
    rec = recommend(refused, _facts(), target_rps=100, headroom=0.3, prices=prices)
    assert rec is not None and "The knee is set by 429" in rec.notes[0]
    assert "together to 8: expected about 96 req/s" in rec.notes[0]
    busy = recommend(refused, _facts(cpu_percent=95.0), target_rps=100, headroom=0.3, prices=prices)
    assert busy is not None and "CPU-bound at 95%" in busy.notes[0]


def test_prices_are_overridden_from_the_config() -> None:
    table = PriceTable.default().with_overrides({"Standard_DS3_v2": 0.25})
    assert table.hourly("standard_ds3_v2") == 0.25 and table.hourly("Standard_F4s_v2") == 0.169
    euros = PriceTable.default().with_overrides({"Standard_DS3_v2": 0.27}, currency="EUR")
    assert euros.hourly("Standard_F4s_v2") is None and euros.currency == "EUR"
    assert PriceTable.default().hourly("Standard_XYZ") is None


async def test_the_count_follows_the_measured_scaling() -> None:
    outcome = await _outcome(96)
    facts, prices = _facts(), PriceTable.default()
    need = 500 * 1.3

    def count(two_rps: float) -> int:
        scaling = Scaling(one_rps=96, two_rps=two_rps)
        rec = recommend(
            outcome, facts, target_rps=500, headroom=0.3, prices=prices, scaling=scaling
        )
        assert rec is not None
        return rec.instance_count

    # Near-linear (at least 80% of 2×): per instance × count, as without a measurement.
    assert Scaling(one_rps=96, two_rps=180).model == "linear"
    assert count(180) == math.ceil(need / 96) == 7
    # Below 80%: the first instance's 96, then each more adds what the second added (44).
    assert Scaling(one_rps=96, two_rps=140).model == "measured"
    assert count(140) == 1 + math.ceil((need - 96) / 44) == 14
    # Flat (the second added under 10%): the answer says so; the count assumes separate
    # machines rather than an impossible number.
    flat = Scaling(one_rps=96, two_rps=100)
    assert flat.model == "flat" and count(100) == 7
    report = CapacityReport(
        endpoint="ep", facts=facts, objective=OBJECTIVE, outcome=outcome, prices=prices,
        scaling=flat,
        recommendation=recommend(
            outcome, facts, target_rps=500, headroom=0.3, prices=prices, scaling=flat
        ),
    )  # fmt: skip
    text = render_text(report)
    assert "96 req/s on 1 instance, 100 req/s on 2 (1.04×)" in text
    assert "more instances will not serve more here" in text
    scaling = to_dict(report)["scaling"]
    assert (scaling["model"], scaling["factor"]) == ("flat", pytest.approx(1.042, abs=1e-3))


def test_the_peak_is_read_over_the_longest_window_each_backend_keeps() -> None:
    from datetime import timedelta

    from commands.capacity import peak_window
    from deploy.azure.backend import AzureMLBackend
    from deploy.local.control.client import LocalBackend
    from deploy.local.platform import Platform
    from deploy.memory.backend import MemoryBackend

    assert peak_window(AzureMLBackend) == peak_window(MemoryBackend) == timedelta(days=7)  # type: ignore[arg-type]
    assert peak_window(Platform) == peak_window(LocalBackend) == timedelta(days=1)  # type: ignore[arg-type]
    assert window_words(timedelta(days=7)) == "7 days" and window_words(timedelta(days=1)) == "day"
