"""Errors raised by rollouts/.

FlightdeckError (deploy.errors)
 ├── RolloutConfigError     the config file's ``rollouts:`` section is invalid: names the key
 ├── RolloutConflictError   a rollout runs on the endpoint already (one at a time), or a
 │                          manual traffic shift was asked for during one
 ├── RolloutStateError      the rollout cannot do that now (resume one that is not paused...)
 └── EndpointLockedError    the endpoint is locked: names who locked it, when and why
"""

from __future__ import annotations

from deploy.errors import FlightdeckError

__all__ = ["EndpointLockedError", "RolloutConfigError", "RolloutConflictError", "RolloutStateError"]


class RolloutConfigError(FlightdeckError):
    """The ``rollouts:`` section of the config file is invalid; the message names the key."""

    code = "invalid_config"


class RolloutConflictError(FlightdeckError):
    """Another rollout runs on the endpoint, or a manual shift would fight the one running."""

    code = "rollout_conflict"


class RolloutStateError(FlightdeckError):
    """The rollout is not in a state that allows this (it finished, it is not paused...)."""

    code = "rollout_state"


class EndpointLockedError(FlightdeckError):
    """The endpoint is locked against changes. The message holds a mention and a date."""

    code = "endpoint_locked"
    #: The message is Slack mrkdwn already (mentions, dates): shown without escaping.
    mrkdwn = True
