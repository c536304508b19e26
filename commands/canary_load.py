"""``--with-load R``: the load-test engine sends R requests/s to a rollout's canary.

The rollout engine calls the feeder again and again while the rollout runs (each call a
bounded open-loop load test of at most ``limits.max_duration`` seconds, with the
``azureml-model-deployment`` header naming the canary) and cancels it when the rollout
stops running. The bot and ``flightdeck rollout`` share it.

    engine = RolloutEngine(..., feeder=canary_feeder(backend, limits))
"""

from __future__ import annotations

import math
from datetime import timedelta

from commands import messages
from commands.loadtest import LoadtestRequest, prepare
from deploy.backend import Backend
from deploy.errors import ValidationError
from loadtest import Limits, LoadTestError, run_load_test
from rollouts import LoadFeeder, Rollout, RolloutSpec

__all__ = ["canary_feeder", "check_load"]


def _request(endpoint: str, spec: RolloutSpec, seconds: float, limits: Limits) -> LoadtestRequest:
    rate = spec.with_load or 0.0
    return LoadtestRequest(
        endpoint=endpoint,
        deployment=spec.canary,
        rate=rate,
        duration=seconds,
        concurrency=min(limits.max_concurrency, max(8, math.ceil(rate))),
    )


async def check_load(backend: Backend, endpoint: str, spec: RolloutSpec, limits: Limits) -> None:
    """Before a rollout with ``--with-load`` starts: the load can be sent (the caps allow it,
    the target is allowed, the swagger has a sample input); ``ValidationError`` otherwise."""
    if spec.with_load is None:
        return
    request = _request(
        endpoint, spec, min(spec.interval.total_seconds(), limits.max_duration), limits
    )
    try:
        await prepare(backend, request, limits=limits)
    except ValidationError as exc:
        raise ValidationError(messages.WITH_LOAD_FAILED.format(error=exc.message)) from None


def canary_feeder(backend: Backend, limits: Limits) -> LoadFeeder:
    """A feeder sending each rollout's ``with_load`` requests/s to its canary."""
    bodies: dict[str, bytes] = {}

    async def feed(rollout: Rollout, duration: timedelta) -> None:
        rate = rollout.spec.with_load
        if rate is None:
            return
        seconds = min(duration.total_seconds(), limits.max_duration)
        request = _request(rollout.endpoint, rollout.spec, seconds, limits)
        plan = await prepare(backend, request, limits=limits, body=bodies.get(rollout.endpoint))
        bodies[rollout.endpoint] = plan.body
        try:
            await run_load_test(plan, limits=limits)
        except LoadTestError as exc:
            raise ValidationError(str(exc)) from None

    return feed
