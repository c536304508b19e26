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
Example: `/deploy product-recommender green --model recommendation-model:2`"""

TRAFFIC_HELP = """\
*/traffic*: an endpoint's traffic split.
`/traffic <endpoint>`  deployments, weights, mirror, instances and health.
`/traffic <endpoint> blue=90 green=10 [--mirror green=10]`  asks for approval of a new split \
(weights sum to 100; a mirror copies up to 50% of requests to a deployment without live traffic).
`/traffic <endpoint> rollback`  asks for approval to go back to the split before the last shift.
Example: `/traffic product-recommender blue=90 green=10`"""

SCALE_HELP = """\
*/scale*: instances of a deployment.
`/scale <endpoint> <deployment>`  the current scale.
`/scale <endpoint> <deployment> <count>`  a fixed instance count (1-50).
`/scale <endpoint> <deployment> --min A --max B [--target P]`  autoscale on target utilization \
(P percent, default 70).
`/scale <endpoint> <deployment> --autoscale off`  removes the autoscale policy.
Example: `/scale product-recommender blue 3`"""

LOGS_HELP = """\
*/logs*: the last lines of a deployment's logs.
`/logs <endpoint> <deployment> [--lines N] [--container inference-server|storage-initializer] \
[--grep TEXT]`
    N defaults to 100 (at most 5000); --grep keeps the lines containing TEXT (any case).
Example: `/logs product-recommender blue --lines 500 --grep error`"""

LOADTEST_HELP = """\
*/loadtest*: load tests of an endpoint, measured from the channel.
`/loadtest <endpoint> [--deployment D] [--requests N --concurrency C | --rate R --duration D]`
Load testing from Slack is not available in this version yet; \
the command is registered so that Slack knows it."""

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
TRAFFIC_PERCENT_RANGE = "A share is between 0 and 100 percent, not {percent}."
TRAFFIC_NO_OTHERS = "No other deployment takes live traffic to share with {deployment}."
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

# ---------------------------------------------------------------- /deploy

DEPLOY_MISSING_NAMES = "Name the endpoint and the deployment, or give `--spec <file>`."
DEPLOY_NO_MODEL = "Give the model to deploy: `--model <name>:<version>`."
DEPLOY_BAD_MODEL = "`--model {model}` must be `<name>:<version>` of a registered model."
DEPLOY_SPEC_ALONE = "`--spec` comes alone: the file names the endpoint and the rest ({extra})."
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
