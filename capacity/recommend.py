"""From a capacity to a recommendation: instances with headroom, an autoscale policy, cost,
and what to change when workers and concurrency disagree or 429s set the knee.

    rec = recommend(outcome, facts, target_rps=500, headroom=0.3, prices=PriceTable.default())
    rec.instance_count, rec.autoscale, rec.monthly_cost, rec.advice
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from capacity import messages
from capacity.pricing import HOURS_PER_MONTH, PriceTable
from capacity.search import SearchOutcome, Step

__all__ = [
    "AutoscaleAdvice",
    "DeploymentFacts",
    "Recommendation",
    "Scaling",
    "ScalingModel",
    "knee_utilization",
    "recommend",
]

#: Azure's limit of instances per deployment.
AZURE_MAX_INSTANCES = 50
#: Azure ML advises at least three instances for production deployments (availability).
PRODUCTION_MIN = 3
#: CPU at the knee above this: the model is CPU-bound (more workers will not help).
CPU_BOUND_PERCENT = 80.0
#: Two instances serving at least this share of twice one instance's capacity: linear.
LINEAR_EFFICIENCY = 0.8
#: A second instance adding less than this share of the first's capacity: flat (one machine).
FLAT_GAIN = 0.1

#: How the instance count follows from a scaling measurement: ``linear`` (per-instance
#: capacity × count), ``measured`` (each instance past the first adds what the second added),
#: ``flat`` (the second added next to nothing: the count assumes separate machines).
ScalingModel = Literal["linear", "measured", "flat"]


@dataclass(frozen=True, kw_only=True)
class Scaling:
    """Capacity measured on 1 and on 2 instances (the local platform's ``--scaling``)."""

    one_rps: float
    two_rps: float
    #: The 2-instance search's steps.
    two_steps: tuple[Step, ...] = ()

    @property
    def factor(self) -> float:
        """How many times the 1-instance capacity 2 instances serve."""
        return self.two_rps / self.one_rps if self.one_rps else 0.0

    @property
    def efficiency(self) -> float:
        """The 2-instance capacity over twice the 1-instance one (1.0: linear)."""
        return self.factor / 2

    @property
    def gain_rps(self) -> float:
        """What the second instance added (req/s)."""
        return self.two_rps - self.one_rps

    @property
    def model(self) -> ScalingModel:
        """Linear at ``LINEAR_EFFICIENCY`` or better; flat when the second instance added
        less than ``FLAT_GAIN`` of the first's capacity; else the measured gain is used."""
        if self.efficiency >= LINEAR_EFFICIENCY:
            return "linear"
        if self.factor - 1 < FLAT_GAIN:
            return "flat"
        return "measured"

    def instances_for(self, rate: float) -> int:
        """Instances to serve ``rate`` req/s: linear and flat divide by the 1-instance
        capacity (flat: as separate machines would, which the answer says); measured
        counts the first instance's capacity and then the second's gain for each more."""
        if self.model != "measured" or rate <= self.one_rps:
            return max(1, math.ceil(rate / self.one_rps - 1e-9))
        return 1 + math.ceil((rate - self.one_rps) / self.gain_rps - 1e-9)


@dataclass(frozen=True, kw_only=True)
class DeploymentFacts:
    """What the search knew of the deployment."""

    name: str
    instance_type: str
    instances: int
    #: ``WORKER_COUNT`` from its environment variables (the server's default 1 when unset).
    worker_count: int
    max_concurrent: int
    #: Highest CPU of its instances while the search ran (percent), when the backend reports it.
    cpu_percent: float | None = None


@dataclass(frozen=True, kw_only=True)
class AutoscaleAdvice:
    """A target-utilization policy that keeps the deployment at or under its knee."""

    min_instances: int
    max_instances: int
    target_utilization: int


@dataclass(frozen=True, kw_only=True)
class Recommendation:
    """The answer for ``target_rps``; costs ``None`` when the instance type is not priced."""

    target_rps: float
    headroom: float
    instance_count: int
    autoscale: AutoscaleAdvice
    hourly_cost: float | None
    monthly_cost: float | None
    currency: str
    price_per_hour: float | None
    notes: tuple[str, ...]


def knee_utilization(outcome: SearchOutcome, facts: DeploymentFacts) -> float | None:
    """Utilization at the knee (percent): requests in flight (Little's law: achieved rate ×
    mean latency) over ``max_concurrent_requests_per_instance × instances``, the local
    autoscaler's metric."""
    step = outcome.knee_step
    if step is None or step.mean_ms is None:
        return None
    in_flight = step.achieved_rps * step.mean_ms / 1000
    return 100 * in_flight / (facts.max_concurrent * max(facts.instances, 1))


def recommend(
    outcome: SearchOutcome,
    facts: DeploymentFacts,
    *,
    target_rps: float,
    headroom: float,
    prices: PriceTable,
    per_instance_rps: float | None = None,
    scaling: Scaling | None = None,
) -> Recommendation | None:
    """The recommendation, or ``None`` when nothing passed (no capacity to divide by).

    ``per_instance_rps`` defaults to capacity / instances measured (a scaling measurement may
    give a better figure). Instances: ceil(target × (1 + headroom) / per instance), or with
    ``scaling`` (1 and 2 instances measured) its ``instances_for`` that rate. The
    autoscale target is the knee's utilization divided by (1 + headroom), so the autoscaler
    adds instances before any reaches its knee; max is the headroom count (the peak), min the
    production minimum of three, or fewer when fewer suffice.
    """
    if scaling is not None and scaling.one_rps > 0:
        per_instance_rps = scaling.one_rps
    per_instance = per_instance_rps or outcome.capacity_rps / max(facts.instances, 1)
    if per_instance <= 0:
        return None
    need = target_rps * (1 + headroom)
    if scaling is not None and scaling.one_rps > 0:
        count = scaling.instances_for(need)
    else:
        count = max(1, math.ceil(need / per_instance - 1e-9))
    knee = knee_utilization(outcome, facts)
    target_util = 70 if knee is None else max(10, min(90, math.floor(knee / (1 + headroom))))
    autoscale = AutoscaleAdvice(
        min_instances=min(count, PRODUCTION_MIN),
        max_instances=max(count, 1),
        target_utilization=target_util,
    )
    price = prices.hourly(facts.instance_type)
    hourly = None if price is None else price * count
    notes: list[str] = []
    if count > AZURE_MAX_INSTANCES:
        notes.append(messages.OVER_AZURE_MAX.format(count=count))
    notes.extend(advice(outcome, facts, per_instance))
    return Recommendation(
        target_rps=target_rps,
        headroom=headroom,
        instance_count=count,
        autoscale=autoscale,
        hourly_cost=hourly,
        monthly_cost=None if hourly is None else hourly * HOURS_PER_MONTH,
        currency=prices.currency,
        price_per_hour=price,
        notes=tuple(notes),
    )


def _cpu(facts: DeploymentFacts) -> str:
    return messages.NOT_AVAILABLE if facts.cpu_percent is None else f"{facts.cpu_percent:.0f}%"


def advice(outcome: SearchOutcome, facts: DeploymentFacts, per_instance: float) -> list[str]:
    """What to change: WORKER_COUNT and max_concurrent_requests_per_instance disagreeing, or a
    knee set by 429s; each with the capacity expected after the change (for a model that
    waits rather than computes: a CPU-bound one gains nothing from more workers)."""
    workers, concurrent = facts.worker_count, facts.max_concurrent
    cpu_bound = facts.cpu_percent is not None and facts.cpu_percent >= CPU_BOUND_PERCENT
    notes: list[str] = []
    if workers < concurrent:
        expected = per_instance if cpu_bound else per_instance * concurrent / workers
        notes.append(
            messages.WORKERS_BELOW.format(
                workers=workers,
                concurrent=concurrent,
                s="" if workers == 1 else "s",
                expected=expected,
                cpu=_cpu(facts),
            )
        )
    elif workers > concurrent:
        # The router admits 2 × max_concurrent in flight per instance; workers beyond it idle.
        usable = min(workers, 2 * concurrent)
        expected = per_instance if cpu_bound else per_instance * workers / usable
        notes.append(
            messages.WORKERS_ABOVE.format(
                workers=workers, concurrent=concurrent, limit=2 * concurrent, expected=expected
            )
        )
    knee = next((s for s in outcome.steps if s.offered_rps == outcome.knee_fail_rps), None)
    if outcome.limited_by == "errors" and knee is not None and workers == concurrent:
        too_many = knee.status_counts.get(429, 0)
        if too_many and too_many * 2 >= knee.errors:
            expected = per_instance if cpu_bound else per_instance * 2
            text = messages.KNEE_BY_429.format(
                next=concurrent * 2, expected=expected, cpu=_cpu(facts)
            )
            if cpu_bound:
                text += messages.CPU_BOUND.format(cpu=_cpu(facts))
            notes.append(text)
    return notes
