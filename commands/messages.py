"""Every user-facing text of the slash commands, in one place.

Slack mrkdwn: ``*bold*``, ```code```; placeholders are filled with ``str.format``.
Help texts are plain (their ``<endpoint>`` placeholders are escaped when rendered).
"""

from __future__ import annotations

# ---------------------------------------------------------------- help

DEPLOY_HELP = """\
*/deploy*: a new or updated deployment, at 0% traffic when new.
`/deploy <endpoint> <deployment> --model <name>:<version> [--instance-type T] [--instance-count K]`
    clones the deployment (or, when new, the endpoint's live deployment) with another model.
`/deploy --spec <file>`
    deploys a deployment YAML (Azure ML v2 schema) from the configured spec folder.
`--server fast|azmlinfsrv` (either form, local platform): the inference server of its instances.
`--dry-run` shows what would be deployed, and the checks run, without deploying anything.
Example: `/deploy product-recommender green --model recommendation-model:2`"""

TRAFFIC_HELP = """\
*/traffic*: an endpoint's traffic split.
`/traffic <endpoint>`  deployments, weights, mirror, instances and health.
`/traffic <endpoint> blue=90 green=10 [--mirror green=10]`  asks for approval of a new split \
(weights sum to 100; a mirror copies up to 50% of requests to a deployment without live traffic).
`/traffic <endpoint> rollback`  asks for approval to go back to the split before the last shift.
`/traffic <endpoint> canary <deployment> [--steps 10,25,50,100] [--interval 5m] \
[--max-p99 500ms] [--max-error-rate 1%] [--min-requests 100] [--threshold 2] \
[--max-p99-increase 20%] [--with-load R] [--confirm-promotion]`
    a progressive rollout, started by one approval: the canary's weight moves step by step \
(the rest stays with the live deployments in proportion); each interval its P99 and error \
rate are checked; after --threshold failed checks it rolls back on its own. Fewer than \
--min-requests requests hold the step; --with-load R sends R requests/s to the canary.
`/traffic <endpoint> lock --reason TEXT` / `unlock`  freezes deploys, shifts, rollouts and \
scaling on the endpoint (approvers may still pass --force).
`--dry-run` (shifts, rollbacks, canaries) shows what would change and changes nothing.
Examples: `/traffic product-recommender blue=90 green=10`, \
`/traffic product-recommender canary green --steps 10,50,100 --interval 5m`"""

SCALE_HELP = """\
*/scale*: instances of a deployment.
`/scale <endpoint> <deployment>`  the current scale.
`/scale <endpoint> <deployment> <count>`  a fixed instance count (1-50).
`/scale <endpoint> <deployment> --min A --max B [--target P]`  autoscale on target utilization \
(P percent, default 70).
`/scale <endpoint> <deployment> --autoscale off`  removes the autoscale policy.
`--dry-run` shows the change without making it.
Example: `/scale product-recommender blue 3`"""

LOGS_HELP = """\
*/logs*: the last lines of a deployment's logs.
`/logs <endpoint> <deployment> [--lines N] [--container inference-server|storage-initializer] \
[--grep TEXT]`
    N defaults to 100 (at most 5000); --grep keeps the lines containing TEXT (any case).
Example: `/logs product-recommender blue --lines 500 --grep error`"""

LOADTEST_HELP = """\
*/loadtest*: a bounded load test of an endpoint, measured from the channel (deployers only: \
it puts load on the endpoint).
`/loadtest <endpoint> [--deployment D] [--requests N --concurrency C]`
    closed loop: N requests (default 100), C at a time (default 10).
`/loadtest <endpoint> [--deployment D] --rate R --duration D [--concurrency C]`
    open loop: R requests per second for D (30s, 2m; a bare number is seconds), latency from \
each intended send time.
The body is the endpoint's sample input (its swagger); --deployment sends the \
azureml-model-deployment header. Counts, rate and duration are capped by the configuration. \
One message shows progress (with a Cancel button), then the summary and a chart.
Example: `/loadtest product-recommender --requests 1000 --concurrency 10`"""

ALERTS_HELP = """\
*/alerts*: what is firing, acknowledged, pending and silenced, per endpoint (only you see it).
`/alerts [<endpoint>]`  every watched endpoint, or one.
Alert messages have buttons: Acknowledge (stops the reminders), Silence 1 h / 4 h, and \
Shift traffic away (asks for approval to move the deployment's traffic to the others).
Example: `/alerts product-recommender`"""

# ---------------------------------------------------------------- arguments

UNBALANCED_QUOTES = "A quote is not closed."
UNKNOWN_OPTION = "Unknown option `{option}` (options: {known})."
NO_OPTIONS = "none"
OPTION_TWICE = "`{option}` is given twice."
OPTION_NEEDS_VALUE = "`{option}` needs a value."
NOT_A_NUMBER = "`{what}` must be a whole number, not `{value}`."
OUT_OF_RANGE = "`{what}` must be between {low} and {high}, not {value}."
UNEXPECTED = "Unexpected words: `{words}`."
NONE = "none"
DONE = "Done."
CONFIRM_DENY = "Cancel"
BLOCKS_LEFT_OUT = "… {count} more blocks left out (Slack shows at most 50)."
REQUESTED_BY = "Requested by {user}."

# ---------------------------------------------------------------- /traffic

TRAFFIC_NO_ENDPOINT = "Name an endpoint."
TRAFFIC_ROLLBACK_NO_MIRROR = "`rollback` takes no `--mirror`: it restores the previous mirror too."
TRAFFIC_NOTHING_TO_ROLL_BACK = (
    "Nothing to roll back on {endpoint}: Flightdeck has applied no traffic shift there "
    "(or has rolled them all back)."
)
TRAFFIC_UNCHANGED = "{endpoint} already has that split: nothing to change."
TRAFFIC_FLAGS_NEED_CHANGE = (
    "`--dry-run` and `--force` go with a change (a split, rollback, canary)."
)
CANARY_ONE_DEPLOYMENT = "Name the one deployment to roll out: `canary <deployment>`."
CANARY_NO_MIRROR = "A canary takes no `--mirror`: the mirror stays as it is."
CANARY_ONLY = "`{option}` goes with `canary` only."
OPTION_NOT_WITH = "`{option}` does not go with `{verb}`."
LOCK_NEEDS_REASON = "Say why: `lock --reason TEXT` (it shows with the lock)."
REASON_LOCK_ONLY = "`--reason` goes with `lock` only."
NO_TRAFFIC = "no traffic"
MIRROR_PART = "mirror {name} {pct}%"
HEALTH_OK = "healthy"
HEALTH_PARTIAL = "{ready}/{total} ready"
HEALTH_UNKNOWN = "unknown"
STATUS_TITLE = "Traffic on {endpoint}"
STATUS_TEXT = "Traffic on {endpoint}: {split}"
STATUS_COLUMNS = ("deployment", "traffic", "mirror", "model", "instances", "health")
STATUS_NO_DEPLOYMENTS = "No deployments yet: `/deploy --spec <file>` creates one."
STATUS_FOOTER = "Endpoint {state} · auth {auth} · {uri}"
PLAN_COLUMNS = ("deployment", "now", "", "proposed")
APPLIED = "Live now: {split}."
DRY_RUN_SHIFT = "Dry run: traffic shift on {endpoint}"
DRY_RUN_ROLLBACK = "Dry run: traffic rollback on {endpoint}"
DRY_RUN_FOOTER = "Dry run: nothing changed and no approval was requested."
DRY_RUN_APPROVAL = "Without `--dry-run` this asks an approver (`access.approvers`) to approve it."
DRY_RUN_WOULD = "Without `--dry-run` this would {what}."

# ---------------------------------------------------------------- /deploy

DEPLOY_MISSING_NAMES = "Name the endpoint and the deployment, or give `--spec <file>`."
DEPLOY_NO_MODEL = "Give the model to deploy: `--model <name>:<version>`."
DEPLOY_BAD_MODEL = "`--model {model}` must be `<name>:<version>` of a registered model."
DEPLOY_BAD_SERVER = "`--server {server}` is not a server: use `fast` or `azmlinfsrv`."
DEPLOY_SPEC_ALONE = (
    "`--spec` comes alone (or with `--server`): the file names the endpoint and the rest ({extra})."
)
DEPLOY_NO_SOURCE = (
    "{endpoint} has no live deployment to clone: deploy the first one with `/deploy --spec <file>`."
)
DEPLOY_NO_SPEC_FOLDER = (
    "`/deploy --spec` reads deployment files from a folder that is not configured: "
    "set `specs: {folder: path/to/specs}` in the Flightdeck config file."
)
DEPLOY_SPEC_OUTSIDE = "`{name}` is outside the spec folder: name a file inside it."
DEPLOY_SPEC_NOT_FOUND = "No spec file `{name}` in the spec folder (files there: {available})."
DEPLOY_VERB_CREATE = "Deploying"
DEPLOY_VERB_UPDATE = "Updating"
DEPLOY_TITLE = "{verb} {deployment} to {endpoint}"
DEPLOY_SUMMARY = "Model *{model}*, {count} x {instance_type}, {origin}. Requested by {user}."
DEPLOY_FROM_CLONE = "settings of *{source}*"
DEPLOY_FROM_SPEC = "from `{file}`"
DEPLOY_STARTING = "Starting…"
DEPLOY_IN_PROGRESS = "In progress: this message is updated until the deployment serves or fails."
DEPLOY_DONE_TITLE = "{deployment} deployed to {endpoint}"
DEPLOY_DONE = (
    "*{deployment}* serves *{model}* on {count} instance(s), {health}; it takes {share}% of "
    "{endpoint}'s traffic."
)
DEPLOY_SPLIT_NOW = "Traffic now: {split}."
DEPLOY_SHIFT_BUTTON = "Shift {percent}% to {deployment}"
DEPLOY_FAILED_TITLE = "Deploying {deployment} to {endpoint} failed"
DEPLOY_FAILED = "*Failed:* {error}"
DEPLOY_PREVIOUS_SERVES = "The previous version of the deployment keeps serving."
DEPLOY_LIVE_COLUMNS = ("", "now", "", "proposed")
DEPLOY_LIVE_MODEL = "model"
DEPLOY_LIVE_INSTANCES = "instances"
DEPLOY_LIVE_SPLIT = "Traffic now: {split}. {origin}"
DEPLOY_DRY_RUN_TITLE = "Dry run: {title}"
DEPLOY_DRY_RUN_CHECKED = (
    "Checked: the endpoint exists{model_check}{spec_check}. Not checked until it deploys: "
    "the scoring script's init() and the instances' health."
)
DEPLOY_DRY_RUN_MODEL = ", the model {model} is registered"
DEPLOY_DRY_RUN_SPEC = ", the spec file loads against Azure ML's schema"
DEPLOY_DRY_RUN_NEW = (
    "Would create *{deployment}* at 0% traffic: no request reaches it until a shift."
)
DEPLOY_DRY_RUN_UPDATE = (
    "Would update *{deployment}* (it takes {share}% of the traffic) by a rolling replacement: "
    "the old version serves until the new one is ready."
)

# ---------------------------------------------------------------- /scale

SCALE_MISSING_NAMES = "Name the endpoint and the deployment."
SCALE_AUTOSCALE_OFF = "`--autoscale` takes only `off`, without a count or `--min/--max/--target`."
SCALE_COUNT_OR_POLICY = "Give either a count or `--min/--max`, not both."
SCALE_MIN_AND_MAX = "An autoscale policy needs both `--min` and `--max`."
SCALE_MAX_BELOW_MIN = "`--max` ({high}) must not be below `--min` ({low})."
SCALE_UNCHANGED = "{deployment} already runs {count} instance(s): nothing to change."
SCALE_NO_POLICY = "{deployment} has no autoscale policy to remove."
SCALE_STATE = "*{deployment}* on {endpoint}: {count} x {instance_type}, {health}."
SCALE_POLICY = "Autoscale: {low}-{high} instances at {target}% target utilization."
SCALE_TITLE = "Scaling {deployment} on {endpoint} to {count}"
SCALE_AUTO_TITLE = "Autoscaling {deployment} on {endpoint}: {low}-{high} instances"
SCALE_OFF_TITLE = "Removing the autoscale policy of {deployment} on {endpoint}"
SCALE_STARTING = "Starting…"
SCALE_FAILED = "*Failed:* {error}"
SCALE_FLAGS_NEED_CHANGE = "`--dry-run` and `--force` go with a change: a count or a policy."
SCALE_DRY_RUN_TITLE = "Dry run: {title}"
SCALE_DRY_RUN_NOW = "Now: {state}"
SCALE_DRY_RUN_COUNT = "Would run *{count}* instance(s) instead of {current}."
SCALE_DRY_RUN_POLICY = (
    "Would set autoscale: {low}-{high} instances at {target}% target utilization."
)
SCALE_DRY_RUN_OFF = "Would remove the autoscale policy (the count stays at {current})."
SCALE_DRY_RUN_OVERRIDE = (
    "Its autoscale policy ({low}-{high}) may change the count again at its next decision."
)

# ---------------------------------------------------------------- /logs

LOGS_MISSING_NAMES = "Name the endpoint and the deployment."
LOGS_BAD_CONTAINER = (
    "`--container {container}` is unknown: use inference-server or storage-initializer."
)
LOGS_TITLE = "{container} logs of {deployment} on {endpoint}"
LOGS_WHAT = "{count} line(s) of the last {asked}"
LOGS_MATCHING = " containing `{grep}`"
LOGS_EMPTY = "No log lines yet."
LOGS_NO_MATCH = "No line matches."
LOGS_CUT = "… {count} earlier line(s) in the file"
LOGS_AS_FILE = "(too long for a message: the end below, all of it in the file)"
LOGS_CUT_NO_FILE = "… {count} earlier line(s) left out"
LOGS_FILE_FAILED = (
    ":warning: Too long for a message: the last {shown} line(s) are below, and the file with "
    "all {count} could not be attached: {why}"
)

# ---------------------------------------------------------------- alerts

ALERT_TITLE = "{label} alert on {endpoint}"
ALERT_SHARE = "{share}% of traffic"
ALERT_FIRING = (
    ":red_circle: *Firing* · deployment *{deployment}* ({share})\n"
    "{label} *{value}*, above the {threshold} threshold since {since}."
)
ALERT_FIRING_NO_TRAFFIC = (
    ":red_circle: *Firing* · deployment *{deployment}* ({share})\n"
    "No requests answered since {since}."
)
ALERT_RESOLVED = (
    ":large_green_circle: *Resolved* · deployment *{deployment}*\n"
    "{label} back to *{value}* (threshold {threshold}) at {at}, after firing for {span}."
)
ALERT_RESOLVED_QUIET = (
    ":large_green_circle: *Resolved* · deployment *{deployment}*\n"
    "No requests since the last poll, so no {label_lower} to judge, at {at}; "
    "it fired for {span}."
)
ALERT_RESOLVED_TRAFFIC = (
    ":large_green_circle: *Resolved* · deployment *{deployment}*\n"
    "Requests again at {at}, after {span} without."
)
ALERT_RULE = "Rule: {rule} · peak {peak}"
ALERT_RULE_ONLY = "Rule: {rule}"
ALERT_ACKNOWLEDGED = ":white_check_mark: Acknowledged by <@{user}> at {at}."
ALERT_SILENCED = ":hourglass: Silenced by <@{user}> until {until}."
ALERT_REMINDER = (
    ":red_circle: Still firing after {span}: {label} *{value}* (threshold {threshold}) on "
    "*{deployment}* ({share})."
)
ALERT_REMINDER_NO_TRAFFIC = (
    ":red_circle: Still firing after {span}: no requests on *{deployment}* ({share})."
)
ALERT_RESOLVED_REPLY = ":large_green_circle: Resolved at {at}, after firing for {span}: {what}."
ALERT_RESOLVED_VALUE = "{label} {value} (threshold {threshold})"
ALERT_RESOLVED_NO_DATA = "no requests to judge"
ALERT_TEXT_FIRING = "{label} alert firing on {endpoint}/{deployment}: {value} > {threshold}"
ALERT_TEXT_RESOLVED = "Resolved: {label} alert on {endpoint}/{deployment}"
ALERT_GROUP_TITLE = "{count} alerts on {endpoint}"
ALERT_GROUP_TITLE_MANY = "{count} alerts on {endpoints} endpoints"
ALERT_GROUP_ENDPOINT = "*{endpoint}* · "
ALERT_GROUP_FOOTER = (
    "{firing} firing, {resolved} resolved. Charts in the thread; each alert's buttons act on it "
    "alone."
)
ALERT_GROUP_TEXT = "{title}: {alerts}"
ALERT_GROUP_REPLY_LINE = "*{deployment}* · {label}: "
ALERT_ACK_BUTTON = "Acknowledge"
ALERT_SILENCE_BUTTON = "Silence {hours} h"
ALERT_SHIFT_BUTTON = "Shift traffic away"
ALERT_SHIFT_CONFIRM_TITLE = "Shift traffic away?"
ALERT_SHIFT_CONFIRM = (
    "Ask for approval to move {deployment}'s traffic on {endpoint} to the other deployments."
)
ALERT_SHIFT_CONFIRM_OK = "Ask for approval"

SOURCE_TITLE = "Metrics of {what} cannot be read"
SOURCE_TITLE_BACK = "Metrics of {what} answer again"
SOURCE_ALL = "the endpoint listing"
SOURCE_FAILING = (
    ":warning: *Failing* since {since}: {detail}\n"
    "Alerts on it wait until it answers again; this is said once, and once when it recovers."
)
SOURCE_RECOVERED = ":large_green_circle: *Answering again* since {at}, after failing for {span}."
SOURCE_TEXT_FAILING = "Metrics of {what} cannot be read: {detail}"
SOURCE_TEXT_BACK = "Metrics of {what} answer again"

ALERTS_TITLE = "Alerts"
ALERTS_TITLE_ONE = "Alerts on {endpoint}"
ALERTS_NONE = "Nothing is firing, pending or silenced."
ALERTS_NONE_ONE = "Nothing is firing, pending or silenced on {endpoint}."
ALERTS_OFF = (
    "Alerts are off: add an `alerts:` section with a channel to the bot's config file, e.g. "
    "`alerts: {channel: C0123ABCD}`."
)
ALERTS_COUNT = {
    "firing": ":red_circle: {count} firing",
    "pending": ":large_yellow_circle: {count} pending",
    "silenced": ":hourglass: {count} silenced",
    "failing": ":warning: {count} metrics source(s) failing",
}
ALERTS_COMPACT = "*{summary}* on {endpoints} endpoint(s). Too many for one message: one line each."
ALERTS_COMPACT_ROW = "*{endpoint}* · {summary}"
ALERTS_COMPACT_CUT = "… more endpoints in the file."
ALERTS_FULL_IN_FILE = (
    "The full list is the file `alerts.txt`, just shared in this channel; "
    "`/alerts <endpoint>` shows one endpoint here."
)
ALERTS_FULL_NOT_SHARED = (
    "The full list could not be shared as a file: {why} `/alerts <endpoint>` shows one "
    "endpoint here."
)
ALERTS_FILE_ROW = "{deployment} · {label} {value} (threshold {threshold}) · {status} since {since}"
ALERTS_FILE_SOURCE_ROW = "metrics cannot be read since {since}: {detail}"
ALERTS_FILE_ACKED = " (acknowledged by {user})"
ALERTS_FILE_SILENCED = " (silenced until {until})"
ALERTS_ROW = "{icon} *{deployment}* · {label} {value} (threshold {threshold}) · {status}"
ALERTS_SOURCE_ROW = ":warning: metrics cannot be read since {since}: {detail}"
ALERTS_FIRING_SINCE = "firing since {since}"
ALERTS_PENDING_SINCE = "pending since {since} (fires after {duration})"
ALERTS_STATUS_OK = "ok"
ALERTS_STATUS_RESOLVED = "resolved at {at}"
ALERTS_ACKED = "acknowledged by <@{user}>"
ALERTS_SILENCED = "silenced by <@{user}> until {until}"
ALERTS_FOOTER = (
    "Polled every {poll}; reminders every {repeat} while firing; posted in <#{channel}>."
)
ALERTS_ICONS = {
    "firing": ":red_circle:",
    "pending": ":large_yellow_circle:",
    "silenced": ":hourglass:",
    "acknowledged": ":white_check_mark:",
    "ok": ":large_green_circle:",
    "resolved": ":large_green_circle:",
}


# ---------------------------------------------------------------- /loadtest

LOADTEST_NO_ENDPOINT = "Name the endpoint."
LOADTEST_NOT_POSITIVE = "`{option}` must be above 0."
LOADTEST_BAD_DURATION = "`--duration`: {problem}."
LOADTEST_NO_DEPLOYMENT = "{endpoint} has no deployment {deployment} (deployments: {known})."
LOADTEST_NO_SWAGGER = (
    "{endpoint} publishes no swagger to take a sample input from: give a request file."
)
LOADTEST_SWAGGER_FAILED = "Could not read the endpoint's swagger at {uri} ({reason})."
LOADTEST_TITLE = "Load test of {endpoint}"
LOADTEST_TITLE_DEPLOYMENT = "Load test of {deployment} on {endpoint}"
LOADTEST_RUNNING = "Running: {progress}"
LOADTEST_STARTING = "Starting…"
LOADTEST_PLAN_CLOSED = "{requests} requests, {concurrency} at a time. Requested by {user}."
LOADTEST_PLAN_OPEN = "{rate} requests/s for {duration} s. Requested by {user}."
LOADTEST_CANCEL = "Cancel"
LOADTEST_CANCELLED_BY = "Cancelled by {user}."
LOADTEST_DONE_TITLE = "{title}: done"
LOADTEST_CANCELLED_TITLE = "{title}: cancelled, partial results"
LOADTEST_FAILED_TITLE = "{title}: failed"
LOADTEST_FAILED = "*Failed:* {error}"
LOADTEST_CHART_TITLE = "Latency of {endpoint}"
LOADTEST_CHART_NOTE = "The chart of the latency distribution and over time follows as a file."

# ---------------------------------------------------------------- canary rollouts

ROLLOUT_TITLE = "Canary rollout: {canary} on {endpoint}"
ROLLOUT_DRY_RUN_TITLE = "Dry run: canary rollout of {canary} on {endpoint}"
ROLLOUT_DRY_RUN_FOOTER = "Dry run: nothing changed and no approval was requested."
ROLLOUT_STEP_COLUMN = "step"
ROLLOUT_CHECKS_COLUMN = "checks"
ROLLOUT_PLAN_NOW = "Live now: {split}. One approval starts it; then, step by step:"
ROLLOUT_PLAN_FOOTER = (
    "Compared with {baseline}. A rollback (failed checks, or Abort) returns to: {rollback}. "
    "Promotion after {shortest} at the earliest."
)
ROLLOUT_CHECK_P99 = "P99 ≤ {limit} ms"
ROLLOUT_CHECK_ERRORS = "errors ≤ {limit}%"
ROLLOUT_CHECK_BASELINE = "P99 ≤ baseline +{limit}%"
ROLLOUT_CHECK_REQUESTS = "at least {count} requests"
ROLLOUT_CHECKS = (
    "*Checks* each {interval}: {checks}; rolls back on its own after {threshold} failed."
)
ROLLOUT_CONFIRMS = "The last step waits for an approval."
ROLLOUT_WITH_LOAD = "Sends {rate} requests/s to the canary while it is judged."
ROLLOUT_APPLYING = "… applying"
ROLLOUT_JUDGING = "… judging"
ROLLOUT_RUNNING = "*Running* · step {step} of {steps}: {split}."
ROLLOUT_NEXT_CHECK = "Next check {at}."
ROLLOUT_PAUSED = "*Paused* at step {step} of {steps}: {split}."
ROLLOUT_AWAITING = "*Awaiting approval* to promote {canary} to 100% · now {split}."
ROLLOUT_FINISHING = {
    "promoted": "*Promoting* · setting {split}.",
    "rolled_back": "*Rolling back* · setting {split}.",
    "aborted": "*Aborting* · setting {split}.",
}
ROLLOUT_DONE = {
    "promoted": ":white_check_mark: *Promoted* · {split}.",
    "rolled_back": ":rewind: *Rolled back* · {split}.",
    "aborted": ":octagonal_sign: *Aborted* · {split}.",
}
ROLLOUT_LAST_INTERVAL = (
    "Last interval (step {step}, {start}–{end} UTC): {result}. Failed checks so far: "
    "{failures} of {threshold}."
)
ROLLOUT_CHART = "P99 per interval `{chart}` (scale: {limit} ms) · canary weight `{weights}`"
ROLLOUT_REASON = "Why: {reason}"
ROLLOUT_PEOPLE = "Requested by {requester} · approved by {approver} · rollout `{id}`"
ROLLOUT_PAUSE = "Pause"
ROLLOUT_RESUME = "Resume"
ROLLOUT_PROMOTE = "Promote now"
ROLLOUT_ABORT = "Abort"
ROLLOUT_ABORT_CONFIRM_TITLE = "Abort the rollout?"
ROLLOUT_ABORT_CONFIRM = "All of {endpoint}'s traffic goes back to the baseline; {canary} gets 0%."
ROLLOUT_STATUS_TEXT = {
    "running": "running, step {step} of {steps} ({weight}%)",
    "paused": "paused at step {step} of {steps} ({weight}%)",
    "awaiting_promotion": "awaiting approval to promote",
    "finishing": "finishing",
    "done": "done",
}
OUTCOME_TEXT = {"promoted": "promoted", "rolled_back": "rolled back", "aborted": "aborted"}
ROLLOUT_FINISHED = {
    "promoted": ":white_check_mark: {canary} is promoted on {endpoint}: {split}.",
    "rolled_back": ":rewind: {canary} was rolled back on {endpoint}: {split}.",
    "aborted": ":octagonal_sign: The rollout of {canary} on {endpoint} was aborted: {split}.",
}
ROLLOUT_FINISHED_INTERVALS = (
    "Intervals judged: {count} ({failed} failed, {inconclusive} inconclusive)."
)
ROLLOUT_LINE = "Rollout `{id}` of *{canary}*: {status} (requested by {requester})."
LOCK_LINE = ":lock: Locked by {user} {at}: {reason}"
WITH_LOAD_FAILED = "`--with-load` cannot send its load: {error}"

# ----------------------------------------------------------------- /capacity
CAPACITY_HELP = """\
*/capacity*: what a deployment serves at its P99 objective, and how many instances a target \
rate needs, with autoscale and cost (deployers only: it loads the deployment).
`/capacity <endpoint> <deployment> --max-p99 200ms [--max-error-rate 0.1%] [--target-rate 500] \
[--max-rate 2000] [--start-rate 10] [--step 10s] [--scaling] [--dry-run]`
    open-loop steps of rising rate, each held for --step (default 10s), then bisection, find \
the highest rate with P99 within --max-p99 and errors (5xx, 408, 424, 429) within \
--max-error-rate (default 0.1%).
    --target-rate (else the busiest minute of the last 7 days, or of what the platform \
keeps): instances with headroom, autoscale, cost.
    --scaling (local platform): measure on 1 and on 2 instances, then restore the count; \
the count follows the measured scaling.
    --dry-run: the steps, their most load and time; nothing is sent.
A deployment with live traffic asks for a confirmation first."""
CAPACITY_NO_TARGET = (
    "Name the endpoint and the deployment: `/capacity <endpoint> <deployment> --max-p99 200ms`."
)
CAPACITY_NEEDS_P99 = "`--max-p99` is required: the P99 objective, e.g. `--max-p99 200ms`."
CAPACITY_BAD_P99 = "`--max-p99`: {problem}."
CAPACITY_BAD_STEP = "`--step`: {problem}."
CAPACITY_BAD_ERROR_RATE = "`--max-error-rate` {value!r} is not a percentage such as `0.1%` or `1`."
CAPACITY_TITLE = "Capacity of {deployment} on {endpoint}"
CAPACITY_OBJECTIVE = "P99 ≤ {p99:g} ms, errors ≤ {errors:g}%. Requested by {user}."
CAPACITY_STARTING = "Starting…"
CAPACITY_RUNNING = "{steps}\n\nNow: {now}"
CAPACITY_CANCEL = "Cancel"
CAPACITY_DONE_TITLE = "{title}: done"
CAPACITY_CANCELLED_TITLE = "{title}: cancelled, partial results"
CAPACITY_FAILED_TITLE = "{title}: failed"
CAPACITY_FAILED = "*Failed:* {error}"
CAPACITY_CANCELLED_BY = "Cancelled by {user}."
CAPACITY_CHART_TITLE = "Capacity of {deployment} on {endpoint}"
CAPACITY_CHART_NOTE = "The chart of P99 and errors against offered rate follows in the thread."
CAPACITY_DRY_RUN_TITLE = (
    "Capacity search plan for {deployment} on {endpoint} (dry run: nothing sent)"
)
CAPACITY_LIVE = (
    "{deployment} takes {weight}% of {endpoint}'s live traffic: the search loads it up to"
    " {max_rate:g} req/s for up to {seconds}, and live requests may slow down or fail meanwhile."
)
CAPACITY_LIVE_CLI = "{live} Pass --yes to run it anyway."
CAPACITY_CONFIRM = "Run on live traffic"
CAPACITY_CONFIRM_NOT_YOURS = "Only the user who asked for this search can start it."
CAPACITY_CONFIRM_GONE = "This search was started or has expired; run /capacity again."
CAPACITY_NO_READY = "{deployment} has no ready instance: nothing to measure."
CAPACITY_SCALING_PLAN = (
    "--scaling scales {deployment} to 1 instance, then 2, searching on each (twice the"
    " steps), and back to its {count} afterwards, whatever happens."
)
CAPACITY_SCALING_LOCAL_ONLY = (
    "`--scaling` is for the local platform, where instances share one machine; Azure's"
    " instances are separate machines, so their capacity is per instance × instances."
)
CAPACITY_SCALING_AUTOSCALE = (
    "{deployment} autoscales: `--scaling` sets its instance count, which the autoscaler would"
    " change back. Turn autoscale off first (`/scale <endpoint> <deployment> --autoscale off`)"
    " or run without `--scaling`."
)
