"""The fake Azure ML resource provider (Microsoft.MachineLearningServices).

Workspace, online endpoints and deployments (assets: ``fake_arm_assets``), in
the REST API's shapes, with the service's rules: managed deployments take only
default scale settings; traffic sums to 0 or 100 over existing deployments; a
mirror has one target at no more than 50% that takes no live traffic; a
deployment with traffic cannot be deleted; 20 deployments per endpoint; core
quota per VM family; a deployment's model must be registered. A deployment
whose environment variables set ``FAKE_INIT_ERROR`` fails to provision as when
its init() raises that message (the traceback in its inference-server log).
Every container line also goes to the fake Log Analytics console table.

While an operation runs on an endpoint or a deployment, Azure refuses another change
to it: 409 ``Conflict`` ("An operation is already in progress ..."), and a deployment
PUT on an endpoint that is being changed gets 400 "Cannot create a deployment in
endpoint X because it is in Updating provisioning state" (the service's words, quoted in
https://github.com/Azure/azure-sdk-for-net/issues/36961). ``busy(ep, d, polls=n)`` starts
such an operation from elsewhere (Azure's own autoscale changing the capacity). Lists
come in pages (``fake_arm_paging``); ``regenerateKeys`` must name the key it replaces
(``keyValue``, the current value, as azure-ai-ml sends it).
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from tests.support.fake_arm_assets import AssetService, not_found
from tests.support.fake_arm_http import Call, Reply, arm_error, system_data
from tests.support.fake_arm_paging import ArmThrottle, page
from tests.support.fake_arm_rules import NAME, deployment_problem, traffic_problem
from tests.support.fake_storage import StorageService

if TYPE_CHECKING:
    from tests.support.fake_arm import FakeArm

__all__ = ["INIT_FAILED", "MachineLearningService"]

#: Azure's words when a deployment's container does not start (init() raised).
INIT_FAILED = (
    "ResourceNotReady: User container has crashed or terminated: Liveness probe failed. "
    "Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-resourcenotready"
)

_ROUTES: list[tuple[str, str]] = [
    (r"", "workspace"),
    (r"/onlineEndpoints", "endpoints"),
    (r"/onlineEndpoints/(?P<ep>[^/]+)", "endpoint"),
    (r"/onlineEndpoints/(?P<ep>[^/]+)/(?P<verb>listKeys|regenerateKeys|token)", "endpoint_action"),
    (r"/onlineEndpoints/(?P<ep>[^/]+)/deployments", "deployments"),
    (r"/onlineEndpoints/(?P<ep>[^/]+)/deployments/(?P<d>[^/]+)", "deployment"),
    (r"/onlineEndpoints/(?P<ep>[^/]+)/deployments/(?P<d>[^/]+)/getLogs", "logs"),
    (r"/datastores/(?P<name>[^/]+)", "datastore"),
    (r"/datastores/(?P<name>[^/]+)/listSecrets", "secrets"),
    (r"/codes/(?P<name>[^/]+)/versions/(?P<v>[^/]+)/startPendingUpload", "pending_upload"),
    (r"/(?P<kind>codes|models|environments)", "containers"),
    (r"/(?P<kind>codes|models|environments)/(?P<name>[^/]+)", "container"),
    (r"/(?P<kind>codes|models|environments)/(?P<name>[^/]+)/versions", "versions"),
    (r"/(?P<kind>codes|models|environments)/(?P<name>[^/]+)/versions/(?P<v>[^/]+)", "version"),
]


class MachineLearningService:
    """State and handlers of the fake Azure ML workspace."""

    def __init__(self, arm: FakeArm) -> None:
        self.arm = arm
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, str]] = {}
        self.tokens: dict[str, str] = {}
        self.deployments: dict[str, dict[str, dict[str, Any]]] = {}
        self.logs: dict[tuple[str, str], dict[str, list[str]]] = {}
        self.asset_service = AssetService(arm)
        self.assets = self.asset_service.assets
        self.failures: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self.quota_cores = 100
        #: Items per page of every list.
        self.page_size = 2
        self.throttle = ArmThrottle()
        self.storage = StorageService(arm)
        prefix = re.escape(arm.workspace_id)
        self._routes = [
            (re.compile(f"^{prefix}{pattern}$", re.IGNORECASE), name) for pattern, name in _ROUTES
        ]

    # ------------------------------------------------------------ dispatch

    def add_environment(self, name: str, version: str, image: str) -> None:
        """Register an environment (as ``az ml environment create`` would have)."""
        self.asset_service.add_environment(name, version, image)

    def busy(self, ep: str, d: str | None = None, *, polls: int = 3) -> None:
        """Start a change of the endpoint (or deployment) from elsewhere, done after ``polls``
        questions about it (e.g. Azure's autoscale changing the capacity)."""
        with self.arm.lock:
            resource = self.endpoints[ep] if d is None else self.deployments[ep][d]
            resource["properties"]["provisioningState"] = "Updating"

            def finish() -> None:
                resource["properties"]["provisioningState"] = "Succeeded"

            self.arm.start_operation(finish, target=(ep, d), polls=polls)

    def _in_the_way(self, ep: str, d: str | None) -> Reply | None:
        """Azure's refusal of a change while an operation runs on the resource (or endpoint)."""
        if self.arm.running(ep) is not None:
            state = self.endpoints[ep]["properties"].get("provisioningState", "Updating")
            if d is not None:
                return arm_error(
                    400,
                    "BadArgument",
                    f"Cannot create a deployment in endpoint {ep} because it is in {state} "
                    "provisioning state.",
                )
            return arm_error(
                409,
                "Conflict",
                f"An operation is already in progress on online endpoint '{ep}' "
                f"(provisioning state {state}). Please wait for it to complete and try again.",
            )
        if d is not None and self.arm.running(ep, d) is not None:
            state = self.deployments[ep][d]["properties"].get("provisioningState", "Updating")
            return arm_error(
                409,
                "Conflict",
                f"An operation is already in progress on online deployment '{d}' of endpoint "
                f"'{ep}' (provisioning state {state}). Please wait for it to complete and try "
                "again.",
            )
        return None

    def handle(self, call: Call) -> Reply:
        for pattern, name in self._routes:
            match = pattern.match(call.path)
            if match:
                method = f"_{name}_{call.method.lower()}"
                handler = getattr(self, method, None) or getattr(self.asset_service, method, None)
                if handler is None:
                    return arm_error(405, "MethodNotAllowed", f"{call.method} {call.path}")
                result: Reply = handler(call, **match.groupdict())
                return result
        return arm_error(
            404,
            "ResourceNotFound",
            f"The Resource '{call.path}' under resource group "
            f"'{self.arm.resource_group}' was not found.",
        )

    def endpoint_id(self, ep: str) -> str:
        return f"{self.arm.workspace_id}/onlineEndpoints/{ep}"

    def scoring_uri(self, ep: str) -> str:
        if self.arm.scoring_base_url:
            return f"{self.arm.scoring_base_url}/{ep}/score"
        return f"https://{ep}.{self.arm.location}.inference.ml.azure.com/score"

    # ------------------------------------------------------------ workspace

    def _workspace_get(self, call: Call) -> Reply:
        return Reply(
            200,
            {
                "id": self.arm.workspace_id,
                "name": self.arm.workspace,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": self.arm.location,
                "kind": "Default",
                "properties": {
                    "friendlyName": self.arm.workspace,
                    "provisioningState": "Succeeded",
                },
            },
        )

    # ------------------------------------------------------------ endpoints

    def _endpoints_get(self, call: Call) -> Reply:
        return page(call, list(self.endpoints.values()), self.page_size)

    def _endpoint_get(self, call: Call, ep: str) -> Reply:
        if ep not in self.endpoints:
            return not_found(self.arm, "onlineEndpoints", ep)
        return Reply(200, self.endpoints[ep])

    def _endpoint_put(self, call: Call, ep: str) -> Reply:
        if not NAME.match(ep):
            return arm_error(400, "BadArgument", f"Invalid endpoint name '{ep}'.")
        props = dict(call.body.get("properties") or {})
        existing = self.endpoints.get(ep)
        refused = self._in_the_way(ep, None) if existing else None
        if refused:
            return refused
        traffic = {k: int(v) for k, v in (props.get("traffic") or {}).items()}
        mirror = {k: int(v) for k, v in (props.get("mirrorTraffic") or {}).items()}
        problem = traffic_problem(self, ep, traffic, mirror)
        if problem:
            return arm_error(400, "BadArgument", problem)
        resource: dict[str, Any] = {
            "id": self.endpoint_id(ep),
            "name": ep,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "location": self.arm.location,
            "kind": "Managed",
            "tags": call.body.get("tags") or {},
            "identity": {
                "type": "SystemAssigned",
                "principalId": "99999999-0000-0000-0000-000000000001",
                "tenantId": "99999999-0000-0000-0000-000000000002",
            },
            "properties": {
                "authMode": props.get("authMode", "Key"),
                "description": props.get("description"),
                "properties": {"azureml.onlineendpointid": self.endpoint_id(ep)},
                "scoringUri": self.scoring_uri(ep),
                "swaggerUri": self.scoring_uri(ep).removesuffix("/score") + "/swagger.json",
                "traffic": traffic,
                "mirrorTraffic": mirror,
                "publicNetworkAccess": props.get("publicNetworkAccess", "Enabled"),
                "provisioningState": "Updating" if existing else "Creating",
            },
            "systemData": system_data(),
        }
        self.endpoints[ep] = resource
        self.deployments.setdefault(ep, {})
        self.keys.setdefault(ep, {"primaryKey": _key(), "secondaryKey": _key()})

        def finish() -> None:
            resource["properties"]["provisioningState"] = "Succeeded"

        return Reply(201, resource, self.arm.start_operation(finish, target=(ep, None)))

    def _endpoint_delete(self, call: Call, ep: str) -> Reply:
        if ep not in self.endpoints:
            return Reply(204)
        refused = self._in_the_way(ep, None)
        if refused:
            return refused
        self.endpoints[ep]["properties"]["provisioningState"] = "Deleting"

        def finish() -> None:
            self.endpoints.pop(ep, None)
            for name in self.deployments.pop(ep, {}):
                self.logs.pop((ep, name), None)
            self.keys.pop(ep, None)

        return Reply(
            202, None, self.arm.start_operation(finish, kind="location", target=(ep, None))
        )

    def _endpoint_action_post(self, call: Call, ep: str, verb: str) -> Reply:
        if ep not in self.endpoints:
            return not_found(self.arm, "onlineEndpoints", ep)
        verb = verb.lower()
        auth = self.endpoints[ep]["properties"]["authMode"]
        if verb == "token":
            if auth != "AMLToken":
                return arm_error(400, "BadArgument", "This endpoint does not use AMLToken.")
            token = self.tokens[ep] = _key()
            now = int(self.arm.clock())
            return Reply(
                200,
                {
                    "accessToken": token,
                    "expiryTimeUtc": now + 3600,
                    "refreshAfterTimeUtc": now + 1800,
                    "tokenType": "Bearer",
                },
            )
        if auth != "Key":
            return arm_error(400, "BadArgument", "This endpoint does not use keys.")
        if verb == "listkeys":
            return Reply(200, dict(self.keys[ep]))
        kind = call.body.get("keyType")
        if kind not in ("Primary", "Secondary"):
            return arm_error(400, "BadArgument", f"Invalid keyType '{kind}'.")
        which = "primaryKey" if kind == "Primary" else "secondaryKey"
        if "keyValue" in call.body and call.body["keyValue"] != self.keys[ep][which]:
            return arm_error(
                400,
                "BadArgument",
                f"The keyValue does not match the current {kind.lower()} key of endpoint "
                f"'{ep}'; it may have been regenerated meanwhile.",
            )
        refused = self._in_the_way(ep, None)
        if refused:
            return refused

        def finish() -> None:
            self.keys[ep][which] = _key()

        return Reply(
            202, None, self.arm.start_operation(finish, kind="location", target=(ep, None))
        )

    # ------------------------------------------------------------ deployments

    def _deployments_get(self, call: Call, ep: str) -> Reply:
        if ep not in self.endpoints:
            return not_found(self.arm, "onlineEndpoints", ep)
        return page(call, list(self.deployments[ep].values()), self.page_size)

    def _deployment_get(self, call: Call, ep: str, d: str) -> Reply:
        found = self.deployments.get(ep, {}).get(d)
        if found is None:
            return not_found(self.arm, "onlineEndpoints/deployments", f"{ep}/{d}")
        return Reply(200, found)

    def _deployment_put(self, call: Call, ep: str, d: str) -> Reply:
        if ep not in self.endpoints:
            return not_found(self.arm, "onlineEndpoints", ep)
        if not NAME.match(d):
            return arm_error(400, "BadArgument", f"Invalid deployment name '{d}'.")
        props = dict(call.body.get("properties") or {})
        sku = dict(call.body.get("sku") or {"name": "Default", "capacity": 1})
        problem = deployment_problem(self, ep, d, props, int(sku.get("capacity") or 0))
        if problem:
            return problem
        refused = self._in_the_way(ep, d)
        if refused:
            return refused
        props.setdefault("scaleSettings", {"scaleType": "Default"})
        existing = self.deployments[ep].get(d)
        props["provisioningState"] = "Updating" if existing else "Creating"
        resource = {
            "id": f"{self.endpoint_id(ep)}/deployments/{d}",
            "name": d,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
            "location": self.arm.location,
            "kind": "Managed",
            "tags": call.body.get("tags") or {},
            "sku": sku,
            "properties": props,
            "systemData": system_data(),
        }
        self.deployments[ep][d] = resource
        failure = self.failures.pop((ep, d), None)

        def finish() -> dict[str, str] | None:
            logs = self.logs.setdefault((ep, d), {"StorageInitializer": [], "InferenceServer": []})
            logs["StorageInitializer"] += [
                f"Downloading model {props.get('model')}",
                "Model download complete.",
            ]
            console = self.arm.log_analytics
            console.record_console(ep, d, "StorageInitializer", logs["StorageInitializer"][-2:])
            failed = failure
            init_error = (props.get("environmentVariables") or {}).get("FAKE_INIT_ERROR")
            if init_error and not failed:
                failed = (INIT_FAILED, _init_traceback(init_error))
            if failed:
                props["provisioningState"] = "Failed"
                logs["InferenceServer"] += failed[1]
                console.record_console(ep, d, "InferenceServer", failed[1])
                return {"code": "ResourceNotReady", "message": failed[0]}
            started = [
                "Azure ML Inferencing HTTP server v1.5.1",
                f"Scoring script: {(props.get('codeConfiguration') or {}).get('scoringScript')}",
                "Users's init has completed successfully",
                "Listening at: http://0.0.0.0:31311",
            ]
            logs["InferenceServer"] += started
            console.record_console(ep, d, "InferenceServer", started)
            props["provisioningState"] = "Succeeded"
            return None

        return Reply(201, resource, self.arm.start_operation(finish, target=(ep, d)))

    def _deployment_delete(self, call: Call, ep: str, d: str) -> Reply:
        if d not in self.deployments.get(ep, {}):
            return Reply(204)
        props = self.endpoints[ep]["properties"]
        if props["traffic"].get(d, 0) > 0 or props["mirrorTraffic"].get(d, 0) > 0:
            return arm_error(
                400,
                "BadArgument",
                f"Deployment '{d}' has traffic on endpoint '{ep}' and cannot be deleted.",
            )
        refused = self._in_the_way(ep, d)
        if refused:
            return refused
        self.deployments[ep][d]["properties"]["provisioningState"] = "Deleting"

        def finish() -> None:
            self.deployments.get(ep, {}).pop(d, None)
            self.logs.pop((ep, d), None)

        return Reply(202, None, self.arm.start_operation(finish, kind="location", target=(ep, d)))

    def _logs_post(self, call: Call, ep: str, d: str) -> Reply:
        if d not in self.deployments.get(ep, {}):
            return not_found(self.arm, "onlineEndpoints/deployments", f"{ep}/{d}")
        container = call.body.get("containerType") or "InferenceServer"
        lines = self.logs.get((ep, d), {}).get(container, [])
        tail = int(call.body.get("tail") or len(lines))
        return Reply(200, {"content": "\n".join(lines[-tail:] if tail else [])})


def _init_traceback(message: str) -> list[str]:
    """What azmlinfsrv prints when the scoring script's init() raises."""
    return [
        "Azure ML Inferencing HTTP server v1.5.1",
        "Encountered Exception: Traceback (most recent call last):",
        '  File "/var/azureml-app/score.py", line 9, in init',
        f"RuntimeError: {message}",
        "Worker exiting (pid: 41)",
    ]


def _key() -> str:
    return secrets.token_urlsafe(24)
