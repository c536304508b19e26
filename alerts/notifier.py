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

A notifier that can group (``groups = True``) also gets ``send_group``: the notices of
one poll that share a message, as Alertmanager groups its notifications: the new
alerts of an endpoint (or of the whole poll) in one message, the reminders and
resolutions of one message in one reply in its thread. Its buttons act on each alert.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from alerts.state import Notice
from alerts.store import StoredAlert

__all__ = ["AlertNotice", "ChartPoint", "NotDelivered", "NoticeGroup", "Notifier"]

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


@dataclass(frozen=True, kw_only=True)
class NoticeGroup:
    """Notices posted as one message: all of one kind, one channel, one thread (or none)."""

    notices: tuple[AlertNotice, ...]

    @property
    def channel(self) -> str:
        """Where the message goes."""
        return self.notices[0].channel

    @property
    def notice(self) -> Notice:
        """The kind of every notice of the group."""
        return self.notices[0].notice

    @property
    def thread(self) -> str | None:
        """The message the group replies to (``None``: a new message)."""
        first = self.notices[0]
        return first.alert.state.message_ts if first.in_thread else None


class NotDelivered(Exception):
    """Nothing was posted (the destination refused the notice); it may be sent again."""


class Notifier(ABC):
    """Posts notices about alerts."""

    #: True when ``send_group`` posts a group as one message.
    groups: ClassVar[bool] = False

    @abstractmethod
    async def send(self, notice: AlertNotice) -> str | None:
        """Post ``notice``; the ts of the new top-level message, if one was posted."""

    async def send_group(self, group: NoticeGroup) -> str | None:
        """Post the group as one message (``groups = True``); the new top-level message's ts.

        ``NotDelivered`` as for ``send``: nothing of the group was posted.
        """
        raise NotImplementedError
