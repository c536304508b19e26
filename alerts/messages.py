"""Every user-facing text of alerts/: rule names, values, config errors (``str.format``)."""

from __future__ import annotations

# ---------------------------------------------------------------- rules

RULE_LABELS = {
    "latency_p99": "P99 latency",
    "error_rate": "Error rate",
    "no_traffic": "Traffic",
}
NO_DATA = "no data"
NO_REQUESTS = "no requests"
SOURCE_LABEL = "Metrics"

# ---------------------------------------------------------------- config

CONFIG_PREFIX = "alerts"
CONFIG_NOT_MAPPING = "expected a mapping of keys (poll_interval, channel, rules, endpoints...)"
CONFIG_NO_CHANNEL = (
    "no channel to post alerts to: set `alerts.channel` to a channel ID (C0123ABCD), "
    "or `alerts.enabled: false`"
)
CONFIG_BAD_CHANNEL = "'{value}' is not a channel ID (C… or G…, as in the channel's details)"
CONFIG_DURATION_RANGE = "must be between {low} and {high}, not {value}"
CONFIG_RULE_TWICE = "the rule kind {kind} is given twice (one rule of each kind per endpoint)"
CONFIG_NO_THRESHOLD = "a no_traffic rule takes no threshold"
CONFIG_4XX_ERRORS_ONLY = "include_4xx applies to error_rate rules only"
CONFIG_WINDOW_SHORT = (
    "the window ({window}) is shorter than poll_interval ({poll}): it must hold at least one poll"
)
CONFIG_WINDOW_LONG = "the window ({window}) must be shorter than chart_minutes ({chart})"
CONFIG_POLL_LONG = (
    "poll_interval ({poll}) must be shorter than chart_minutes ({chart}): raise chart_minutes"
)
CONFIG_BAD_ENDPOINT = "'{name}' is not an endpoint name"

# ---------------------------------------------------------------- sources

SOURCE_LISTING = "every endpoint"
SOURCE_FAILED_BUG = "unexpected {kind} (logged)"

# ---------------------------------------------------------------- chart

CHART_TITLE = "{label} of {deployment} on {endpoint}"
CHART_THRESHOLD = "threshold {threshold}"
CHART_TIME = "time (UTC)"
CHART_NO_DATA = "no data in the last minutes"
