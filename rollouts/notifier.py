"""What the engine tells the outside world, and how it sends load: interfaces the bot and
the CLI implement (rollouts/ imports neither).

    class SlackRolloutNotifier:          # bot/rollouts/notifier.py
        async def show(self, rollout, where): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from rollouts.machine import Rollout

__all__ = ["LoadFeeder", "MessageRef", "RolloutNotifier"]


@dataclass(frozen=True)
class MessageRef:
    """Where a rollout's progress message is (``ts`` ``None``: not posted yet)."""

    channel: str | None
    ts: str | None


class RolloutNotifier(Protocol):
    """Shows a rollout's progress; each method is called after a stored transition."""

    async def show(self, rollout: Rollout, where: MessageRef) -> MessageRef | None:
        """Post or update the progress message; the new reference when it was just posted."""
        ...

    async def finished(self, rollout: Rollout, where: MessageRef) -> None:
        """The rollout is done (promoted, rolled back, aborted): say how, with the numbers."""
        ...

    async def request_promotion(self, rollout: Rollout, where: MessageRef) -> str | None:
        """Ask for the approval the last step waits for (``--confirm-promotion``); its id."""
        ...


#: Sends ``rate`` requests/s to the rollout's canary for at most ``duration``, then returns
#: (the engine calls it again while the rollout runs, and cancels it when it stops).
LoadFeeder = Callable[[Rollout, timedelta], Awaitable[None]]
