"""User-facing text of the ``flightdeck`` command's verbs (one place for wording)."""

from __future__ import annotations

__all__ = [
    "CAPACITY_CANCELLING",
    "CAPACITY_CHART_SAVED",
    "DELETE_ABORTED",
    "INSTANCE_LOG_HEADER",
    "LOADTEST_CANCELLING",
    "LOADTEST_CHART_SAVED",
    "METRICS_WINDOW_BAD",
    "METRICS_WINDOW_HELP",
    "METRICS_WINDOW_MINUTES",
    "METRICS_WINDOW_RANGE",
    "VERSION",
    "deployment_exists",
    "endpoint_exists",
    "invoke_failed",
    "port_env_invalid",
    "request_file_missing",
    "set_not_supported",
]

DELETE_ABORTED = "Nothing deleted."
#: ``flightdeck --version``: the distribution's version and the folder its packages load from.
VERSION = "flightdeck {version} (installed in {location}, Python {python})"
VERSION_UNKNOWN = "unknown, not installed as a distribution"
LOG_FORMAT_BAD = "FLIGHTDECK_LOG_FORMAT is '{value}': use text or json."
SERVER_NEEDS_FILE = (
    "--server changes the deployment's spec: give it with --file F (a rolling update)."
)
INSTANCE_LOG_HEADER = "The instance's last log lines:"
LOADTEST_CANCELLING = "Stopping the load test (Ctrl-C): partial results follow."
LOADTEST_CHART_SAVED = "Chart saved to {path}."
METRICS_WINDOW_HELP = "whole minutes from 1m to 60m, e.g. 5m or 1h (a bare number is seconds)"
METRICS_WINDOW_BAD = "--window '{text}': {problem}."
METRICS_WINDOW_MINUTES = (
    "--window '{text}' is {duration}: metrics windows are whole minutes from {low} to {high}"
    " (a bare number is seconds), e.g. --window 5m."
)
METRICS_WINDOW_RANGE = (
    "--window '{text}' must be between {low} and {high} (whole minutes, e.g. --window 5m)."
)


def endpoint_exists(name: str) -> str:
    """``online-endpoint create`` on an existing endpoint (as az ml refuses it)."""
    return f"Endpoint '{name}' already exists: change it with `flightdeck online-endpoint update`."


def deployment_exists(name: str, endpoint: str) -> str:
    """``online-deployment create`` on an existing deployment."""
    return (
        f"Deployment '{name}' already exists on endpoint '{endpoint}': "
        "change it with `flightdeck online-deployment update --file ...`."
    )


def request_file_missing(path: str) -> str:
    """``invoke --request-file`` names no file."""
    return f"Request file '{path}' cannot be read."


def invoke_failed(status: int, deployment: str | None, body: str) -> str:
    """The scoring URI answered non-2xx."""
    who = f" (deployment {deployment})" if deployment else ""
    detail = " ".join(body.split())[:500]
    return f"The endpoint answered HTTP {status}{who}: {detail or '(empty body)'}"


def set_not_supported(keys: list[str]) -> str:
    """``online-deployment update --name ... --set k=v`` with keys it cannot change in place."""
    return (
        f"--set {', '.join(keys)}: without --file only request_settings.*, liveness_probe.*, "
        "readiness_probe.*, environment_variables.*, instance_type, instance_count and "
        "scale_settings.* can be changed; "
        "to change anything else, edit the deployment's YAML and run "
        "`flightdeck online-deployment update --file ...`."
    )


def port_env_invalid(env: str, raw: str) -> str:
    """FLIGHTDECK_ROUTER_PORT / FLIGHTDECK_CONTROL_PORT is not a number."""
    return f"${env} is '{raw}', not a port number: set it to a number (0 = any free port)."


# ---------------------------------------------------------------- flightdeck rollout

ROLLOUT_EVENT = "{at}  {text}"
ROLLOUT_INTERVAL = "{at}  step {step} ({weight}%): {verdict}: {summary}"
ROLLOUT_REASON = "Why: {reason}"
ROLLOUT_AWAITING = (
    "Every check passed before the last step: `flightdeck rollout promote {endpoint}` "
    "sends the canary to 100% (or `abort`)."
)
ROLLOUT_PAUSING = (
    "Pausing the rollout on {endpoint} (Ctrl-C): `flightdeck rollout resume {endpoint}` "
    "continues it."
)
ROLLOUT_DETACHED = (
    "The first step is live; a running bot (`flightdeck serve`) drives the rollout on "
    "{endpoint} from here, or `flightdeck rollout resume {endpoint}`."
)
ROLLOUT_NONE = "No rollout is running on {endpoint}."
ROLLOUT_BAD_CHANNEL = (
    "--channel {channel!r} is not a Slack channel ID (a C or G and capitals or digits,"
    " e.g. C0ROLLOUTS): copy it from the channel's details in Slack."
)


# ---------------------------------------------------------------- az ml compatibility


def local_and_backend(backend: str) -> str:
    """``--local`` with ``--backend`` naming another backend."""
    return f"--local means the local platform: it cannot go with --backend {backend}."


def not_meaningful(flag: str, why: str) -> str:
    """An az ml flag that means nothing on the local platform (one line, exit 2)."""
    return f"{flag} is not supported by flightdeck: {why}"


WEB_NOT_HERE = "it opens Azure ML studio in a browser, which has no local counterpart."
VSCODE_DEBUG_NOT_HERE = (
    "it attaches VS Code to az ml's Docker container; local instances are plain processes "
    "(see `flightdeck online-deployment get-logs`)."
)
LOCAL_GPU_NOT_HERE = "it asks Docker for a GPU; local instances run on this machine as they are."
PACKAGE_MODEL_NOT_HERE = "it builds an Azure model package, which the local platform does not use."
DEFAULT_TEMPLATE_NOT_HERE = "deployment templates live in Azure ML registries."
REGISTRY_NOT_HERE = "registries are an Azure ML service; models are registered on this platform."
DATASTORE_NOT_HERE = "datastores are Azure storage; the model is copied from its local path."
NO_WAIT_ALL_TRAFFIC = (
    "All traffic won't be set to deployment {name} since no_wait option was provided. "
    "You can try to set all the traffic to this deployment once it has completed."
)
NO_WAIT_STARTED = "{what} request initiated. Status can be checked using `{show}`"
ADD_NEEDS_VALUE = "--add {path}: give a value to add, e.g. --add {path} KEY=VALUE."
REMOVE_NOT_FOUND = "--remove {path}: there is no such property or item."
ADD_NOT_LIST_OR_MAP = "--add {path}: '{key}' is neither a list nor a mapping."
MODEL_NEEDS = (
    "Give --file model.yml, or --name, --version and --path "
    "(as az ml model create: --path needs --name and --version)."
)
MODEL_LIST_VIEWS = "--archived-only and --include-archived cannot be used together."
MODEL_LABEL_UNKNOWN = "--label {label}: only 'latest' is known here."
MODEL_VERSION_OR_LABEL = "Use --version or --label, not both."
MODEL_NONE_ACTIVE = "Model '{name}' has no active version (every version is archived)."
MODEL_NOT_REGISTERED = "Model '{name}' is not registered."
UPDATE_NEEDS_SOMETHING = (
    "Nothing to update: give --traffic/-r, --mirror-traffic, --file, or --set/--add/--remove."
)


def invalid_output_choice(choice: str, choices: str) -> str:
    """``--output`` with an unknown format."""
    return f"argument --output/-o: invalid choice: '{choice}' (choose from {choices})"


# ---------------------------------------------------------------- capacity
CAPACITY_CANCELLING = "Stopping the capacity search (Ctrl-C): the steps so far follow."
CAPACITY_CHART_SAVED = "Chart saved to {path}."
