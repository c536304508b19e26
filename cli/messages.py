"""User-facing text of the ``flightdeck`` command's verbs (one place for wording)."""

from __future__ import annotations

__all__ = [
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
        f"--set {', '.join(keys)}: without --file only instance_count and scale_settings.* "
        "can be set; "
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
