"""Channels the bot cannot post to, recorded where they are met, shown where people look.

Slack refuses a post to a channel the bot was not invited to (``not_in_channel``),
one it cannot see (``channel_not_found``: deleted, mistyped, or private without the
bot), an archived one (``is_archived``), and any call whose scope the app lacks
(``missing_scope``, with the scope in ``needed``). ``SlackIO`` records each refusal
here, and clears it at the next post that goes through; the start-up checks record
what they find. ``/alerts`` shows them as a banner, ``flightdeck serve`` prints them.

    health = ChannelHealth()
    first = health.record("C0ALERTS", "not_in_channel")   # True the first time
    health.problems()                                      # [ChannelProblem(...)]
    health.clear("C0ALERTS")
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.settings import AlertSettings
from bot import messages

__all__ = ["UNDELIVERABLE", "ChannelHealth", "ChannelProblem", "setting_for"]

#: Slack's answers that mean nothing will reach the channel until someone acts.
UNDELIVERABLE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "missing_scope"})


@dataclass(frozen=True, kw_only=True)
class ChannelProblem:
    """Why posts to ``channel`` fail, and what to do about it."""

    channel: str
    error: str
    #: The scope Slack named (``missing_scope``'s ``needed``).
    scope: str | None = None

    def advice(self, *, where: str | None = None) -> str:
        """One line (mrkdwn) saying what is wrong and what to do; ``where`` names the setting."""
        setting = where or messages.CHANNEL_SETTING_DEFAULT
        if self.error == "missing_scope":
            return messages.CHANNEL_MISSING_SCOPE.format(
                channel=self.channel, scope=self.scope or "chat:write"
            )
        template = messages.CHANNEL_PROBLEMS.get(self.error, messages.CHANNEL_PROBLEM_OTHER)
        return template.format(channel=self.channel, where=setting, error=self.error)


class ChannelHealth:
    """The channels the bot failed to post to, by channel (in this process)."""

    def __init__(self) -> None:
        self._problems: dict[str, ChannelProblem] = {}

    def record(self, channel: str, error: str, *, scope: str | None = None) -> bool:
        """Note that ``channel`` refused a post with ``error``; True when it is news."""
        problem = ChannelProblem(channel=channel, error=error, scope=scope)
        news = self._problems.get(channel) != problem
        self._problems[channel] = problem
        return news

    def clear(self, channel: str) -> ChannelProblem | None:
        """A post to ``channel`` went through; the problem it had, if any."""
        return self._problems.pop(channel, None)

    def get(self, channel: str) -> ChannelProblem | None:
        """The channel's problem, if any."""
        return self._problems.get(channel)

    def problems(self) -> list[ChannelProblem]:
        """Every known problem, by channel."""
        return [self._problems[c] for c in sorted(self._problems)]


def setting_for(channel: str, settings: AlertSettings | None) -> str:
    """The setting that names ``channel``, for the advice (an alerts key, else a rollout's)."""
    if settings is not None:
        if channel == settings.channel:
            return messages.CHECK_WHERE_ALERTS
        for name, override in sorted(settings.endpoints.items()):
            if override.channel == channel:
                return messages.CHECK_WHERE_ENDPOINT.format(endpoint=name)
    return messages.CHECK_WHERE_ROLLOUT
