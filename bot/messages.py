"""Every user-facing text of the bot, in one place (Slack mrkdwn, ``str.format`` placeholders)."""

from __future__ import annotations

# ---------------------------------------------------------------- errors

GENERIC_ERROR = (
    "Something went wrong on Flightdeck's side; it is logged. "
    "Try again, or ask whoever runs the bot."
)
SLACK_UNAVAILABLE = (
    "Slack did not answer Flightdeck ({why}, after several tries), so a message could not be "
    "posted or updated here. Check the channel before asking again: part of it may be done."
)
SLACK_UNAVAILABLE_UPDATE = (
    "Slack did not answer Flightdeck ({why}, after several tries), so the message in the "
    "channel could not be updated. How it ended: {outcome}"
)
NOT_IN_CHANNEL = (
    "Flightdeck cannot post in this channel: invite it first (`/invite @Flightdeck`), "
    "or use a channel it is in."
)
FOREIGN_BUTTON = "This button was not made by Flightdeck; nothing was done."
LOADTEST_NOT_RUNNING = "That load test is no longer running: nothing to cancel."

# ---------------------------------------------------------------- access

NO_POLICY = (
    "Write commands are off: no access policy is configured. "
    "Grant them in the bot's config file (flightdeck.yml), e.g.\n"
    "```access:\n  deployers: [{user}]        # may /deploy, /scale, and request traffic shifts\n"
    '  approvers: [U0456EFGH, "@ml-platform"]   # may approve traffic shifts```\n'
    'Entries are Slack user IDs, @user-group handles, channel IDs (their members) or "*".'
)
ROLE_EMPTY = (
    "Nobody is granted this yet: add your user ID `{user}` (or a user group or channel) to "
    "`access.{key}` in the bot's config file."
)
DENIED = (
    "You may not {what}: `access.{key}` grants it to {entries}, and your user ID `{user}` "
    "matches none of them. Ask whoever runs Flightdeck to add you."
)
ROLE_WHAT = {
    "deploy": "deploy, scale or request traffic shifts",
    "approve": "approve or reject traffic shifts",
}
SELF_APPROVAL = (
    "You cannot approve your own request: another approver has to. "
    "(One-person teams can set `access.allow_self_approval: true`.)"
)

LOCKED_NOW = ":lock: {user} locked *{endpoint}*: {reason}. Deploys, traffic shifts, rollouts \
and scaling are refused until `/traffic {endpoint} unlock` (approvers may pass --force)."
UNLOCKED_NOW = ":unlock: {user} unlocked *{endpoint}*."
UNLOCK_DENIED = (
    "Only {locker}, who locked it, or an approver may unlock it: `access.approvers` does not "
    "match your user ID `{user}`."
)
DRY_RUN_REFUSED = ":no_entry: Without `--dry-run` it would be refused now: {reason}"
FORCE_NOT_APPROVER = (
    "Only approvers may pass --force past a lock: `access.approvers` does not match your user "
    "ID `{user}`. Ask an approver, or whoever locked the endpoint to unlock it."
)

# ---------------------------------------------------------------- approvals

APPROVAL_TITLE = "Traffic shift on {endpoint}"
APPROVAL_ROLLBACK_TITLE = "Traffic rollback on {endpoint}"
APPROVAL_ASK = "<@{user}> asks to shift traffic on *{endpoint}*:"
APPROVAL_ROLLBACK_ASK = (
    "<@{user}> asks to roll *{endpoint}* back to the split before Flightdeck's last shift:"
)
APPROVAL_PENDING = (
    "Needs an approver's click (not the requester's). Expires in {minutes} minutes, at {at}."
)
APPROVAL_PENDING_SELF = "Needs an approver's click. Expires in {minutes} minutes, at {at}."
APPROVAL_WAITING = "waiting for approval"
APPROVE = "Approve"
REJECT = "Reject"
CONFIRM_TITLE = "Approve this traffic shift?"
CONFIRM_TEXT = "{endpoint} will serve {split} as soon as you confirm."
APPROVAL_DECIDED = {
    "approved": ":white_check_mark: Approved by <@{user}> at {at}.",
    "rejected": ":x: Rejected by <@{user}> at {at}. Nothing changed.",
}
APPROVAL_EXPIRED = ":hourglass: Expired at {at} without a decision. Nothing changed."
STATUS_WORDS = {
    "approved": "approved",
    "rejected": "rejected",
    "expired": "expired",
    "pending": "pending",
}
STATUS_EXPIRED = "expired"
APPLYING = "Applying…"
OUTCOME_OK = ":large_green_circle:"
OUTCOME_FAILED = ":red_circle:"
APPLY_FAILED = "Failed to apply: {error} Nothing changed."
ROLLBACK_STALE = (
    "Another shift was applied after this rollback was requested; ask for a rollback again."
)
SPLIT_STALE = (
    "The split changed after this request was made (asked against: {asked}; live now: {live}). "
    "Approving it would undo that change, so it was refused."
)
ASK_AGAIN = "Ask again with today's split"
ASK_AGAIN_NOTHING = "This request cannot be asked again."
APPROVAL_UNKNOWN = "This request is unknown to Flightdeck (was its database reset?)."
APPROVAL_TOO_LATE = "This request expired at {at}: nothing changed. Ask for it again."
APPROVAL_ALREADY = "This request was already {status} by <@{user}> at {at}: nothing changed."

# ---------------------------------------------------------------- deploys onto live traffic

DEPLOY_LIVE_TITLE = "Deploy onto live {deployment} on {endpoint}"
DEPLOY_LIVE_ASK = (
    "<@{user}> asks to replace what *{deployment}* serves on *{endpoint}*; it takes {share}:"
)
DEPLOY_LIVE_SHARE = "{traffic}% of the live traffic"
DEPLOY_LIVE_MIRRORED = "a {mirror}% mirror of the traffic"
DEPLOY_LIVE_BOTH = "{traffic}% of the live traffic and a {mirror}% mirror"
DEPLOY_LIVE_CONFIRM_TITLE = "Replace the live model?"
DEPLOY_LIVE_CONFIRM_TEXT = (
    "{deployment} serves {model} to {share} of {endpoint} as soon as its new instances are ready."
)
DEPLOY_LIVE_AUDIT = "deploy {deployment}: {before} → {after}"
DEPLOY_LIVE_DONE = "{deployment} serves {model} on {count} instance(s). Live now: {split}."
DEPLOY_LIVE_STALE = (
    "{deployment} changed after this request was made (asked against: {asked}; live now: "
    "{live}). Approving it would undo that change, so it was refused."
)
DEPLOY_LIVE_REFUSED = (
    "{deployment} takes {share} of {endpoint}, and deploys onto a live deployment are refused "
    "there (`approvals.deploy_live: refuse`). Deploy blue/green instead: to a deployment at 0% "
    "(`/deploy {endpoint} <idle deployment> --model {model}`), then shift to it "
    "(`/traffic {endpoint} canary <idle deployment>`, or the Shift button under it)."
)
DEPLOY_LIVE_WILL_ASK = (
    ":raised_hand: *{deployment}* takes {share}: without `--dry-run` this deploy is posted for "
    "an approver's click (`approvals.deploy_live: require`), and changes nothing until then."
)
DEPLOY_LIVE_WILL_REFUSE = ":no_entry: Without `--dry-run` it would be refused: {reason}"
DEPLOY_LIVE_WILL_APPLY = (
    ":information_source: *{deployment}* takes {share}, and `approvals.deploy_live: allow` holds "
    "for {endpoint}: without `--dry-run` it deploys at once, without approval."
)
DEPLOY_IDLE_APPLIES = (
    ":information_source: *{deployment}* takes no traffic: without `--dry-run` it deploys at "
    "once (no approval needed: no answer changes until a shift)."
)

# ---------------------------------------------------------------- rollouts

ROLLOUT_APPROVAL_TITLE = "Canary rollout of {canary} on {endpoint}"
ROLLOUT_APPROVAL_ASK = "<@{user}> asks to roll *{canary}* out on *{endpoint}*, step by step:"
ROLLOUT_CONFIRM_TITLE = "Start this rollout?"
ROLLOUT_CONFIRM_TEXT = (
    "{canary} takes {first}% of {endpoint}'s traffic at once, then more at each step that "
    "passes its checks."
)
ROLLOUT_AUDIT = "canary {canary}: {steps}"
ROLLOUT_STARTED = (
    "Rollout `{id}` started: {canary} at {weight}% (step 1 of {steps}). Its progress is in "
    "its own message."
)
PROMOTE_TITLE = "Promote {canary} on {endpoint}"
PROMOTE_ASK = "<@{user}> asks to promote *{{canary}}* to 100% on *{{endpoint}}* now:"
PROMOTE_CONFIRMING = (
    "The rollout of *{canary}* on *{endpoint}* passed every step before the last: "
    "promote it to 100%?"
)
PROMOTE_BODY = "Now {current} → *{canary} 100%*."
PROMOTE_CONFIRM_TITLE = "Promote to 100%?"
PROMOTE_CONFIRM_TEXT = "{canary} takes all of {endpoint}'s traffic as soon as you confirm."
PROMOTE_AUDIT = "promote {canary} to 100%"
PROMOTE_OVER = "That rollout is over: nothing to promote."
PROMOTED = "{canary} is at 100% (the rollout is {status})."
ROLLOUT_BUTTON_GONE = "That rollout is over: nothing was done."
ROLLOUT_DENIED = (
    "You may not pause, resume or abort rollouts: `access.deployers` and `access.approvers` "
    "grant it, and your user ID `{user}` matches neither. Ask whoever runs Flightdeck to add you."
)

# ---------------------------------------------------------------- alerts

ALERT_UNKNOWN = "This alert is unknown to Flightdeck (was its database reset?). Nothing was done."
ALERT_OLD_MESSAGE = (
    "This message is about an earlier episode of the alert; use the latest one. Nothing was done."
)
ALERT_NOT_FIRING = "This alert is {status} now: nothing to {what}."
ALERT_ALREADY_ACKED = "Already acknowledged by <@{user}> at {at}."
ALERT_WHAT = {"acknowledge": "acknowledge", "silence": "silence"}
ALERT_DENIED = (
    "You may not acknowledge or silence alerts: `access.deployers` and `access.approvers` grant "
    "it, and your user ID `{user}` matches neither. Ask whoever runs Flightdeck to add you."
)
ALERT_SILENCED_UNTIL = "Silenced until {until}: no messages about it until then."

# ---------------------------------------------------------------- config

CONFIG_NOT_FOUND = "Config file {path} not found."
CONFIG_BAD_YAML = "invalid YAML"
CONFIG_NOT_MAPPING = "expected a mapping of keys at the top level"
CONFIG_FROM_ENV = "is read from the environment, not from the config file"
CONFIG_BAD_ENTRY = (
    "'{entry}' is not a Slack user ID (U…/W…), a user group (@handle or S…), "
    'a channel ID (C…/G…) or "*"'
)

# ---------------------------------------------------------------- serve

MISSING_ENV = "{name} is not set: export it (see the README's Slack setup)."
BAD_APP_TOKEN = "SLACK_APP_TOKEN must be an app-level token starting with xapp-."
SOCKET_MODE_READY = "Flightdeck is connected to Slack in Socket Mode."
ALERTS_WATCHING = (
    "Alerts: polling every endpoint's metrics every {poll}, posting to {channel} (rules: {rules})."
)
ALERTS_OFF = "Alerts are off (no alerts: section with a channel in the config file)."
HTTP_READY = "Flightdeck listens on http://{host}:{port}{path}"

# ---------------------------------------------------------------- channels Slack refuses

CHANNEL_SETTING_DEFAULT = "the bot's config file"
CHANNEL_PROBLEMS = {
    "not_in_channel": (
        ":warning: Flightdeck is not in <#{channel}>, so nothing it posts there arrives: "
        "run `/invite @Flightdeck` in <#{channel}>."
    ),
    "channel_not_found": (
        ":warning: Flightdeck cannot find the channel `{channel}` (deleted, mistyped, or private "
        "without the bot): check {where}, or run `/invite @Flightdeck` in that channel."
    ),
    "is_archived": (
        ":warning: <#{channel}> is archived, so nothing Flightdeck posts there arrives: "
        "unarchive it, or set another channel in {where}."
    ),
}
CHANNEL_PROBLEM_OTHER = ":warning: Slack refuses Flightdeck's posts to <#{channel}> ({error})."
CHANNEL_MISSING_SCOPE = (
    ":warning: Slack refuses Flightdeck's posts to <#{channel}>: the app lacks the `{scope}` "
    "scope. Add it under OAuth & Permissions (slack/manifest.yml) and reinstall the app."
)
CHANNEL_ANNOUNCE = (
    "{advice}\nFlightdeck could not post {what} there. This is said once; `/alerts` shows it "
    "until a post to <#{channel}> goes through."
)
CHANNEL_WHAT_ALERTS = "the alerts of {endpoints}"
CHANNEL_WHAT_ROLLOUT = "the progress of the rollout of {canary} on {endpoint}"

# ---------------------------------------------------------------- files not attached

FILE_NOT_ATTACHED = ":warning: The file `{filename}` could not be attached: {why}"
FILE_WHY = {
    "not_in_channel": "Flightdeck is not in this channel (`/invite @Flightdeck`).",
    "channel_not_found": "Slack does not let Flightdeck see this channel.",
    "is_archived": "the channel is archived.",
    "missing_scope": "the app lacks the `files:write` scope (add it and reinstall the app).",
    "ratelimited": "Slack is rate-limiting uploads; ask again in a minute.",
    "file_too_large": "it is larger than Slack accepts.",
    "file_uploads_disabled": "file uploads are turned off in this workspace.",
    "file_uploads_except_images_disabled": "only images may be uploaded in this workspace.",
}
FILE_WHY_OTHER = "Slack answered `{error}`."
FILE_WHY_NETWORK = "the upload did not go through ({kind}); ask again in a minute."
FILE_KIND_STATUS = "Slack answered HTTP {status} to the upload"
FILE_KIND_REFUSED = "Slack refused the upload"
FILE_KIND_DROPPED = "the connection to Slack dropped"
FILE_KIND_TIMEOUT = "Slack did not answer in time"
FILE_KIND_NETWORK = "Slack could not be reached"

# ---------------------------------------------------------------- start-up checks

CHECK_SCOPES_OK = "Slack: the app's scopes include {scopes}."
CHECK_SCOPES_MISSING = (
    "Slack: the app lacks the scope(s) {scopes}: add them under OAuth & Permissions "
    "(slack/manifest.yml) and reinstall the app."
)
CHECK_SCOPES_UNKNOWN = "Slack: auth.test did not list the app's scopes; they are not checked."
CHECK_AUTH_FAILED = "Slack: auth.test failed ({error}): check SLACK_BOT_TOKEN."
CHECK_CHANNEL_OK = "Slack: {purpose} channel {channel} (#{name}): Flightdeck can post there."
CHECK_CHANNEL_BAD = "Slack: {purpose} channel {channel}: {advice}"
CHECK_PURPOSE_ALERTS = "alerts"
CHECK_PURPOSE_ENDPOINT = "alerts ({endpoint})"
CHECK_PURPOSE_ROLLOUT = "rollout {rollout}"
CHECK_WHERE_ALERTS = "`alerts.channel`"
CHECK_WHERE_ENDPOINT = "`alerts.endpoints.{endpoint}.channel`"
CHECK_WHERE_ROLLOUT = "the rollout's `--channel`"

PROBES_READY = "Probes: http://{host}:{port}/healthz and /readyz"
CANNOT_START = "Flightdeck cannot start:\n{problems}"
PREFLIGHT_DB = (
    "The database {url} cannot be reached ({error}): check FLIGHTDECK_DATABASE_URL and that "
    "the server accepts this host."
)
PREFLIGHT_BACKEND = (
    "The backend ({backend}) does not answer ({error}): check the config's backend: section "
    "and its credentials."
)
PREFLIGHT_TIMED_OUT = "no answer in time"
READY_SLACK_UNCHECKED = "auth.test not run yet"
READY_SLACK_FAILED = "auth.test failed: {error}"
READY_DB_UNREACHABLE = "unreachable: {error}"
READY_DB_NOT_MIGRATED = "at revision {current}, not {head}: run flightdeck db upgrade"
READY_BACKEND_FAILED = "no answer: {error}"
SHUTDOWN_BEGUN = "Stopping: no new work taken; finishing what is in flight (at most {seconds}s)."
SHUTDOWN_DONE = "Stopped."
