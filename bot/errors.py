"""Errors raised by the bot.

Two tiers: a ``FlightdeckError`` is shown to the user as is (ephemeral in Slack,
one line in the terminal); anything else is logged once with its traceback at the
edge (``bot.edge``) and the user gets a short generic message.

    FlightdeckError (deploy.errors)
     ├── ConfigError        the config file is invalid: names the file, the key and the reason
     ├── AccessDeniedError  the access policy does not grant the user this
 │    └── UnlockDeniedError  only the one who locked an endpoint, or an approver, unlocks it
     ├── SlackError         Slack refused a call the user can fix (the bot is not in the channel)
     │    └── SlackUnavailableError  Slack failed (5xx, HTML, connection) after the retries
     ├── ApprovalStateError a click on a request decided or expired (its message is mrkdwn)
     ├── StaleRequestError  an approved request made against a state that has changed since
     └── AlertStateError    a click on an alert that moved on (resolved, acknowledged already)
"""

from __future__ import annotations

from deploy.errors import FlightdeckError

__all__ = [
    "AccessDeniedError",
    "AlertStateError",
    "ApprovalStateError",
    "ConfigError",
    "SlackError",
    "SlackUnavailableError",
    "StaleRequestError",
    "UnlockDeniedError",
]


class ConfigError(FlightdeckError):
    """The config file (or an environment variable) is invalid or missing."""

    code = "invalid_config"


class AccessDeniedError(FlightdeckError):
    """The access policy does not allow this user (or there is no policy)."""

    code = "access_denied"


class UnlockDeniedError(AccessDeniedError):
    """Someone else locked the endpoint. The message holds a mention."""

    #: The message is Slack mrkdwn already (a mention): shown without escaping.
    mrkdwn = True


class SlackError(FlightdeckError):
    """Slack refused a call for a reason the user can fix."""

    code = "slack_error"


class SlackUnavailableError(SlackError):
    """Slack failed (5xx, an HTML page, a dropped connection) even after the retries."""

    code = "slack_unavailable"


class ApprovalStateError(FlightdeckError):
    """The request was decided already, or expired. The message holds mentions and dates."""

    code = "approval_state"
    #: The message is Slack mrkdwn already (mentions, dates): shown without escaping.
    mrkdwn = True


class StaleRequestError(FlightdeckError):
    """The split (or the deployment) a request was made against is not the live one any more:
    applying it would undo a later change. Nothing is applied; the request can be asked again."""

    code = "stale_request"


class AlertStateError(FlightdeckError):
    """A click on an alert that has moved on. The message holds mentions and dates."""

    code = "alert_state"
    #: The message is Slack mrkdwn already (mentions, dates): shown without escaping.
    mrkdwn = True
