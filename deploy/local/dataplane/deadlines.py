"""The timeouts of the requests in flight on the router's hot path, on one loop timer.

A timer per request (``loop.call_later``, cancelled when the answer comes) costs a
handle, a heap push and a cancellation for every request. Here a request in flight is
one entry in a set, and one timer is armed for the earliest deadline; when it fires,
every request past its deadline expires and the timer is armed for the next one. With
steady traffic it fires about once per timeout period, finding nothing due.

    deadlines = Deadlines()
    exchange.deadline = loop.time() + timeout_s
    deadlines.watch(exchange)      # when sent
    deadlines.forget(exchange)     # when answered
"""

from __future__ import annotations

import asyncio
import math
from typing import Generic, Protocol, TypeVar

__all__ = ["Deadlines", "Expiring"]


class Expiring(Protocol):
    """Something with a deadline (``loop.time()`` seconds) to be told when it passes."""

    deadline: float

    def expire(self) -> None:
        """The deadline passed (called once, from the loop; it was forgotten first)."""


E = TypeVar("E", bound=Expiring)


class Deadlines(Generic[E]):
    """The watched items of one event loop and the one timer for the earliest deadline."""

    def __init__(self) -> None:
        self._watched: set[E] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._at = math.inf

    def __len__(self) -> int:
        return len(self._watched)

    def watch(self, item: E) -> None:
        """Expire ``item`` at its deadline unless it is forgotten first."""
        self._watched.add(item)
        if item.deadline < self._at:
            self._arm(item.deadline)

    def forget(self, item: E) -> None:
        """``item`` is done: it will not expire."""
        self._watched.discard(item)

    def close(self) -> list[E]:
        """Stop the timer; return what was still watched (none of it will expire)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._at = math.inf
        left = list(self._watched)
        self._watched.clear()
        return left

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._at = at
        self._timer = asyncio.get_running_loop().call_at(at, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._at = math.inf
        now = asyncio.get_running_loop().time()
        due = [item for item in self._watched if item.deadline <= now]
        for item in due:
            self._watched.discard(item)
        for item in due:
            item.expire()
        if self._watched:
            self._arm(min(item.deadline for item in self._watched))
