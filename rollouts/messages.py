"""Every text rollouts/ shows to users (mrkdwn where it is posted to Slack)."""

from __future__ import annotations


def escape(text: str) -> str:
    """Text from users (a lock's reason) as Slack mrkdwn shows it literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user: str) -> str:
    """A Slack user id as a mention; anyone else (``cli:root``) as is."""
    return f"<@{user}>" if user[:1] in ("U", "W") and user.isalnum() else user


# ---------------------------------------------------------------- config and parsing

CONFIG_SPAN = "must be between {low} and {high}"
CONFIG_INTERVAL = "interval {interval} must be between min_interval ({low}) and {high}"
STEPS_TOO_FEW = "give at least two steps, the last one 100"
STEPS_RANGE = "each step is a weight between 1 and 100"
STEPS_RISING = "steps must rise (each one above the one before)"
STEPS_LAST = "the last step must be 100 (the promotion)"
STEPS_NOT_NUMBERS = "`--steps {text}`: write weights in percent, e.g. --steps 10,25,50,100."
STEPS_BAD = "`--steps {text}`: {problem}."
INTERVAL_BAD = "`--interval {text}`: {problem}."
INTERVAL_RANGE = "`--interval {text}` must be between {low} and {high}."
MS_BAD = "`{what} {text}`: write milliseconds such as 500ms (or seconds: 0.5s), more than 0."
PERCENT_BAD = "`{what} {text}`: write a percentage between 0 and {high}, e.g. 1%."
COUNT_BAD = "`{what} {text}` must be a whole number."
COUNT_RANGE = "`{what} {text}` must be between {low} and {high}."
RATE_BAD = "`--with-load {text}`: write requests per second, more than 0, e.g. 20."
RATE_HIGH = "`--with-load {text}` is above the configured limit of {high} requests/s."

# ---------------------------------------------------------------- plans and conflicts

CANARY_MIRRORED = (
    "{canary} receives mirror traffic; a mirror target takes no live traffic. "
    "Stop mirroring to it first."
)
NO_BASELINE = (
    "No deployment other than {canary} takes live traffic on {endpoint}: "
    "there is nothing to compare the canary with, or to roll back to."
)
CANARY_ALREADY_AT = (
    "{canary} takes {weight}% already, more than the first step ({first}%): "
    "start the steps above it."
)
ALREADY_RUNNING = "A rollout is running on {endpoint} already: one at a time."
ALREADY_RUNNING_DETAIL = (
    "A rollout of {canary} is running on {endpoint} (rollout {id}): one at a time. "
    "Abort it first (the Abort button on its message)."
)
SHIFT_DURING_ROLLOUT = (
    "A rollout of {canary} is running on {endpoint} (step {step} of {steps}, {weight}%): "
    "traffic moves by its steps only. An approver can abort it first "
    "(the Abort button on its message), then shift by hand."
)
UNKNOWN_ROLLOUT = "There is no rollout {id}."
NO_ROLLOUT = "No rollout is running on {endpoint}."
BUSY = "The rollout kept changing while this was applied; try again."
CANNOT = "Cannot {action} the rollout on {endpoint}: it is {status}."
NOT_DUE = "The interval has not passed yet."

# ---------------------------------------------------------------- locks

LOCKED_BY = "locked by {user} at {at}: {reason}"
LOCKED = (
    "{endpoint} is {lock}. Deploys, traffic shifts, rollouts and scaling are refused "
    "until it is unlocked (an approver may pass --force)."
)
ALREADY_LOCKED = "{endpoint} is {lock} already."
NOT_LOCKED = "{endpoint} is not locked."

# ---------------------------------------------------------------- checks

CHECK_OK = {
    "requests": "{value} requests (at least {limit})",
    "p99": "P99 {value} ms ≤ {limit} ms",
    "error_rate": "errors {value}% ≤ {limit}%",
    "p99_vs_baseline": "P99 {value}% vs baseline ≤ +{limit}%",
}
CHECK_FAILED = {
    "requests": "{value} requests, fewer than {limit}: inconclusive",
    "p99": "P99 {value} ms > {limit} ms",
    "error_rate": "errors {value}% > {limit}%",
    "p99_vs_baseline": "P99 {value}% above the baseline's > +{limit}%",
}
CHECK_NO_DATA = {
    "requests": "no requests (at least {limit} needed)",
    "p99": "P99: no data (limit {limit} ms)",
    "error_rate": "errors: no data (limit {limit}%)",
    "p99_vs_baseline": "P99 vs baseline: no data (limit +{limit}%)",
}

# ---------------------------------------------------------------- history

EVENT_STARTED = "started: {canary} in steps of {steps}"
EVENT_STEP = "step {step} of {steps}: {canary} at {weight}%"
EVENT_PAUSED = "paused by {user}"
EVENT_RESUMED = "resumed by {user}"
EVENT_ABORTED = "aborted by {user}"
EVENT_PROMOTED = "promoted by {user}"
EVENT_AWAITING = "every check passed: the promotion of {canary} to 100% awaits approval"
EVENT_APPLY_FAILED = "could not set the traffic: {error}"
EVENT_FINISHED = {
    "promoted": "promoted: {canary} takes {weight}%",
    "rolled_back": "rolled back: {canary} takes {weight}%",
    "aborted": "aborted: {canary} takes {weight}%",
}
OUTSIDE = "a change outside the rollout"
APPLY_BUG = "an unexpected error ({kind}); the bot's log has the details"

REASON_FAILED = "{failures} of {threshold} allowed failed checks: {numbers}"
REASON_ABORTED = "aborted by {user}"
REASON_PROMOTED = "promoted by {user} before the last step"
REASON_APPLY_FAILED = "the traffic could not be set: {error}"
REASON_GAVE_UP = "the final split could not be set ({error}): set the traffic by hand"
REASON_DRIFT = (
    "the endpoint's traffic was changed outside the rollout; paused until someone resumes "
    "or aborts it"
)
REASON_HELD_LOCKED = "the endpoint is locked: the step holds until it is unlocked"

STATUS_WORDS = {
    "running": "running",
    "paused": "paused",
    "awaiting_promotion": "awaiting the promotion's approval",
    "finishing": "finishing",
    "done": "done",
}
OUTCOME_WORDS = {"promoted": "promoted", "rolled_back": "rolled back", "aborted": "aborted"}

# ---------------------------------------------------------------- charts

CHART_TITLE = "Rollout of {canary} on {endpoint}"
CHART_WEIGHT = "canary %"
CHART_P99 = "P99 ms"
CHART_INTERVALS = "interval"
CHART_LIMIT = "limit {limit} ms"
CHART_NO_DATA = "no interval judged"
