"""User-facing text of the in-memory backend (errors, progress, log lines), in one place."""

from __future__ import annotations

# ---------------------------------------------------------------- errors
ENDPOINT_NOT_FOUND = "Endpoint '{name}' does not exist."
DEPLOYMENT_NOT_FOUND = "Deployment '{name}' does not exist on endpoint '{endpoint}'."
MODEL_NOT_FOUND = "Model {name}:{version} is not registered."
MODEL_EXISTS = "Model {name}:{version} is registered already."
MODEL_PATH_MISSING = "Model path '{path}' does not exist."
MODEL_NAME_NOT_FOUND = "Model '{name}' is not registered."
MODEL_RESTORE_WHOLE = (
    "Model '{name}' is archived as a whole, so version {version} cannot be restored alone: "
    "restore the model (without --version)."
)
AUTH_MODE_UNSUPPORTED = (
    "Endpoint '{name}': auth_mode '{mode}' is not available in memory; use key or aml_token."
)
AUTH_MODE_CHANGE = (
    "Endpoint '{name}' uses auth_mode '{current}'; it cannot change to '{mode}' "
    "(delete and create the endpoint again)."
)
KEY_TYPE_INVALID = "Unknown key type '{key_type}': use primary or secondary."
KEYS_NEED_KEY_AUTH = (
    "Endpoint '{name}' uses auth_mode '{mode}': it has no keys to regenerate "
    "(get-credentials gives a fresh token)."
)
METRICS_WINDOW = "A metrics window is 1 to {longest} minutes, not {minutes}."
INSTANCE_COUNT_INVALID = "instance_count must be between 1 and {limit}, not {count}."
TOO_MANY_DEPLOYMENTS = "Endpoint '{endpoint}' has {count} deployments already; the most is {limit}."
TAKES_TRAFFIC = "Deployment '{name}' takes traffic: set its traffic to 0 first."
LOGS_LINES_INVALID = "Ask for at least one log line, not {lines}."
LOGS_CONTAINER_INVALID = (
    "Container '{container}' is not valid: use inference-server or storage-initializer."
)
INIT_FAILED = "Deployment '{name}' failed: init() raised."
INIT_FAILED_KEPT = (
    "Deployment '{name}' failed: init() raised. It is kept in the Failed state (no instances, "
    "no traffic) with its logs: `get-logs` shows why; update it with a fix, or delete it."
)
DEPLOYMENT_IS_FAILED = (
    "Deployment '{name}' is in the Failed state (its last create failed): it cannot {action}. "
    "`get-logs` shows why; update it with a fix, or delete it."
)
PROVISIONING_FAILED = "Provisioning failed: {message}"
FAILED_DEPLOYMENT_BODY = (
    b'{"error": {"code": "deployment_failed", "message": "the deployment is in the Failed '
    b'state and has no instance"}}'
)
UNKNOWN_SETTINGS = "Unknown setting(s) of the memory backend: {unknown} (known: {known})."
CRASH = "fake crash in {method}"

# ---------------------------------------------------------------- progress
CREATING_ENDPOINT = "Creating endpoint {name} ..."
DELETING_ENDPOINT = "Deleting endpoint {name} ..."
DELETING_DEPLOYMENT = "Deleting deployment {name} ..."
COPYING_MODEL = "Copying model for {name} ..."
STARTING_INSTANCE = "Starting instance {instance} ..."
INSTANCE_READY = "Instance {instance} ready ({number}/{count})"
STOPPING = "Stopping instances of {name} ..."
SCALING = "Scaling {name} to {count} ..."

# ---------------------------------------------------------------- log lines
LOG_LINE = "{container} line {number}"
INIT_TRACEBACK = (
    "Traceback (most recent call last):",
    "RuntimeError: {error}",
)
DEFAULT_INIT_ERROR = "init failed"
NO_DEPLOYMENT_BODY = b'{"message": "no deployment"}'
