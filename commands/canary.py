"""``/traffic <endpoint> canary <deployment> ...``: a progressive rollout's request, from the text.

    /traffic product-recommender canary green --steps 10,25,50,100 --interval 5m \\
        --max-p99 500ms --max-error-rate 1% --min-requests 100 --threshold 2 \\
        [--max-p99-increase 20%] [--with-load 20] [--confirm-promotion] [--dry-run] [--force]

Defaults and bounds come from the config's ``rollouts:`` section (``RolloutSettings``);
``--with-load`` is capped by it and by ``loadtest.max_rate``. The request is checked
against the endpoint by ``rollouts.plan_rollout``; one approval starts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from commands import messages
from commands.args import ParsedArgs
from deploy.errors import ValidationError
from deploy.rules import validate_name
from rollouts import (
    RolloutSettings,
    RolloutSpec,
    parse_count,
    parse_interval,
    parse_ms,
    parse_percent,
    parse_rate,
    parse_steps,
)

__all__ = ["CANARY_FLAGS", "CANARY_OPTIONS", "CanaryTraffic", "canary_spec", "parse_canary"]

#: Options only a canary takes.
CANARY_OPTIONS = frozenset(
    {
        "--steps",
        "--interval",
        "--max-p99",
        "--max-error-rate",
        "--min-requests",
        "--threshold",
        "--max-p99-increase",
        "--with-load",
    }
)
CANARY_FLAGS = frozenset({"--confirm-promotion"})


@dataclass(frozen=True, kw_only=True)
class CanaryTraffic:
    """``/traffic <endpoint> canary <deployment> ...``."""

    writes: ClassVar[bool] = True
    endpoint: str
    spec: RolloutSpec
    dry_run: bool = False
    force: bool = False


def canary_spec(
    canary: str,
    options: Mapping[str, str],
    *,
    confirm_promotion: bool,
    settings: RolloutSettings,
    max_load_rate: float,
) -> RolloutSpec:
    """The spec from the options as typed (``--steps`` -> ``"10,50,100"``), the rest from
    ``settings``; ``ValidationError`` naming what is wrong. ``flightdeck rollout`` uses it too."""
    validate_name("deployment", canary)

    def given(name: str) -> str | None:
        return options.get(name)

    steps, interval, p99 = given("--steps"), given("--interval"), given("--max-p99")
    errors, increase, load = (
        given("--max-error-rate"),
        given("--max-p99-increase"),
        given("--with-load"),
    )
    requests, threshold = given("--min-requests"), given("--threshold")
    return RolloutSpec(
        canary=canary,
        steps=parse_steps(steps) if steps else settings.steps,
        interval=parse_interval(interval, low=settings.min_interval)
        if interval
        else settings.interval,
        max_p99_ms=parse_ms(p99, what="--max-p99") if p99 else settings.max_p99,
        max_error_rate=parse_percent(errors, what="--max-error-rate")
        if errors
        else settings.max_error_rate,
        min_requests=parse_count(requests, what="--min-requests", low=0)
        if requests
        else settings.min_requests,
        threshold=parse_count(threshold, what="--threshold", low=1, high=100)
        if threshold
        else settings.threshold,
        confirm_promotion=confirm_promotion,
        max_p99_increase=parse_percent(increase, what="--max-p99-increase", high=10_000)
        if increase
        else None,
        with_load=parse_rate(load, high=max_load_rate) if load else None,
    )


def parse_canary(
    args: ParsedArgs,
    *,
    endpoint: str,
    rest: list[str],
    settings: RolloutSettings,
    max_load_rate: float,
) -> CanaryTraffic:
    """The canary request from already split arguments; ``UsageError`` naming what is wrong."""
    if len(rest) != 1:
        raise args.usage(messages.CANARY_ONE_DEPLOYMENT)
    if "--mirror" in args.options:
        raise args.usage(messages.CANARY_NO_MIRROR)
    try:
        spec = canary_spec(
            rest[0],
            args.options,
            confirm_promotion="--confirm-promotion" in args.flags,
            settings=settings,
            max_load_rate=max_load_rate,
        )
    except ValidationError as exc:
        raise args.usage(exc.message) from None
    return CanaryTraffic(
        endpoint=endpoint,
        spec=spec,
        dry_run="--dry-run" in args.flags,
        force="--force" in args.flags,
    )
