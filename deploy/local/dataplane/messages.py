"""User-facing text of the local platform's data plane (one place for wording).

Sections by part; the control API's text lives in ``deploy.local.control.messages``.
"""

from __future__ import annotations

from base.numbers import format_number

__all__ = [
    "INTERNAL_ERROR",
    "METHOD_NOT_ALLOWED",
    "MISSING_CREDENTIALS",
    "NOT_A_ROUTE",
    "aad_token_unsupported",
    "body_timeout",
    "connection_cap_reached",
    "key_refused",
    "no_ready_instance",
    "no_traffic",
    "payload_too_large",
    "request_timeout",
    "token_refused",
    "too_many_connections_body",
    "too_many_requests",
    "unknown_deployment",
    "unknown_endpoint",
    "upstream_failed",
]

# ---------------------------------------------------------------- router (scoring URIs)
# The JSON error bodies the router answers with: {"error": {"code": ..., "message": ...}}.

NOT_A_ROUTE = "Not a scoring route: use /<endpoint>/score or /<endpoint>/swagger.json."
METHOD_NOT_ALLOWED = "Only GET and POST are accepted on a scoring route."
MISSING_CREDENTIALS = (
    "Missing credentials: send the header `Authorization: Bearer <key or token>` "
    "(see `flightdeck online-endpoint get-credentials`)."
)
INTERNAL_ERROR = "The local platform failed to answer this request; see the daemon's log."


def unknown_endpoint(endpoint: str) -> str:
    """404: the path names no endpoint."""
    return f"No endpoint named '{endpoint}': see `flightdeck online-endpoint list`."


def key_refused(endpoint: str) -> str:
    """401: a key that is neither the primary nor the secondary key."""
    return (
        f"The key is not valid for endpoint '{endpoint}': get its keys with "
        f"`flightdeck online-endpoint get-credentials --name {endpoint}`."
    )


def token_refused(endpoint: str) -> str:
    """401: an aml_token that is expired, forged or issued for another endpoint."""
    return (
        f"The token is not valid for endpoint '{endpoint}' or has expired: get a new one with "
        f"`flightdeck online-endpoint get-credentials --name {endpoint}`."
    )


def aad_token_unsupported(endpoint: str) -> str:
    """401: aad_token endpoints cannot be called locally."""
    return (
        f"Endpoint '{endpoint}' uses auth_mode aad_token, which the local platform cannot "
        "verify: use auth_mode key or aml_token locally."
    )


def no_traffic(endpoint: str) -> str:
    """404: no deployment has positive traffic and the request named none (Azure's rule)."""
    return (
        f"Endpoint '{endpoint}' has no deployment with positive traffic: set some with "
        f'`flightdeck online-endpoint update --name {endpoint} --traffic "<deployment>=100"` '
        "or name a deployment in the azureml-model-deployment header."
    )


def unknown_deployment(endpoint: str, deployment: str) -> str:
    """404: the azureml-model-deployment header names no deployment of the endpoint."""
    return (
        f"Endpoint '{endpoint}' has no deployment named '{deployment}' (from the "
        f"azureml-model-deployment header): see "
        f"`flightdeck online-deployment list --endpoint-name {endpoint}`."
    )


def no_ready_instance(endpoint: str, deployment: str) -> str:
    """503: the chosen deployment has no instance in rotation."""
    return (
        f"Deployment '{deployment}' of endpoint '{endpoint}' has no ready instance: see "
        f"`flightdeck online-deployment get-logs --name {deployment} --endpoint-name {endpoint}`."
    )


def deployment_failed(endpoint: str, deployment: str) -> str:
    """503: the azureml-model-deployment header names a deployment kept in the Failed state."""
    return (
        f"Deployment '{deployment}' of endpoint '{endpoint}' is in the Failed state (its last "
        "create failed) and has no instance to answer: see "
        f"`flightdeck online-deployment get-logs --name {deployment} --endpoint-name {endpoint}`, "
        "then update it with a fix or delete it."
    )


def too_many_requests(deployment: str, limit: int) -> str:
    """429: more requests in flight than 2 x max_concurrent_requests_per_instance x instances."""
    return (
        f"Too many pending requests: deployment '{deployment}' already has {limit} in flight "
        "(2 x max_concurrent_requests_per_instance x ready instances). Retry with back-off "
        "or scale the deployment out."
    )


def request_timeout(deployment: str, timeout_ms: int) -> str:
    """408: the model took longer than request_timeout_ms."""
    return (
        f"Deployment '{deployment}' did not answer within request_timeout_ms ({timeout_ms} ms): "
        "raise request_settings.request_timeout_ms or make the model faster."
    )


def payload_too_large(limit: int) -> str:
    """413: the request body is larger than the router accepts."""
    size = f"{limit // 1048576} MB" if limit % 1048576 == 0 else f"{format_number(limit / 1024)} KB"
    return f"The request body is larger than {size}: send smaller batches."


def upstream_failed(deployment: str, reason: str) -> str:
    """502: the instance could not be reached or dropped the connection."""
    return f"The instance of deployment '{deployment}' failed to answer: {reason}."


# ---------------------------------------------------------------- the router's guards


def connection_cap_reached(limit: int) -> str:
    """Logged once: the router refuses connections past its cap."""
    return (
        f"{limit} connections open: the router refuses further ones with 503 "
        "until some close (logged once)"
    )


def too_many_connections_body() -> bytes:
    """The JSON body of the 503 a connection over the cap gets."""
    return (
        b'{"error": {"code": "too_many_connections", "message": '
        b'"Too many open connections to the router: retry shortly."}}'
    )


def body_timeout(seconds: float) -> str:
    """408: the request body did not arrive in time."""
    return f"The request body did not arrive within {seconds:g} s."
