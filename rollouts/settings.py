"""The ``rollouts:`` section of the config file: defaults and bounds of canary rollouts.

    rollouts:
      steps: [10, 25, 50, 100]   # the canary's weight at each step (the last is 100)
      interval: 5m               # how long each step is judged (--interval)
      min_interval: 1m           # the shortest --interval allowed (seconds in tests)
      max_p99: 500               # ms: the canary's P99 limit (--max-p99)
      max_error_rate: 1          # percent of requests failed (--max-error-rate)
      min_requests: 100          # fewer in an interval: inconclusive, the step holds
      threshold: 2               # failed checks before rolling back on its own
      tick: 5s                   # how often the engine looks at the rollouts running
      max_load_rate: 50          # requests/s --with-load may send (also capped by loadtest:)

    settings = RolloutSettings.model_validate(raw)   # pydantic: bot.config reads the file

Durations are read by ``base.durations`` (the one grammar: ``90s``, ``5m``, ``1h``; a bare
number is seconds).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from base.durations import format_duration, parse_duration
from rollouts import messages
from rollouts.spec import MAX_INTERVAL, check_steps

_SHORTEST_MIN_INTERVAL = timedelta(seconds=1)
_TICKS = (timedelta(milliseconds=50), timedelta(minutes=1))

__all__ = ["RolloutSettings"]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class RolloutSettings(BaseModel):
    """Defaults for ``/traffic <endpoint> canary`` and ``flightdeck rollout start``, and bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: tuple[int, ...] = (10, 25, 50, 100)
    interval: Duration = timedelta(minutes=5)
    min_interval: Duration = timedelta(minutes=1)
    max_p99: float = Field(default=500.0, gt=0)
    max_error_rate: float = Field(default=1.0, ge=0, le=100)
    min_requests: int = Field(default=100, ge=0)
    threshold: int = Field(default=2, ge=1, le=100)
    tick: Duration = timedelta(seconds=5)
    max_load_rate: float = Field(default=50.0, gt=0)

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        problem = check_steps(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("min_interval")
    @classmethod
    def _min_interval(cls, value: timedelta) -> timedelta:
        if not _SHORTEST_MIN_INTERVAL <= value <= MAX_INTERVAL:
            raise ValueError(
                messages.CONFIG_SPAN.format(
                    low=format_duration(_SHORTEST_MIN_INTERVAL), high=format_duration(MAX_INTERVAL)
                )
            )
        return value

    @field_validator("tick")
    @classmethod
    def _tick(cls, value: timedelta) -> timedelta:
        low, high = _TICKS
        if not low <= value <= high:
            raise ValueError(
                messages.CONFIG_SPAN.format(low=format_duration(low), high=format_duration(high))
            )
        return value

    @model_validator(mode="after")
    def _interval(self) -> RolloutSettings:
        if not self.min_interval <= self.interval <= MAX_INTERVAL:
            raise ValueError(
                messages.CONFIG_INTERVAL.format(
                    interval=format_duration(self.interval),
                    low=format_duration(self.min_interval),
                    high=format_duration(MAX_INTERVAL),
                )
            )
        return self

    @property
    def lease(self) -> timedelta:
        """How long an engine keeps a rollout to itself without renewing (a few ticks)."""
        return max(self.tick * 4, timedelta(seconds=10))
