"""Numbers in alert rules, spans and metrics-window errors print as numbers (no ``1e+08``)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.rules import Rule
from commands.alerts_view import span
from deploy.errors import ValidationError
from deploy.local.dataplane.messages import payload_too_large
from deploy.memory import MemoryBackend


def test_rules_show_their_numbers_whole() -> None:
    slow = Rule(kind="latency_p99", threshold=100_000_000)
    assert slow.describe() == "P99 latency > 100000000 ms for 3m"
    errors = Rule(kind="error_rate", threshold=0.00001)
    assert errors.describe().startswith("error rate (5xx, 408, 424) > 0.00001% for")
    assert errors.format_value(1234.5) == "1230%"
    assert errors.format_value(0.000012345) == "0.0000123%"


def test_short_spans_and_sizes_have_no_exponent() -> None:
    assert span(timedelta(microseconds=10)) == "0.00001s"
    assert span(timedelta(seconds=2.5)) == "2.5s"
    assert payload_too_large(100_000_000 * 1024 + 512) == (
        "The request body is larger than 100000000 KB: send smaller batches."
    )


async def test_a_metrics_window_out_of_range_is_shown_as_a_number() -> None:
    backend = MemoryBackend()
    with pytest.raises(ValidationError, match=r"not 100000000\.$"):
        await backend.metrics("any", timedelta(minutes=100_000_000))
