"""The event loop's turns, counted: how the app tells which requests came together.

One turn of an asyncio loop is one ``select()`` of its selector, then the callbacks of
what it found. The loop that serves is built on :class:`TurnCounter`, which counts those
calls: two requests read while :attr:`TurnCounter.turns` stays the same came in one turn.
Reading the counter costs an attribute lookup; marking a turn's end with ``call_soon``
costs another pass of the loop (a zero-timeout ``epoll_wait``).

    counter = TurnCounter()
    with asyncio.Runner(loop_factory=counter.new_loop) as runner:
        runner.run(serve(config, script, turns=counter))
"""

from __future__ import annotations

import asyncio
import selectors

__all__ = ["TurnCounter"]


class TurnCounter(selectors.DefaultSelector):
    """The platform's default selector, counting its ``select()`` calls in :attr:`turns`."""

    turns = 0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.turns += 1
        return super().select(timeout)

    def new_loop(self) -> asyncio.AbstractEventLoop:
        """An event loop on this selector (one loop per counter)."""
        return asyncio.SelectorEventLoop(self)
