"""Pacing the bot's posts per channel: Slack's rate, bursts, Retry-After, order kept.

Slack lets an app post about one message a second in a channel, with short bursts
allowed (https://api.slack.com/docs/rate-limits, "Posting messages"); beyond that it
answers HTTP 429 ``ratelimited`` with a ``Retry-After`` header in seconds. Each
channel has a lane: a token bucket (``rate`` tokens a second, at most ``burst``
saved) and a FIFO lock, so calls in one channel run one at a time in the order they
were asked, each waits for a token, and a 429 makes the lane wait ``Retry-After``
and try the same call again (later calls wait behind it: nothing is lost or
reordered). Channels do not wait for each other.

    pacer = ChannelPacer()                                   # 1 a second, bursts of 3
    ts = await pacer.send("C0ALERTS", lambda: client.chat_postMessage(...))
    await pacer.send("C0ALERTS", lambda: client.chat_update(...), cost=0)   # ordered only

The pacer is the one owner of 429 for the calls it runs: while a lane runs a call,
``in_paced_call()`` is True, and the bot's client (``bot.slack_retries.RateLimitRetry``)
leaves that call's 429 to the lane instead of waiting ``Retry-After`` itself first
(which waited twice, and let later posts overtake). Calls outside a lane (ephemerals,
``auth.test``, ``conversations.*``) keep the client's 429 retries.

The clock and the sleep function are injectable, so tests run without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError

__all__ = ["ChannelPacer", "in_paced_call", "retry_after"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds waited after a 429 that carries no Retry-After.
DEFAULT_RETRY_AFTER = 1.0
#: Retry-After values above this are capped (a misbehaving answer must not stall a lane).
MAX_RETRY_AFTER = 120.0


def retry_after(exc: SlackApiError) -> float | None:
    """Seconds to wait when ``exc`` is a rate-limit answer (429 / ``ratelimited``), else None."""
    response = exc.response
    data = response.data if isinstance(response.data, dict) else {}
    if response.status_code != 429 and data.get("error") != "ratelimited":
        return None
    headers: dict[str, Any] = {str(k).lower(): v for k, v in (response.headers or {}).items()}
    raw = headers.get("retry-after")
    if isinstance(raw, list | tuple):
        raw = raw[0] if raw else None
    try:
        seconds = float(raw) if raw is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        seconds = DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


#: True while a lane runs a call (in that call's task): its 429 is the lane's to retry.
_PACED: ContextVar[bool] = ContextVar("flightdeck_paced_call", default=False)


def in_paced_call() -> bool:
    """True inside a call a ``ChannelPacer`` lane runs (it retries that call's 429 itself)."""
    return _PACED.get()


@dataclass
class _Lane:
    tokens: float
    stamp: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ChannelPacer:
    """One lane per channel: at most ``rate`` calls a second after a burst of ``burst``."""

    def __init__(
        self,
        *,
        rate: float = 1.0,
        burst: int = 3,
        max_retries: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._lanes: dict[str, _Lane] = {}
        #: Rate-limit answers met, per channel (for logs and tests).
        self.throttled: dict[str, int] = {}

    def _lane(self, channel: str) -> _Lane:
        lane = self._lanes.get(channel)
        if lane is None:
            lane = _Lane(tokens=float(self.burst), stamp=self._clock())
            self._lanes[channel] = lane
        return lane

    def _refill(self, lane: _Lane) -> None:
        now = self._clock()
        lane.tokens = min(float(self.burst), lane.tokens + (now - lane.stamp) * self.rate)
        lane.stamp = now

    async def _take(self, lane: _Lane, cost: float) -> None:
        self._refill(lane)
        while lane.tokens < cost:
            await self._sleep((cost - lane.tokens) / self.rate)
            self._refill(lane)
        lane.tokens -= cost

    async def send(self, channel: str, call: Callable[[], Awaitable[T]], *, cost: float = 1.0) -> T:
        """Run ``call`` in ``channel``'s lane: after the calls asked before it, when a token is
        free (``cost`` 0: ordered, never delayed by the rate), again after a 429's Retry-After.

        The last rate-limit error is raised after ``max_retries`` tries.
        """
        lane = self._lane(channel)
        async with lane.lock:
            tries = 0
            while True:
                await self._take(lane, cost)
                paced = _PACED.set(True)
                try:
                    return await call()
                except SlackApiError as exc:
                    wait = retry_after(exc)
                    if wait is None or tries >= self.max_retries:
                        raise
                    tries += 1
                    self.throttled[channel] = self.throttled.get(channel, 0) + 1
                    log.info("Slack rate-limits %s: waiting %.1fs (try %d)", channel, wait, tries)
                    await self._sleep(wait)
                    # After Retry-After, this call goes first; the burst starts again from it.
                    lane.tokens, lane.stamp = cost, self._clock()
                finally:
                    _PACED.reset(paced)
