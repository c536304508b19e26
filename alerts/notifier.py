"""Where notices go: the ``Notifier`` interface (the bot's Slack notifier implements it).

A notice is ``firing`` (a new message), ``reminder`` (a reply in its thread) or
``resolved`` (the message updated, and a reply in its thread); an alert whose
message is not known (``state.message_ts`` is ``None``) gets a new message instead
of a reply. Source alerts (``alerts.source.is_source``) say a metrics source fails,
or answers again.

    class PrintNotifier(Notifier):
        async def send(self, notice: AlertNotice) -> str | None:
            print(notice.notice, notice.alert.key.as_id())
            return None

``send`` raises ``NotDelivered`` only when it is certain that nothing was posted (the
notice is then sent again at the next poll); any other exception means it may
have been posted, and it is not sent again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from alerts.state import Notice
from alerts.store import StoredAlert

__all__ = ["AlertNotice", "ChartPoint", "NotDelivered", "Notifier"]

#: One minute of a chart: its start, and the rule's value over it (``None``: no data).
ChartPoint = tuple[datetime, float | None]


@dataclass(frozen=True, kw_only=True)
class AlertNotice:
    """A notice to post about an alert, with what its message shows."""

    notice: Notice
    #: The alert after the change (its state, rule, traffic share, channel, message ts).
    alert: StoredAlert
    channel: str
    #: The rule's value per minute over the last minutes (firing notices only).
    chart: tuple[ChartPoint, ...] = ()

    @property
    def in_thread(self) -> bool:
        """True when the notice is a reply in the alert message's thread."""
        return self.notice != "firing" and self.alert.state.message_ts is not None


class NotDelivered(Exception):
    """Nothing was posted (the destination refused the notice); it may be sent again."""


class Notifier(ABC):
    """Posts notices about alerts."""

    @abstractmethod
    async def send(self, notice: AlertNotice) -> str | None:
        """Post ``notice``; the ts of the new top-level message, if one was posted."""
