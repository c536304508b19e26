"""How the fake Azure ML service lists and throttles: pages with ``nextLink``, 429s.

ARM list operations answer ``{"value": [...], "nextLink": "..."}`` and a client follows
``nextLink`` until a page has none (https://learn.microsoft.com/rest/api/azure/#async-operations-throttling-and-paging,
and every ``list.json`` example of the Machine Learning REST API specification carries a
``nextLink``). The fake pages every list, ``page_size`` items a page, with a ``$skipToken``
in the next link (the query of the first request, ``hash=`` of a code look-up included,
is kept).

ARM throttles a client past its limits with 429 ``TooManyRequests`` and ``Retry-After``
in seconds (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling);
``ArmThrottle`` answers Azure ML requests that way now and then (every ``every``-th,
7 by default, or the next ``times`` after ``next(times)``), as
``fake_arm_throttle.Throttle`` does for Azure Monitor, and ``FakeArm.sleep`` records the
waits azure-core's retry policy asks for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from tests.support.fake_arm_http import Call, Reply
from tests.support.fake_arm_throttle import Throttle, is_monitor

__all__ = ["ArmThrottle", "page"]

ARM_HOST = "management.azure.com"


def page(call: Call, items: list[Any], size: int) -> Reply:
    """One page of ``items`` for ``call`` (``$skipToken`` picks it), with ``nextLink`` if more."""
    start = int(call.query.get("$skiptoken") or 0)
    body: dict[str, Any] = {"value": items[start : start + size]}
    if start + size < len(items):
        query = {k: v for k, v in call.query.items() if k != "$skiptoken"}
        query["$skipToken"] = str(start + size)
        parts = urlsplit(call.url)
        body["nextLink"] = urlunsplit(
            (parts.scheme, parts.netloc, parts.path, urlencode(query), "")
        )
    return Reply(200, body)


class ArmThrottle(Throttle):
    """429 + Retry-After for Azure ML's ARM requests (not Monitor's: ``Throttle`` has those)."""

    def __init__(self, *, every: int = 7, retry_after: int = 1) -> None:
        super().__init__(every=every, retry_after=retry_after)

    def check(self, call: Call) -> Reply | None:
        if call.host != ARM_HOST or is_monitor(call):
            return None
        self.seen += 1
        if self.pending > 0:
            self.pending -= 1
        elif not (self.every and self.seen % self.every == 0):
            return None
        self.throttled.append(call)
        message = (
            "Number of requests for subscription exceeded the limit. "
            f"Please retry after {self.retry_after} seconds."
        )
        return Reply(
            429,
            {"error": {"code": "TooManyRequests", "message": message}},
            {"Retry-After": str(self.retry_after)},
        )
