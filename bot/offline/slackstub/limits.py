"""Slack's Web API rate limits, as the stand-in enforces them.

Slack limits each method "per API method per app per workspace" by tier
(https://api.slack.com/docs/rate-limits): Tier 1 1+ a minute, Tier 2 20+, Tier 3 50+,
Tier 4 100+, each "allowing bursts". ``chat.postMessage`` is special: "one message per
second per channel, while also maintaining a workspace-wide limit" of "several hundred
messages per minute", short bursts above one a second allowed
(https://api.slack.com/methods/chat.postMessage#rate_limiting). Beyond a limit Slack
answers HTTP 429, ``{"ok": false, "error": "ratelimited"}`` and a ``Retry-After`` header
in whole seconds.

The stand-in models each limit as a token bucket: ``burst`` calls at once, refilled at
the sustained rate; a refused call takes no token.

    limiter = RateLimiter(RateLimits(), clock=time.monotonic)
    wait = limiter.admit("chat.postMessage", channel="C1")   # None, or seconds to wait
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["METHOD_TIERS", "TIER_PER_MINUTE", "RateLimiter", "RateLimits"]

#: Requests a minute of each tier (the documented floor of "1+", "20+", "50+", "100+").
TIER_PER_MINUTE: Mapping[int, int] = MappingProxyType({1: 1, 2: 20, 3: 50, 4: 100})

#: Each method's tier, from its page on api.slack.com/methods (chat.postMessage is special).
METHOD_TIERS: Mapping[str, int] = MappingProxyType(
    {
        "apps.connections.open": 1,
        "auth.test": 4,
        "chat.postEphemeral": 4,
        "chat.update": 3,
        "conversations.info": 3,
        "conversations.members": 4,
        "files.completeUploadExternal": 4,
        "files.getUploadURLExternal": 4,
        "usergroups.list": 2,
        "usergroups.users.list": 2,
    }
)


@dataclass(frozen=True, kw_only=True)
class RateLimits:
    """The limits the stand-in enforces; tests may tighten or loosen them.

    ``post_per_second`` and ``post_burst``: chat.postMessage per channel;
    ``post_per_minute``: chat.postMessage across the workspace; ``tiers``: requests a
    minute per tier (and the burst) for every other method.
    """

    post_per_second: float = 1.0
    post_burst: int = 3
    post_per_minute: int = 300
    tiers: Mapping[int, int] = field(default_factory=lambda: dict(TIER_PER_MINUTE))


@dataclass(kw_only=True)
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    stamp: float

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0 when one is), after refilling to ``now``."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second


class RateLimiter:
    """Token buckets per method (and per channel for chat.postMessage)."""

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, key: tuple[str, str], per_minute: float, burst: float) -> _Bucket:
        found = self._buckets.get(key)
        if found is None:
            found = _Bucket(
                capacity=burst, per_second=per_minute / 60, tokens=burst, stamp=self._clock()
            )
            self._buckets[key] = found
        return found

    def admit(self, method: str, *, channel: str = "") -> int | None:
        """Take a token for a call of ``method``: ``None`` when admitted, else the whole
        seconds to wait (``Retry-After``, at least 1)."""
        now = self._clock()
        buckets: list[_Bucket] = []
        if method == "chat.postMessage":
            buckets.append(
                self._bucket(
                    ("post", channel),
                    self.limits.post_per_second * 60,
                    self.limits.post_burst,
                )
            )
            per_minute = self.limits.post_per_minute
            buckets.append(self._bucket(("post", "*"), per_minute, per_minute))
        elif method in METHOD_TIERS:
            per_minute = self.limits.tiers[METHOD_TIERS[method]]
            # Even Tier 1 tolerates "a small amount of burst behavior".
            buckets.append(self._bucket((method, ""), per_minute, max(per_minute, 3)))
        waits = [bucket.wait(now) for bucket in buckets]
        if any(waits):
            return max(1, math.ceil(max(waits)))
        for bucket in buckets:
            bucket.tokens -= 1
        return None
