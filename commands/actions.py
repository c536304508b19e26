"""The ``action_id`` of every button the commands render: the contract with the bot's listeners."""

from __future__ import annotations

__all__ = [
    "ALERT_ACK",
    "ALERT_SHIFT_AWAY",
    "ALERT_SILENCE",
    "APPROVE",
    "LOADTEST_CANCEL",
    "REJECT",
    "SHIFT_TO_NEW",
]

#: Approve a pending request; the button's value is the approval's id.
APPROVE = "flightdeck_approve"
#: Reject a pending request; the button's value is the approval's id.
REJECT = "flightdeck_reject"
#: Ask for a first traffic shift to a fresh deployment; value ``{"endpoint":..,"deployment":..}``.
SHIFT_TO_NEW = "flightdeck_shift_to_new"

# Buttons of an alert message; the value is the alert's id (``endpoint/deployment/rule``).
#: Acknowledge: no more reminders; who and when are shown on the message.
ALERT_ACK = "flightdeck_alert_ack"
#: Silence for so many hours (action id -> hours).
ALERT_SILENCE = {"flightdeck_alert_silence_1h": 1, "flightdeck_alert_silence_4h": 4}
#: Ask for approval to move the deployment's traffic to the others.
ALERT_SHIFT_AWAY = "flightdeck_alert_shift_away"
#: Stop a running load test (partial results are posted); the value is the run's id.
LOADTEST_CANCEL = "flightdeck_loadtest_cancel"
