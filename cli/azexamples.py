"""The examples ``--help`` shows for the verbs that mirror ``az ml``.

Taken from the ml extension's help (``az ml online-endpoint create --help``...), adapted to
the local platform: no ``--resource-group``/``--workspace-name`` (accepted and ignored here),
``flightdeck`` for ``az ml``; the same lines run on Azure with ``az ml`` and the two flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cli.azhelp import Example

__all__ = ["AZ_EXAMPLES"]

_E = "flightdeck online-endpoint"
_D = "flightdeck online-deployment"
_M = "flightdeck model"

AZ_EXAMPLES: Mapping[str, Mapping[str, Sequence[Example]]] = {
    "online-endpoint": {
        "create": [
            (
                "Create an endpoint from a YAML specification file",
                f"{_E} create --file endpoint.yml",
            ),
            (
                "Create an endpoint, its name given on the command line",
                f"{_E} create --name my-endpoint --file endpoint.yml",
            ),
        ],
        "update": [
            (
                "Update an endpoint from a YAML specification file",
                f"{_E} update --name my-endpoint --file updated_endpoint.yml",
            ),
            (
                "Update an endpoint's traffic",
                f'{_E} update --name my-endpoint --traffic "my-deployment=100"',
            ),
            (
                "Mirror 10% of the live traffic to a deployment",
                f'{_E} update --name my-endpoint --mirror-traffic "green=10"',
            ),
        ],
        "show": [
            ("Show details for an endpoint", f"{_E} show --name my-endpoint"),
            (
                "Show the status of an endpoint using --query",
                f'{_E} show --name my-endpoint --query "{{Name:name,State:provisioning_state}}" '
                "--output table",
            ),
        ],
        "list": [
            ("List all the endpoints in a workspace", f"{_E} list"),
            (
                "List all the endpoints in a workspace using --query",
                f'{_E} list --query "[].{{Name:name}}" --output table',
            ),
        ],
        "delete": [
            ("Delete an endpoint including all its deployments", f"{_E} delete --name my-endpoint")
        ],
        "get-credentials": [
            ("Get the keys for an endpoint", f"{_E} get-credentials --name my-endpoint")
        ],
        "regenerate-keys": [
            (
                "Regenerate the secondary key of an endpoint",
                f"{_E} regenerate-keys --name my-endpoint --key-type secondary",
            ),
        ],
        "invoke": [
            (
                "Invoke an endpoint with a request file",
                f"{_E} invoke --name my-endpoint --request-file sample_request.json",
            ),
            (
                "Invoke one deployment of an endpoint",
                f"{_E} invoke --name my-endpoint --deployment-name blue "
                "--request-file sample_request.json",
            ),
        ],
    },
    "online-deployment": {
        "create": [
            (
                "Create a deployment from a YAML specification file",
                f"{_D} create --file deployment.yml",
            ),
            (
                "Create a deployment and send all of the endpoint's traffic to it",
                f"{_D} create --file deployment.yml --all-traffic",
            ),
            (
                "Create a deployment, overriding the names in the file",
                f"{_D} create --name blue --endpoint-name my-endpoint -f blue-deployment.yml",
            ),
        ],
        "update": [
            (
                "Update a deployment from a YAML specification file",
                f"{_D} update --file deployment.yml",
            ),
            (
                "Scale a deployment",
                f"{_D} update --name blue --endpoint-name my-endpoint --set instance_count=2",
            ),
            (
                "Change a request setting",
                f"{_D} update --name blue --endpoint-name my-endpoint "
                "--set request_settings.request_timeout_ms=3000",
            ),
        ],
        "show": [
            ("Show a deployment", f"{_D} show --name my-deployment --endpoint-name my-endpoint")
        ],
        "list": [
            ("List all the deployments of an endpoint", f"{_D} list --endpoint-name my-endpoint"),
            (
                "List the deployments of an endpoint using --query",
                f'{_D} list --endpoint-name my-endpoint --query "[].{{Name:name}}" --output table',
            ),
        ],
        "delete": [
            ("Delete a deployment", f"{_D} delete --name my-deployment --endpoint-name my-endpoint")
        ],
        "get-logs": [
            (
                "Get the logs of a deployment",
                f"{_D} get-logs --name my-deployment --endpoint-name my-endpoint --lines 100",
            ),
            (
                "Get the logs of the storage initializer",
                f"{_D} get-logs -n my-deployment -e my-endpoint --container storage-initializer",
            ),
        ],
    },
    "model": {
        "create": [
            ("Create a model from a YAML specification file", f"{_M} create --file model.yml"),
            (
                "Create a model from flags",
                f"{_M} create --name my-model --version 1 --path ./my-model.pkl",
            ),
        ],
        "list": [
            ("List all the models in a workspace", f"{_M} list"),
            ("List all the versions of a model", f"{_M} list --name my-model"),
            ("List the archived models", f"{_M} list --archived-only"),
        ],
        "show": [("Show details for a model", f"{_M} show --name my-model --version 1")],
        "archive": [
            ("Archive a model (every version of it)", f"{_M} archive --name my-model"),
            ("Archive one version of a model", f"{_M} archive --name my-model --version 1"),
        ],
        "restore": [
            ("Restore an archived model", f"{_M} restore --name my-model"),
            (
                "Restore one archived version of a model",
                f"{_M} restore --name my-model --version 1",
            ),
        ],
    },
}
