"""What a canary rollout does: its steps, its interval, and the limits each interval is judged by.

    spec = RolloutSpec(canary="green", steps=(10, 25, 50, 100), interval=timedelta(minutes=5),
                       max_p99_ms=500, max_error_rate=1.0, min_requests=100, threshold=2)
    spec.steps_text()          # '10%, 25%, 50%, 100%'

The parsers here read the values users type (``--max-p99 500ms``, ``--max-error-rate 1%``)
and raise ``ValidationError`` naming what is wrong; the Slack command and the CLI share them.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from base.durations import DurationError, format_duration, parse_duration
from base.numbers import format_number
from deploy.errors import ValidationError
from rollouts import messages

__all__ = [
    "MAX_INTERVAL",
    "RolloutSpec",
    "check_steps",
    "parse_count",
    "parse_interval",
    "parse_ms",
    "parse_percent",
    "parse_rate",
    "parse_steps",
]

#: The longest interval: metrics are read for at most an hour back.
MAX_INTERVAL = timedelta(minutes=60)


@dataclass(frozen=True, kw_only=True)
class RolloutSpec:
    """A canary rollout's plan and limits (fixed once it starts)."""

    canary: str
    steps: tuple[int, ...]
    interval: timedelta
    max_p99_ms: float
    max_error_rate: float
    min_requests: int
    threshold: int
    confirm_promotion: bool = False
    #: The canary's P99 may be at most this many percent above the baseline's (``None``: off).
    max_p99_increase: float | None = None
    #: Requests/s the load-test engine sends to the canary while it is judged (``None``: none).
    with_load: float | None = None

    def steps_text(self) -> str:
        """``10%, 25%, 50%, 100%``."""
        return ", ".join(f"{step}%" for step in self.steps)

    @property
    def last(self) -> int:
        """The index of the last step (the promotion to 100%)."""
        return len(self.steps) - 1

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (stored with the rollout and its approval)."""
        return {
            "canary": self.canary,
            "steps": list(self.steps),
            "interval_s": self.interval.total_seconds(),
            "max_p99_ms": self.max_p99_ms,
            "max_error_rate": self.max_error_rate,
            "min_requests": self.min_requests,
            "threshold": self.threshold,
            "confirm_promotion": self.confirm_promotion,
            "max_p99_increase": self.max_p99_increase,
            "with_load": self.with_load,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RolloutSpec:
        """Rebuild from ``to_json``'s output."""
        increase, load = data.get("max_p99_increase"), data.get("with_load")
        return cls(
            canary=str(data["canary"]),
            steps=tuple(int(step) for step in data["steps"]),
            interval=timedelta(seconds=float(data["interval_s"])),
            max_p99_ms=float(data["max_p99_ms"]),
            max_error_rate=float(data["max_error_rate"]),
            min_requests=int(data["min_requests"]),
            threshold=int(data["threshold"]),
            confirm_promotion=bool(data.get("confirm_promotion", False)),
            max_p99_increase=None if increase is None else float(increase),
            with_load=None if load is None else float(load),
        )


def check_steps(steps: Sequence[int]) -> str | None:
    """What is wrong with ``steps`` (``None`` when nothing): rising, 1-100, the last 100."""
    if len(steps) < 2:
        return messages.STEPS_TOO_FEW
    if any(not 1 <= step <= 100 for step in steps):
        return messages.STEPS_RANGE
    if any(b <= a for a, b in itertools.pairwise(steps)):
        return messages.STEPS_RISING
    if steps[-1] != 100:
        return messages.STEPS_LAST
    return None


def parse_steps(text: str) -> tuple[int, ...]:
    """``10,25,50,100`` (commas or spaces) as weights; ``ValidationError`` otherwise."""
    parts = [part for part in re.split(r"[,\s]+", text.strip()) if part]
    steps: list[int] = []
    for part in parts:
        try:
            steps.append(int(part.removesuffix("%")))
        except ValueError:
            raise ValidationError(messages.STEPS_NOT_NUMBERS.format(text=text)) from None
    problem = check_steps(steps)
    if problem:
        raise ValidationError(messages.STEPS_BAD.format(text=text, problem=problem))
    return tuple(steps)


def parse_interval(text: str, *, low: timedelta, high: timedelta = MAX_INTERVAL) -> timedelta:
    """``5m``, ``90s``, ``1h`` (``base.durations``: a bare number is seconds) within
    ``[low, high]``; ``ValidationError`` naming ``--interval`` otherwise."""
    try:
        value = parse_duration(text)
    except DurationError as exc:
        raise ValidationError(messages.INTERVAL_BAD.format(text=text, problem=exc)) from None
    if not low <= value <= high:
        raise ValidationError(
            messages.INTERVAL_RANGE.format(
                text=text, low=format_duration(low), high=format_duration(high)
            )
        )
    return value


def parse_ms(text: str, *, what: str) -> float:
    """``500ms``, ``0.5s`` or ``500`` (milliseconds), more than 0."""
    raw = text.strip().lower()
    scale = 1.0
    if raw.endswith("ms"):
        raw = raw[:-2]
    elif raw.endswith("s"):
        raw, scale = raw[:-1], 1000.0
    number = _number(raw)
    if number is None or number <= 0:
        raise ValidationError(messages.MS_BAD.format(what=what, text=text))
    return number * scale


def parse_percent(text: str, *, what: str, high: float = 100.0) -> float:
    """``1%``, ``0.5%`` or ``1`` (percent), in ``[0, high]``."""
    value = _number(text.strip().removesuffix("%"))
    if value is None or not 0 <= value <= high:
        raise ValidationError(
            messages.PERCENT_BAD.format(what=what, text=text, high=format_number(high))
        )
    return value


def parse_count(text: str, *, what: str, low: int, high: int = 10_000_000) -> int:
    """A whole number in ``[low, high]``."""
    try:
        value = int(text.strip())
    except ValueError:
        raise ValidationError(messages.COUNT_BAD.format(what=what, text=text)) from None
    if not low <= value <= high:
        raise ValidationError(messages.COUNT_RANGE.format(what=what, text=text, low=low, high=high))
    return value


def parse_rate(text: str, *, high: float) -> float:
    """Requests per second for ``--with-load``: more than 0, at most ``high``."""
    value = _number(text.strip().lower().removesuffix("/s"))
    if value is None or value <= 0:
        raise ValidationError(messages.RATE_BAD.format(text=text))
    if value > high:
        raise ValidationError(messages.RATE_HIGH.format(text=text, high=format_number(high)))
    return value


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
