"""The ``alerts:`` section of the config file, read once at start into ``AlertSettings``.

    alerts:
      channel: C0ALERTS            # where alerts go (a channel ID); required unless enabled: false
      poll_interval: 60s           # how often metrics are read (default 60 s)
      window: 60s                  # what a value covers: the requests of the last window
      repeat_interval: 4h          # reminders while firing (default 4 h)
      misfire_grace_time: 60s      # a poll later than this is skipped (default: poll_interval)
      chart_minutes: 15            # minutes of metrics read per poll, and charted
      group_by: endpoint           # alerts that change in one poll: one message per endpoint
                                   # (endpoint), or one per channel for the whole poll (poll)
      rules:                       # for every endpoint (default: the two below)
        - {kind: latency_p99, threshold: 500, duration: 3m}
        - {kind: error_rate, threshold: 1, duration: 2m, include_4xx: false}
        - {kind: no_traffic, duration: 10m}
      endpoints:
        product-recommender: {channel: C0RECS, rules: [...]}   # replaces the defaults
        scratch: {enabled: false}

    settings = parse_alert_settings(raw, source=Path("flightdeck.yml"))
    settings.rules_for("product-recommender")

Durations are read by ``base.durations`` (the one grammar: ``90s``, ``5m``, ``4h``,
``1h30m``; a bare number is seconds). Errors name the file and the key (``AlertConfigError``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from alerts import messages
from alerts.errors import AlertConfigError
from alerts.rules import DEFAULT_RULES, Rule, RuleKind
from base.durations import format_duration, parse_duration
from deploy.errors import ValidationError
from deploy.rules import validate_name

__all__ = [
    "CHANNEL_ID",
    "AlertSettings",
    "EndpointAlerts",
    "GroupBy",
    "parse_alert_settings",
]

#: A Slack channel ID, as the config and the terminal take them (public or private channel).
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
#: How the notices of one poll are grouped into messages (Alertmanager's ``group_by``).
GroupBy = Literal["endpoint", "poll"]
_DEFAULT_DURATIONS: dict[str, timedelta] = {
    **{rule.kind: rule.duration for rule in DEFAULT_RULES},
    "no_traffic": timedelta(minutes=10),
}
_DEFAULT_THRESHOLDS: dict[str, float] = {rule.kind: rule.threshold for rule in DEFAULT_RULES}


def _channel(value: Any) -> str:
    if not isinstance(value, str) or not CHANNEL_ID.match(value):
        raise ValueError(messages.CONFIG_BAD_CHANNEL.format(value=value))
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Channel = Annotated[str, BeforeValidator(_channel)]


def _within(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    if not low <= value <= high:
        raise ValueError(
            messages.CONFIG_DURATION_RANGE.format(
                low=format_duration(low), high=format_duration(high), value=format_duration(value)
            )
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RuleModel(_Strict):
    kind: RuleKind
    threshold: float | None = Field(default=None, ge=0)
    duration: Duration | None = None
    include_4xx: bool = False

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: timedelta | None) -> timedelta | None:
        return None if value is None else _within(value, timedelta(0), timedelta(days=1))

    @model_validator(mode="after")
    def _fits_kind(self) -> _RuleModel:
        if self.kind == "no_traffic" and self.threshold is not None:
            raise ValueError(messages.CONFIG_NO_THRESHOLD)
        if self.include_4xx and self.kind != "error_rate":
            raise ValueError(messages.CONFIG_4XX_ERRORS_ONLY)
        return self

    def rule(self) -> Rule:
        return Rule(
            kind=self.kind,
            threshold=self.threshold
            if self.threshold is not None
            else _DEFAULT_THRESHOLDS.get(self.kind, 0.0),
            duration=self.duration if self.duration is not None else _DEFAULT_DURATIONS[self.kind],
            include_4xx=self.include_4xx,
        )


def _rules(models: tuple[_RuleModel, ...]) -> tuple[Rule, ...]:
    seen: set[str] = set()
    for model in models:
        if model.kind in seen:
            raise ValueError(messages.CONFIG_RULE_TWICE.format(kind=model.kind))
        seen.add(model.kind)
    return tuple(model.rule() for model in models)


class _EndpointModel(_Strict):
    enabled: bool = True
    channel: Channel | None = None
    rules: tuple[_RuleModel, ...] | None = None

    @field_validator("rules")
    @classmethod
    def _unique(cls, value: tuple[_RuleModel, ...] | None) -> tuple[_RuleModel, ...] | None:
        if value is not None:
            _rules(value)
        return value


class _AlertsModel(_Strict):
    enabled: bool = True
    channel: Channel | None = None
    poll_interval: Duration = timedelta(seconds=60)
    chart_minutes: int = Field(default=15, ge=1, le=60)
    window: Duration | None = None
    repeat_interval: Duration = timedelta(hours=4)
    misfire_grace_time: Duration | None = None
    group_by: GroupBy = "endpoint"
    rules: tuple[_RuleModel, ...] | None = None
    endpoints: dict[str, _EndpointModel] = Field(default_factory=dict)

    @field_validator("poll_interval")
    @classmethod
    def _poll(cls, value: timedelta) -> timedelta:
        return _within(value, timedelta(seconds=0.1), timedelta(hours=1))

    @field_validator("repeat_interval")
    @classmethod
    def _repeat(cls, value: timedelta) -> timedelta:
        return _within(value, timedelta(seconds=1), timedelta(days=7))

    @field_validator("misfire_grace_time")
    @classmethod
    def _grace(cls, value: timedelta | None) -> timedelta | None:
        return None if value is None else _within(value, timedelta(seconds=0.1), timedelta(hours=1))

    @field_validator("rules")
    @classmethod
    def _unique(cls, value: tuple[_RuleModel, ...] | None) -> tuple[_RuleModel, ...] | None:
        if value is not None:
            _rules(value)
        return value

    @field_validator("endpoints")
    @classmethod
    def _names(cls, value: dict[str, _EndpointModel]) -> dict[str, _EndpointModel]:
        for name in value:
            try:
                validate_name("endpoint", name)
            except ValidationError:
                raise ValueError(messages.CONFIG_BAD_ENDPOINT.format(name=name)) from None
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        poll, minutes = info.data.get("poll_interval"), info.data.get("chart_minutes")
        if value is None or poll is None or minutes is None:
            return value  # the default, or an error reported on poll_interval / chart_minutes
        if value < poll:
            raise ValueError(
                messages.CONFIG_WINDOW_SHORT.format(
                    window=format_duration(value), poll=format_duration(poll)
                )
            )
        if value >= timedelta(minutes=minutes):
            raise ValueError(
                messages.CONFIG_WINDOW_LONG.format(
                    window=format_duration(value), chart=format_duration(timedelta(minutes=minutes))
                )
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _AlertsModel:
        if self.poll_interval >= timedelta(minutes=self.chart_minutes):
            raise ValueError(
                messages.CONFIG_POLL_LONG.format(
                    poll=format_duration(self.poll_interval),
                    chart=format_duration(timedelta(minutes=self.chart_minutes)),
                )
            )
        if self.enabled and self.channel is None:
            raise ValueError(messages.CONFIG_NO_CHANNEL)
        return self


@dataclass(frozen=True, kw_only=True)
class EndpointAlerts:
    """Overrides for one endpoint: off, another channel, its own rules."""

    enabled: bool = True
    channel: str | None = None
    rules: tuple[Rule, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class AlertSettings:
    """What the watcher does, for every endpoint of the backend unless overridden."""

    enabled: bool = True
    channel: str | None = None
    poll_interval: timedelta = timedelta(seconds=60)
    window: timedelta = timedelta(seconds=60)
    repeat_interval: timedelta = timedelta(hours=4)
    misfire_grace_time: timedelta = timedelta(seconds=60)
    chart_minutes: int = 15
    #: ``endpoint``: one message per endpoint for the alerts that fire in one poll;
    #: ``poll``: one message per channel for all of them.
    group_by: GroupBy = "endpoint"
    rules: tuple[Rule, ...] = DEFAULT_RULES
    endpoints: Mapping[str, EndpointAlerts] = field(default_factory=dict)

    def watches(self, endpoint: str) -> bool:
        """True when ``endpoint``'s metrics are watched."""
        found = self.endpoints.get(endpoint)
        return self.enabled and (found is None or found.enabled)

    def rules_for(self, endpoint: str) -> tuple[Rule, ...]:
        """The endpoint's own rules, else the defaults."""
        found = self.endpoints.get(endpoint)
        return found.rules if found is not None and found.rules is not None else self.rules

    def channel_for(self, endpoint: str) -> str:
        """The channel the endpoint's alerts are posted to."""
        found = self.endpoints.get(endpoint)
        return (found.channel if found is not None else None) or self.channel or ""

    def fetch_window(self) -> timedelta:
        """The window asked of ``Backend.metrics`` each poll: whole minutes, 1 to 60.

        It covers the chart and the evaluation window with a minute to spare (backends
        answer in whole minutes, and late data lands in past minutes).
        """
        minutes = max(self.chart_minutes, math.ceil(self.window.total_seconds() / 60) + 1)
        return timedelta(minutes=min(minutes, 60))


def parse_alert_settings(raw: Any, *, source: Path | None = None) -> AlertSettings | None:
    """``AlertSettings`` from the ``alerts:`` mapping; ``None`` without one (alerts off)."""
    if raw is None:
        return None
    prefix = f"{source}: " if source else ""
    if not isinstance(raw, Mapping):
        raise AlertConfigError(f"{prefix}{messages.CONFIG_PREFIX}: {messages.CONFIG_NOT_MAPPING}")
    try:
        model = _AlertsModel.model_validate(dict(raw))
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        key = ".".join([messages.CONFIG_PREFIX, *(str(part) for part in error["loc"])])
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise AlertConfigError(f"{prefix}{key}: {reason}") from None
    return AlertSettings(
        enabled=model.enabled,
        channel=model.channel,
        poll_interval=model.poll_interval,
        window=model.window or model.poll_interval,
        repeat_interval=model.repeat_interval,
        misfire_grace_time=model.misfire_grace_time or model.poll_interval,
        chart_minutes=model.chart_minutes,
        group_by=model.group_by,
        rules=_rules(model.rules) if model.rules is not None else DEFAULT_RULES,
        endpoints={
            name: EndpointAlerts(
                enabled=override.enabled,
                channel=override.channel,
                rules=_rules(override.rules) if override.rules is not None else None,
            )
            for name, override in model.endpoints.items()
        },
    )
