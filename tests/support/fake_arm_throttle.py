"""Throttling of the fake Azure Monitor services: 429 with ``Retry-After`` now and then.

Azure Monitor (metrics, autoscale settings, metric definitions) and Log Analytics
answer a client past its limits with 429 and a ``Retry-After`` header in seconds
(https://learn.microsoft.com/azure/azure-monitor/service-limits and
https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
azure-core's ``RetryPolicy`` honours it: it retries (a POST such as ``metrics:getBatch``
only *because* the header is there) after asking the transport to sleep that long.
``FakeArm.sleep`` records those waits instead of sleeping, so tests stay fast.

By default every ``every``-th Monitor request is throttled; ``next(times)`` throttles
the next ``times`` ones. Throttled requests are kept in ``throttled``, not in
``FakeArm.calls`` (the service did not act on them).
"""

from __future__ import annotations

from tests.support.fake_arm_http import Call, Reply

__all__ = ["Throttle", "is_monitor"]

_LOGS_HOST = "api.loganalytics.io"


def is_monitor(call: Call) -> bool:
    """True for requests to Azure Monitor: metrics, Microsoft.Insights, Log Analytics."""
    return (
        call.host.endswith(".metrics.monitor.azure.com")
        or call.host == _LOGS_HOST
        or "/providers/microsoft.insights/" in call.path.lower()
    )


class Throttle:
    """Which Monitor requests get 429, and the waits the SDK asked for."""

    def __init__(self, *, every: int = 5, retry_after: int = 2) -> None:
        self.every = every
        self.retry_after = retry_after
        self.pending = 0
        self.seen = 0
        self.throttled: list[Call] = []
        self.waits: list[float] = []

    def next(self, times: int = 1) -> None:
        """Throttle the next ``times`` Monitor requests."""
        self.pending += times

    def check(self, call: Call) -> Reply | None:
        """The 429 to answer ``call`` with, or ``None`` to serve it."""
        if not is_monitor(call):
            return None
        self.seen += 1
        if self.pending > 0:
            self.pending -= 1
        elif not (self.every and self.seen % self.every == 0):
            return None
        self.throttled.append(call)
        code = "ThrottledError" if call.host == _LOGS_HOST else "TooManyRequests"
        message = (
            f"The request was throttled: too many requests. Retry after {self.retry_after} seconds."
        )
        return Reply(
            429,
            {"error": {"code": code, "message": message}},
            {"Retry-After": str(self.retry_after)},
        )
