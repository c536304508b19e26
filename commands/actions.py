"""The ``action_id`` of every button the commands render: the contract with the bot's listeners."""

from __future__ import annotations

__all__ = [
    "ALERT_ACK",
    "ALERT_SHIFT_AWAY",
    "ALERT_SILENCE",
    "APPROVE",
    "ASK_AGAIN",
    "CAPACITY_CANCEL",
    "CAPACITY_CONFIRM",
    "LOADTEST_CANCEL",
    "REJECT",
    "ROLLOUT_ABORT",
    "ROLLOUT_PAUSE",
    "ROLLOUT_PROMOTE",
    "ROLLOUT_RESUME",
    "SHIFT_TO_NEW",
]

#: Approve a pending request; the button's value is the approval's id.
APPROVE = "flightdeck_approve"
#: Reject a pending request; the button's value is the approval's id.
REJECT = "flightdeck_reject"
#: Ask again, against today's state, for a request refused as stale; the value is its id.
ASK_AGAIN = "flightdeck_ask_again"
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

# Buttons of a rollout's progress message; the value is the rollout's id.
#: Hold the rollout at its step.
ROLLOUT_PAUSE = "flightdeck_rollout_pause"
#: Run a paused rollout again (a fresh interval at its step).
ROLLOUT_RESUME = "flightdeck_rollout_resume"
#: Ask for approval to go to 100% now.
ROLLOUT_PROMOTE = "flightdeck_rollout_promote"
#: Roll back now: all traffic to the baseline (a confirm dialog first).
ROLLOUT_ABORT = "flightdeck_rollout_abort"
#: The Cancel button of a running ``/capacity``; its value is the run id.
CAPACITY_CANCEL = "flightdeck_capacity_cancel"
#: "Run on live traffic" of a ``/capacity`` whose deployment takes live traffic.
CAPACITY_CONFIRM = "flightdeck_capacity_confirm"
