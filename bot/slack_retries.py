"""Retrying Slack's Web API when Slack, not the request, is at fault.

slack_sdk retries through handlers on the client (``client.retry_handlers``,
https://tools.slack.dev/python-slack-sdk/web#retryhandler). The bot's client gets three:

- rate limits: HTTP 429, waiting its ``Retry-After`` (``AsyncRateLimitErrorRetryHandler``),
  except in a call a ``bot.pacing`` lane runs: the lane owns that 429 (one wait, order kept);
- server errors: any 5xx, JSON or the HTML page Slack's edge sends instead
  (``AsyncServerErrorRetryHandler`` retries only 500 and 503), with exponential back-off;
- connection failures: refused, reset or dropped connections
  (``AsyncConnectionErrorRetryHandler``), with the same back-off.

A timeout is not retried: Slack may have done the work (a second chat.postMessage would
post twice). Each handler waits through ``sleep``, so tests pass a fake one.

    policy = RetryPolicy(sleep=fake_sleep)
    client.retry_handlers[:] = retry_handlers(policy)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.pacing import in_paced_call

__all__ = ["RetryPolicy", "retry_handlers", "slack_outage"]

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently the bot retries Slack.

    ``retries``: tries after the first for 5xx, HTML and connection failures, waiting
    ``backoff`` seconds, then twice that, ...; ``rate_limit_retries``: tries after a 429;
    ``max_retry_after``: a longer ``Retry-After`` is not waited for (the call fails).
    """

    retries: int = 3
    backoff: float = 0.5
    rate_limit_retries: int = 2
    max_retry_after: float = 60.0
    sleep: Sleep = field(default=asyncio.sleep)


class _Spread(Jitter):
    """Up to a quarter more than the back-off, so waits still double from try to try
    (slack_sdk's RandomJitter adds up to a whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random() / 4)


def _backoff(policy: RetryPolicy) -> BackoffRetryIntervalCalculator:
    return BackoffRetryIntervalCalculator(backoff_factor=policy.backoff, jitter=_Spread())


async def _wait(state: RetryState, sleep: Sleep, seconds: float) -> None:
    state.next_attempt_requested = True
    await sleep(seconds)
    state.increment_current_attempt()


class _BackingOff(AsyncRetryHandler):
    """Waits the policy's back-off through the policy's ``sleep`` (a fake one in tests)."""

    _sleep: Sleep

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        seconds = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
        await _wait(state, self._sleep, seconds)


class ServerErrorRetry(_BackingOff, AsyncServerErrorRetryHandler):
    """Any 5xx (500, 502, 503, 504, ...), with a JSON body or an HTML page."""

    def __init__(self, policy: RetryPolicy) -> None:
        super().__init__(max_retry_count=policy.retries, interval_calculator=_backoff(policy))
        self._sleep = policy.sleep

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and 500 <= response.status_code < 600


class ConnectionErrorRetry(_BackingOff, AsyncConnectionErrorRetryHandler):
    """Refused, reset and dropped connections."""

    def __init__(self, policy: RetryPolicy) -> None:
        super().__init__(max_retry_count=policy.retries, interval_calculator=_backoff(policy))
        self._sleep = policy.sleep


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """HTTP 429: wait ``Retry-After`` seconds (1 when absent), unless it is too long.

    Not for a call a ``bot.pacing`` lane runs (posts, updates, file shares): the lane
    owns its 429 (it waits Retry-After once, holding the channel's later calls), so the
    client answers it at once instead of waiting first and the lane then waiting again.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        super().__init__(max_retry_count=policy.rate_limit_retries)
        self._sleep = policy.sleep
        self._max = policy.max_retry_after

    @staticmethod
    def retry_after(response: HttpResponse) -> float:
        """The response's ``Retry-After`` in seconds (1 when absent or unreadable)."""
        for key, value in response.headers.items():
            if key.lower() == "retry-after":
                raw = value[0] if isinstance(value, list) and value else value
                try:
                    return max(float(str(raw)), 0.0)
                except ValueError:
                    return 1.0
        return 1.0

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code == 429
            and not in_paced_call()
            and self.retry_after(response) <= self._max
        )

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        assert response is not None
        await _wait(state, self._sleep, self.retry_after(response))


def retry_handlers(policy: RetryPolicy) -> list[AsyncRetryHandler]:
    """The bot client's retry handlers for ``policy``."""
    return [ConnectionErrorRetry(policy), RateLimitRetry(policy), ServerErrorRetry(policy)]


def slack_outage(error: BaseException) -> str | None:
    """What went wrong when Slack, not the request, failed (for people: "HTTP 503",
    "an HTML error page (HTTP 502)", ...); ``None`` for a refusal (``not_in_channel``, ...)
    or an error that is not Slack's."""
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        if status == 429:
            return "rate limited (HTTP 429)"
        if status >= 500:
            data = error.response.data
            if not isinstance(data, dict) or not data:
                return f"an HTML error page (HTTP {status})"
            return f"HTTP {status}"
        return None
    if isinstance(error, SlackRequestError) and "status: 5" in str(error):
        return "a failed file upload (HTTP 5xx)"
    if isinstance(error, aiohttp.ClientConnectionError):
        return "the connection to Slack failed"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return None
