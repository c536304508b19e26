"""User-facing text of the local platform core (errors, progress, log lines), in one place."""

from __future__ import annotations

# ---------------------------------------------------------------- errors: endpoints
ENDPOINT_NOT_FOUND = "Endpoint '{name}' does not exist (endpoints: {known})."
ENDPOINT_AUTH_MODE_UNSUPPORTED = (
    "Endpoint '{name}': auth_mode '{mode}' is not available on the local platform; "
    "use key or aml_token."
)
ENDPOINT_AUTH_MODE_CHANGE = (
    "Endpoint '{name}' uses auth_mode '{current}'; it cannot change to '{mode}' "
    "(delete and create the endpoint again)."
)
KEYS_NEED_KEY_AUTH = (
    "Endpoint '{name}' uses auth_mode '{mode}': it has no keys to regenerate "
    "(get-credentials gives a fresh token)."
)
KEY_TYPE_INVALID = "Key type '{key_type}' is not valid: use primary or secondary."
METRICS_WINDOW = "A metrics window is 1 to {longest:g} minutes, not {minutes:g}."
PLATFORM_NOT_STARTED = "The local platform is not started."

# ---------------------------------------------------------------- errors: deployments
DEPLOYMENT_NOT_FOUND = (
    "Deployment '{name}' does not exist on endpoint '{endpoint}' (deployments: {known})."
)
TOO_MANY_DEPLOYMENTS = "Endpoint '{endpoint}' has {count} deployments already; the most is {limit}."
INSTANCE_COUNT_INVALID = "Deployment '{name}': instance_count must be 1 to {limit}, not {count}."
CODE_MISSING = (
    "Deployment '{name}': code_configuration (code and scoring_script) is required "
    "on the local platform."
)
CODE_REGISTERED = (
    "Deployment '{name}': code '{code}' is a registered code asset; the local platform "
    "needs a local folder."
)
CODE_FOLDER_MISSING = "Deployment '{name}': the code folder '{path}' does not exist."
SCRIPT_MISSING = "Deployment '{name}': the scoring script '{script}' is not a file in '{path}'."
REQUEST_SETTINGS_INVALID = (
    "Deployment '{name}': request_settings.{key} must be {rule}, not {value}."
)
PROBE_INVALID = "Deployment '{name}': {probe}.{key} must be {rule}, not {value}."
SERVER_INVALID = "Deployment '{name}': {variable} must be {choices}, not '{value}'."
FASTSERVE_MISSING = "fastserve is not installed (the scoring.fastserve package was not found)"
DEPLOYMENT_TAKES_TRAFFIC = (
    "Deployment '{name}' takes {percent}% of endpoint '{endpoint}''s live traffic; "
    "set its traffic to 0 first."
)
DEPLOYMENT_IS_MIRROR = (
    "Deployment '{name}' receives {percent}% mirror traffic of endpoint '{endpoint}'; "
    "remove the mirror first."
)
DEPLOYMENT_FAILED = "Deployment '{deployment}' failed: instance {instance} {reason}."
DEPLOYMENT_FAILED_UPDATE = "{message} The previous version keeps serving."
UNKNOWN_FAILURE = "stopped for an unknown reason"

# ---------------------------------------------------------------- errors: models
INVALID_MODEL_NAME = (
    "Invalid model name '{name}': use up to 255 letters, digits, '-', '_' and '.', "
    "starting with a letter or digit."
)
INVALID_MODEL_VERSION = (
    "Invalid model version '{version}': use up to 50 letters, digits, '-', '_' and '.', "
    "starting with a letter or digit."
)
MODEL_PATH_MISSING = "Model path '{path}' does not exist."
MODEL_EXISTS = (
    "Model {name}:{version} is registered already; versions never change: register a new version."
)
MODEL_NOT_FOUND = "Model {name}:{version} is not registered (versions of '{name}': {known})."
DEPLOYMENT_MODEL_MISSING = "The model path '{path}' does not exist."

# ---------------------------------------------------------------- instance outcomes
INSTANCE_EXITED = "exited with code {code} before it was ready"
INSTANCE_CRASHED = "exited with code {code}"
INSTANCE_NOT_READY = "was not ready after {seconds:.0f} s"
INSTANCE_LIVENESS = "failed {count} liveness probes in a row"
INSTANCE_SPAWN_FAILED = "could not be started: {error}"
LOGS_CONTAINER_INVALID = (
    "Container '{container}' is not valid: use inference-server or storage-initializer."
)
LOGS_LINES_INVALID = "lines must be at least 1, not {lines}."

# ---------------------------------------------------------------- progress
CREATING_DEPLOYMENT = "Creating deployment {name} on endpoint {endpoint} ({count} instance(s)) ..."
UPDATING_DEPLOYMENT = "Updating deployment {name} on endpoint {endpoint} (rolling replacement) ..."
COPYING_CODE = "Copying code {source} ..."
COPYING_MODEL = "Copying model {source} ..."
USING_REGISTERED_MODEL = "Using registered model {name}:{version} ({path})"
MODEL_DIR = "AZUREML_MODEL_DIR={path}"
NO_MODEL = "No model: AZUREML_MODEL_DIR is not set."
WORKER_COUNT_DIFFERS = (
    "Warning: WORKER_COUNT is {workers} but max_concurrent_requests_per_instance is {concurrent}; "
    "Azure advises setting them to the same value (environment_variables: WORKER_COUNT)."
)
STARTING_INSTANCE = "Starting instance {instance} ..."
INSTANCE_READY = "Instance {instance} ready ({ready}/{total})"
STOPPING_INSTANCE = "Stopping instance {instance} ..."
DEPLOYMENT_READY = "Deployment {name} is ready ({count} instance(s))."
SWAPPED = "Deployment {name}: the new version serves; stopping the previous one ..."
SCALING = "Scaling deployment {name} from {current} to {count} instance(s) ..."
DELETING_DEPLOYMENT = "Deleting deployment {name} ..."
DELETING_ENDPOINT = "Deleting endpoint {name} ..."
RESTORING = "Restoring endpoint {endpoint}: {count} deployment(s)."

# ---------------------------------------------------------------- errors: the home folder
HOME_NOT_OWNED = (
    "The Flightdeck home {root} belongs to {owner}, not to you: refusing to use it. "
    "Use a folder of your own (FLIGHTDECK_HOME=...), or take this one over with "
    "`sudo chown -R {uid}:{gid} {root} && chmod 700 {root}`."
)

# ---------------------------------------------------------------- log lines: hostile clients
BAD_REQUEST_LOGGED = "bad request refused: {kind}{status}{more}"
HELD_BACK = " ({held} more since the last line)"
ACCEPT_FAILED = "accepting a connection failed: {reason}{more}"
NOFILE_RAISED = "open files limit raised from {soft} to {hard}"

# ---------------------------------------------------------------- errors: state.db
STATE_EMPTY = (
    "{path} is empty (0 bytes): refusing to start with no endpoints over it. "
    "If that is what you want, move it away (`mv {path} {path}.empty`) and start again; "
    "else restore it from {path}.bak or a backup of your own."
)
STATE_UNREADABLE = (
    "{path} cannot be read: {cause}. Nothing was changed. Restore it from {path}.bak or "
    "a backup of your own, or move it away (`mv {path} {path}.broken`) to start empty."
)
