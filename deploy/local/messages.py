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
METRICS_WINDOW = "A metrics window is 1 to {longest} minutes, not {minutes}."
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
DEPLOYMENT_KEPT_FAILED = (
    "{message} Deployment '{name}' is kept in the Failed state (no instances, no traffic) "
    "with its logs: `get-logs` shows why; update it with a fix, or delete it."
)
FAILED_STORAGE_LINE = "Provisioning failed: {message}"
DEPLOYMENT_IS_FAILED = (
    "Deployment '{name}' is in the Failed state (its last create failed): it cannot {action}. "
    "`get-logs` shows why; update it with a fix, or delete it."
)

# ---------------------------------------------------------------- kinds the platform cannot run
TRITON_UNSUPPORTED = (
    "Deployment '{name}': its model ({model}) is a triton_model, which Azure serves without a "
    "scoring script in NVIDIA Triton Inference Server's container image on a GPU instance. "
    "The local platform runs no Docker, no Triton and no GPU, so it cannot serve it. Instead: "
    "deploy it on Azure ML (backend: azure), or serve the model here with a scoring script: "
    "add code_configuration (code, scoring_script) whose init() loads it (an ONNX model with "
    "onnxruntime) and an environment conda file listing the packages it needs."
)
CUSTOM_CONTAINER_UNSUPPORTED = (
    "Deployment '{name}': its environment is a custom container (image {image} with "
    "inference_config; Azure sends requests to the image's own server at {route}) and it has "
    "no scoring script. The local platform runs no Docker, so it cannot run the image. "
    "Instead: deploy it on Azure ML (backend: azure), or, if the server is Python, deploy its "
    "scoring code here: code_configuration (code, scoring_script) with init() and run(), and "
    "a conda file listing its packages in place of the image."
)

# ---------------------------------------------------------------- the local token endpoint
IDENTITY_UNAVAILABLE = (
    "no managed identity on the local platform; set AZURE_CLIENT_ID, AZURE_TENANT_ID and "
    "AZURE_CLIENT_SECRET in the deployment's environment_variables (EnvironmentCredential), "
    "or use `az login` credentials (DefaultAzureCredential), or start the platform with "
    "FLIGHTDECK_LOCAL_IDENTITY=user to be given tokens of your own credential here"
)
IDENTITY_USER_FAILED = (
    "FLIGHTDECK_LOCAL_IDENTITY=user, but your own credential gave no token: {reason} "
    "(run `az login` as the user the platform runs as)"
)
IDENTITY_BAD_SECRET = "the secret header (X-IDENTITY-HEADER or secret) is missing or wrong"
IDENTITY_NO_RESOURCE = "the resource query parameter is required"
IDENTITY_NOT_LOOPBACK = "only the platform's own instances (127.0.0.1) may ask for tokens"

# ---------------------------------------------------------------- warnings: settings not honoured
NOT_HONOURED = "Warning: {setting} is not honoured on the local platform: {why}"
WHY_KUBERNETES = "instances run as processes on this machine, not as pods of a Kubernetes cluster"
WHY_REQUESTS = "nothing is reserved for it; the limits are what is enforced"
WHY_GPU = "there is no GPU here; the scoring script runs on the CPU"
WHY_LIMIT_OTHER = "only resources.limits.memory and cpu are enforced here"
WHY_APP_INSIGHTS = (
    "there is no Application Insights: the logs are in get-logs, the metrics in `metrics`"
)
WHY_DATA_COLLECTOR = "no requests or responses are collected"
WHY_EGRESS = "instances reach the network as the platform's own user does"
WHY_MOUNT_PATH = "the model is at AZUREML_MODEL_DIR, laid out as Azure lays it out"
WHY_PRIVATE_NETWORK = "there is no private network; everything runs on 127.0.0.1"
WHY_IMAGE = (
    "the image and its inference_config routes are not used: the scoring script runs on the "
    "local inference server, in an environment made from conda_file (else the platform's own)"
)
WHY_COMPUTE = "instances run on this machine, not on that compute"
WHY_IDENTITY = (
    "there is no managed identity here: instances get MSI_ENDPOINT and IDENTITY_ENDPOINT "
    "pointing at a local token endpoint that says so (or, with "
    "FLIGHTDECK_LOCAL_IDENTITY=user, answers with your own Azure credential's token)"
)
WHY_PUBLIC_ACCESS = "the scoring URI listens on 127.0.0.1 only, whatever this says"
WHY_OTHER = "only Azure acts on it"
MEMORY_LIMIT_ENFORCED = (
    "resources.limits.memory {limit}: enforced on each instance's processes together; an "
    "instance that uses more is killed and restarted, as Kubernetes does."
)
CPU_LIMIT_ENFORCED = (
    "resources.limits.cpu {limit}: enforced on each instance's processes together ({how}); "
    "an instance that wants more is slowed to it, as Kubernetes does."
)
CPU_LIMIT_BY_CGROUP = "by a cgroup's CPU quota"
CPU_LIMIT_BY_THROTTLE = "by stopping and continuing its processes: no writable cgroup here"
CPU_LIMIT_INVALID = (
    "Deployment '{name}': resources.limits.cpu '{value}' is not a Kubernetes CPU quantity "
    "(say 0.25, 250m or 2)."
)
MEMORY_LIMIT_INVALID = (
    "Deployment '{name}': resources.limits.memory '{value}' is not a Kubernetes memory quantity "
    "(say 512Mi, 1Gi or 500M)."
)

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
MODEL_NAME_NOT_FOUND = "Model '{name}' is not registered."
MODEL_RESTORE_WHOLE = (
    "Model '{name}' is archived as a whole, so version {version} cannot be restored alone: "
    "restore the model (without --version)."
)

# ---------------------------------------------------------------- instance outcomes
INSTANCE_EXITED = "exited with code {code} before it was ready"
INSTANCE_CRASHED = "exited with code {code}"
INSTANCE_NOT_READY = "was not ready after {seconds:.0f} s"
INSTANCE_LIVENESS = "failed {count} liveness probes in a row"
INSTANCE_SPAWN_FAILED = "could not be started: {error}"
INSTANCE_MEMORY_LIMIT = "exceeded its memory limit of {limit} ({used} MiB in use) and was killed"
INSTANCE_CPU_THROTTLED = (
    "flightdeck supervisor: instance {instance} used more CPU than its limit of {limit} and is "
    "throttled to it by {how}"
)
INSTANCE_RESTARTING_LOG = (
    "flightdeck supervisor: instance {instance} {reason}; restart {count} in {delay:.1f} s"
)
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
