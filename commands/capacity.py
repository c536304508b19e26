"""``/capacity``: the deployment's capacity at its P99 objective, and what to run for a target.

    /capacity <endpoint> <deployment> --max-p99 200ms [--max-error-rate 0.1%]
              [--target-rate 500] [--max-rate 2000] [--start-rate 10] [--step 10s] [--dry-run]

``parse`` gives the typed request; ``prepare`` resolves it against a backend (scoring URI,
key, the swagger's sample input or a given body, the deployment's instances, workers and
concurrency; the caps checked for every step before anything is sent); ``measure`` runs the
search and builds the ``capacity.CapacityReport`` with its recommendation. The CLI's
``flightdeck capacity`` uses the same three. Errors a user can act on come out as
``ValidationError``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import ClassVar

from base.durations import DurationError, format_duration, parse_duration
from capacity import (
    CapacityError,
    CapacityReport,
    DeploymentFacts,
    LoadStepper,
    Objective,
    PriceTable,
    Scaling,
    SearchOutcome,
    SearchPlan,
    Step,
    StepProgress,
    recommend,
    search,
)
from capacity import messages as capacity_messages
from commands import messages
from commands.args import is_help, parse_args
from commands.errors import UsageError
from commands.loadtest import LoadtestRequest
from commands.loadtest import prepare as prepare_loadtest
from deploy.backend import Backend
from deploy.errors import FlightdeckError, ValidationError
from deploy.rules import validate_name
from deploy.types import Deployment, Endpoint
from loadtest import Limits, LoadTestError

__all__ = [
    "HELP",
    "CapacityHelp",
    "CapacityRequest",
    "Prepared",
    "error_rate",
    "live_weight",
    "measure",
    "p99_ms",
    "parse",
    "peak_rate",
    "peak_window",
    "prepare",
    "step_seconds",
]

HELP = messages.CAPACITY_HELP
_OPTIONS = {
    "--max-p99",
    "--max-error-rate",
    "--target-rate",
    "--max-rate",
    "--start-rate",
    "--step",
}
_FLAGS = {"--dry-run", "--scaling"}
DEFAULT_START_RATE = 10.0
DEFAULT_STEP = 10.0
#: When neither --max-rate nor a lower cap is given, the ramp stops here (req/s).
DEFAULT_MAX_RATE = 2000.0
#: The peak is read over the last 7 days, or the longest window the backend keeps (a day on
#: the local platform).
PEAK_WINDOW = timedelta(days=7)


@dataclass(frozen=True, kw_only=True)
class CapacityHelp:
    """``/capacity help``."""

    writes: ClassVar[bool] = False


@dataclass(frozen=True, kw_only=True)
class CapacityRequest:
    """``/capacity <endpoint> <deployment> ...``: loads the deployment, so deployers only."""

    writes: ClassVar[bool] = True
    endpoint: str
    deployment: str
    max_p99_ms: float
    #: A fraction (``0.1%`` is 0.001).
    max_error_rate: float = 0.001
    target_rate: float | None = None
    max_rate: float | None = None
    start_rate: float = DEFAULT_START_RATE
    #: Seconds.
    step: float = DEFAULT_STEP
    dry_run: bool = False
    #: Measure on 1 and on 2 instances (the local platform only), then restore the count.
    scaling: bool = False

    def objective(self) -> Objective:
        """The P99 objective and error budget."""
        return Objective(max_p99_ms=self.max_p99_ms, max_error_rate=self.max_error_rate)

    def plan(self, limits: Limits) -> SearchPlan:
        """The search's steps: up to ``--max-rate``, never above the configured rate cap."""
        cap = min(self.max_rate or DEFAULT_MAX_RATE, limits.max_rate)
        return SearchPlan(
            objective=self.objective(),
            start_rate=min(self.start_rate, cap),
            max_rate=cap,
            step_seconds=self.step,
        )


def p99_ms(raw: str) -> float:
    """``--max-p99``: ``200ms``, ``0.2s``; a bare number is milliseconds (latency objectives
    are written in ms everywhere: alerts, rollouts); ``ValidationError`` naming the flag."""
    try:
        if raw.strip().replace(".", "", 1).isdigit():
            value = float(raw)
        else:
            value = parse_duration(raw).total_seconds() * 1000
    except DurationError as exc:
        raise ValidationError(messages.CAPACITY_BAD_P99.format(problem=exc)) from None
    if not value > 0:
        raise ValidationError(messages.LOADTEST_NOT_POSITIVE.format(option="--max-p99"))
    return value


def error_rate(raw: str) -> float:
    """``--max-error-rate``: ``0.1%`` or ``0.1`` (a bare number is a percentage, as the
    rollouts' ``max_error_rate``), as a fraction."""
    text = raw.strip().removesuffix("%")
    try:
        value = float(text)
    except ValueError:
        raise ValidationError(messages.CAPACITY_BAD_ERROR_RATE.format(value=raw)) from None
    if not 0 <= value <= 100:
        raise ValidationError(messages.CAPACITY_BAD_ERROR_RATE.format(value=raw))
    return value / 100


def step_seconds(raw: str) -> float:
    """``--step``: ``10s``, ``2m``; a bare number is seconds."""
    try:
        value = parse_duration(raw).total_seconds()
    except DurationError as exc:
        raise ValidationError(messages.CAPACITY_BAD_STEP.format(problem=exc)) from None
    if not value > 0:
        raise ValidationError(messages.LOADTEST_NOT_POSITIVE.format(option="--step"))
    return value


def _rate(raw: str | None, option: str) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(messages.NOT_A_NUMBER.format(what=option, value=raw)) from None
    if not value > 0 or not math.isfinite(value):
        raise ValidationError(messages.LOADTEST_NOT_POSITIVE.format(option=option))
    return value


def build_request(
    *,
    endpoint: str,
    deployment: str,
    max_p99: str | None,
    max_error_rate: str | None = None,
    target_rate: str | None = None,
    max_rate: str | None = None,
    start_rate: str | None = None,
    step: str | None = None,
    dry_run: bool = False,
    scaling: bool = False,
) -> CapacityRequest:
    """The checked request from option texts (the slash command's and the CLI's);
    ``ValidationError`` naming the option."""
    validate_name("endpoint", endpoint)
    validate_name("deployment", deployment)
    if max_p99 is None:
        raise ValidationError(messages.CAPACITY_NEEDS_P99)
    request = CapacityRequest(
        endpoint=endpoint,
        deployment=deployment,
        max_p99_ms=p99_ms(max_p99),
        max_error_rate=0.001 if max_error_rate is None else error_rate(max_error_rate),
        target_rate=_rate(target_rate, "--target-rate"),
        max_rate=_rate(max_rate, "--max-rate"),
        start_rate=_rate(start_rate, "--start-rate") or DEFAULT_START_RATE,
        step=DEFAULT_STEP if step is None else step_seconds(step),
        dry_run=dry_run,
        scaling=scaling,
    )
    try:
        if request.max_rate is not None and request.start_rate > request.max_rate:
            SearchPlan(
                objective=request.objective(),
                start_rate=request.start_rate,
                max_rate=request.max_rate,
                step_seconds=request.step,
            )
        request.plan(Limits(allow_only_loopback=False))
    except CapacityError as exc:
        raise ValidationError(_sentence(str(exc))) from None
    return request


def parse(text: str) -> CapacityHelp | CapacityRequest:
    """The typed request for ``text``; ``UsageError`` naming what is wrong."""
    if is_help(text):
        return CapacityHelp()
    args = parse_args(text, help_text=HELP, options=_OPTIONS, flags=_FLAGS)
    if len(args.positionals) < 2:
        raise args.usage(messages.CAPACITY_NO_TARGET)
    if len(args.positionals) > 2:
        raise args.usage(messages.UNEXPECTED.format(words=" ".join(args.positionals[2:])))
    option = args.options.get
    try:
        return build_request(
            endpoint=args.positionals[0],
            deployment=args.positionals[1],
            max_p99=option("--max-p99"),
            max_error_rate=option("--max-error-rate"),
            target_rate=option("--target-rate"),
            max_rate=option("--max-rate"),
            start_rate=option("--start-rate"),
            step=option("--step"),
            dry_run="--dry-run" in args.flags,
            scaling="--scaling" in args.flags,
        )
    except ValidationError as exc:
        raise UsageError(exc.message, help_text=HELP) from None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def live_weight(endpoint: Endpoint, deployment: str) -> int:
    """The deployment's share of live (or mirrored) traffic, in percent."""
    return max(endpoint.traffic.get(deployment, 0), endpoint.mirror_traffic.get(deployment, 0))


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A request resolved against the backend, every step's plan checked against the caps."""

    request: CapacityRequest
    plan: SearchPlan
    endpoint: Endpoint
    deployment: Deployment
    url: str
    headers: dict[str, str]
    body: bytes
    limits: Limits

    @property
    def live_weight(self) -> int:
        """Percent of live (or mirrored) traffic the deployment takes."""
        return live_weight(self.endpoint, self.request.deployment)

    @property
    def max_seconds(self) -> float:
        """The longest the search loads the deployment (twice the plan's with ``--scaling``)."""
        return self.plan.max_seconds * (2 if self.request.scaling else 1)

    def live_warning(self) -> str:
        """What loading a live deployment means."""
        text = messages.CAPACITY_LIVE.format(
            deployment=self.request.deployment,
            endpoint=self.request.endpoint,
            weight=self.live_weight,
            max_rate=self.plan.max_rate,
            seconds=format_duration(timedelta(seconds=round(self.max_seconds))),
        )
        if self.request.scaling:
            text += " " + self.scaling_note()
        return text

    def scaling_note(self) -> str:
        """What ``--scaling`` does to the instance count."""
        return messages.CAPACITY_SCALING_PLAN.format(
            deployment=self.request.deployment, count=self.deployment.instance_count
        )

    def facts(
        self, *, cpu_percent: float | None = None, instances: int | None = None
    ) -> DeploymentFacts:
        """What the report needs to know of the deployment."""
        dep = self.deployment
        raw_workers = dep.environment_variables.get("WORKER_COUNT", "1")
        workers = int(raw_workers) if raw_workers.strip().isdigit() else 1
        return DeploymentFacts(
            name=dep.name,
            instance_type=dep.instance_type,
            instances=instances
            or (max(dep.ready_instances, 1) if dep.instances else dep.instance_count),
            worker_count=max(workers, 1),
            max_concurrent=dep.request_settings.max_concurrent_requests_per_instance,
            cpu_percent=cpu_percent,
        )

    def stepper(
        self,
        *,
        progress: Callable[[StepProgress], Awaitable[None]] | None = None,
        progress_interval: float = 1.0,
        cancel: asyncio.Event | None = None,
    ) -> LoadStepper:
        """The stepper that sends the search's load."""
        return LoadStepper(
            url=self.url,
            headers=self.headers,
            body=self.body,
            deployment=self.request.deployment,
            objective=self.plan.objective,
            step_seconds=self.plan.step_seconds,
            limits=self.limits,
            progress=progress,
            progress_interval=progress_interval,
            cancel=cancel,
        )


async def prepare(
    backend: Backend,
    request: CapacityRequest,
    *,
    limits: Limits,
    body: bytes | None = None,
    url: str | None = None,
) -> Prepared:
    """Resolve and check: the deployment exists and has a ready instance, and every step of
    the plan fits the configured caps (rate, requests and duration of one load test: each
    step is one), before anything is sent."""
    plan = request.plan(limits)
    load = LoadtestRequest(
        endpoint=request.endpoint,
        deployment=request.deployment,
        rate=plan.max_rate,
        duration=request.step,
    )
    checked = await prepare_loadtest(backend, load, limits=limits, body=body, url=url)
    endpoint = await backend.get_endpoint(request.endpoint)
    deployment = await backend.get_deployment(request.endpoint, request.deployment)
    if deployment.instances and deployment.ready_instances == 0:
        raise ValidationError(messages.CAPACITY_NO_READY.format(deployment=request.deployment))
    if request.scaling and not backend.loopback_only:
        raise ValidationError(messages.CAPACITY_SCALING_LOCAL_ONLY)
    if request.scaling and deployment.autoscale is not None:
        raise ValidationError(
            messages.CAPACITY_SCALING_AUTOSCALE.format(deployment=request.deployment)
        )
    prepared = Prepared(
        request=request,
        plan=plan,
        endpoint=endpoint,
        deployment=deployment,
        url=checked.url,
        headers=dict(checked.headers),
        body=checked.body,
        limits=limits,
    )
    try:
        for rate in plan.ramp():
            prepared.stepper().check(rate)
    except LoadTestError as exc:
        raise ValidationError(_sentence(str(exc))) from None
    return prepared


async def _cpu_during(backend: Backend, prepared: Prepared, seconds: float) -> float | None:
    """The highest CPU of the deployment's minutes during the search, when reported."""
    minutes = min(60, max(2, math.ceil(seconds / 60) + 1))
    try:
        snapshot = await backend.metrics(prepared.request.endpoint, timedelta(minutes=minutes))
    except FlightdeckError:
        return None
    metrics = snapshot.deployments.get(prepared.request.deployment)
    if metrics is None:
        return None
    values = [m.cpu_utilization_percentage for m in metrics.minutes]
    seen = [v for v in values if v is not None]
    return max(seen) if seen else None


def peak_window(backend: Backend) -> timedelta:
    """The window the peak is read over: 7 days, or less when the backend keeps less."""
    return min(PEAK_WINDOW, backend.metrics_retention)


async def peak_rate(backend: Backend, endpoint: str) -> float | None:
    """The endpoint's busiest minute of ``peak_window`` (RequestsPerMinute over all its
    deployments, per second); ``None`` without metrics or traffic."""
    try:
        snapshot = await backend.metrics(endpoint, peak_window(backend))
    except FlightdeckError:
        return None
    per_minute: dict[object, int] = {}
    for metrics in snapshot.deployments.values():
        for minute in metrics.minutes:
            per_minute[minute.timestamp] = per_minute.get(minute.timestamp, 0) + minute.requests
    peak = max(per_minute.values(), default=0)
    return peak / 60 if peak else None


async def measure(
    backend: Backend,
    prepared: Prepared,
    *,
    headroom: float,
    prices: PriceTable,
    progress: Callable[[StepProgress], Awaitable[None]] | None = None,
    progress_interval: float = 1.0,
    cancel: asyncio.Event | None = None,
    on_step: Callable[[Step], Awaitable[None]] | None = None,
) -> CapacityReport:
    """Run the search and build the report; the target is ``--target-rate``, else the peak of
    the longest metrics window the backend keeps, up to 7 days (read before the search loads
    the deployment). ``on_step`` is awaited with each step once judged (the Slack message
    shows the table so far). With ``--scaling`` the deployment is scaled to 1 instance, then
    to 2, searched on each, and always scaled back to its count before."""
    request = prepared.request
    target = request.target_rate
    from_peak = False
    if target is None:
        target = await peak_rate(backend, request.endpoint)
        from_peak = target is not None
    stepper = prepared.stepper(
        progress=progress, progress_interval=progress_interval, cancel=cancel
    )

    async def run(plan: SearchPlan) -> SearchOutcome:
        try:
            return await search(
                plan,
                measure=stepper.measure,
                cancelled=lambda: cancel is not None and cancel.is_set(),
                on_step=on_step,
            )
        except (CapacityError, LoadTestError) as exc:
            raise ValidationError(_sentence(str(exc))) from None

    started = time.monotonic()
    scaling: Scaling | None = None
    skipped: str | None = None
    instances: int | None = None
    if request.scaling:
        outcome, scaling, skipped = await _measure_scaling(backend, prepared, run)
        instances = 1
    else:
        outcome = await run(prepared.plan)
    seconds = time.monotonic() - started
    facts = prepared.facts(
        cpu_percent=await _cpu_during(backend, prepared, seconds), instances=instances
    )
    rec = None
    if target is not None:
        rec = recommend(
            outcome, facts, target_rps=target, headroom=headroom, prices=prices, scaling=scaling
        )
    return CapacityReport(
        endpoint=request.endpoint,
        facts=facts,
        objective=prepared.plan.objective,
        outcome=outcome,
        prices=prices,
        recommendation=rec,
        target_from_peak=from_peak,
        peak_window=peak_window(backend) if from_peak else None,
        scaling=scaling,
        scaling_skipped=skipped,
        seconds=seconds,
    )


def second_plan(plan: SearchPlan, one_rps: float) -> SearchPlan:
    """The 2-instance search: from the 1-instance capacity (which should pass) up."""
    return replace(plan, start_rate=min(one_rps, plan.max_rate))


async def _measure_scaling(
    backend: Backend,
    prepared: Prepared,
    run: Callable[[SearchPlan], Awaitable[SearchOutcome]],
) -> tuple[SearchOutcome, Scaling | None, str | None]:
    """Search on 1 instance, then on 2; the count is restored whatever happens."""
    endpoint, name = prepared.request.endpoint, prepared.request.deployment
    before = (await backend.get_deployment(endpoint, name)).instance_count
    current = before
    try:
        if current != 1:
            await backend.scale(endpoint, name, 1)
            current = 1
        one = await run(prepared.plan)
        if one.cancelled:
            return one, None, None
        if one.capacity_rps <= 0:
            return one, None, capacity_messages.SCALING_SKIPPED_NONE
        if one.limited_by == "rate_cap":
            return one, None, capacity_messages.SCALING_SKIPPED_CAPPED
        await backend.scale(endpoint, name, 2)
        current = 2
        two = await run(second_plan(prepared.plan, one.capacity_rps))
        if two.cancelled:
            return replace(one, cancelled=True, steps=one.steps + two.steps), None, None
        scaling = Scaling(one_rps=one.capacity_rps, two_rps=two.capacity_rps, two_steps=two.steps)
        return one, scaling, None
    finally:
        if current != before:
            await backend.scale(endpoint, name, before)
