"""A fake Azure Resource Manager behind the Azure SDK's transport hook.

``FakeArm`` is an ``azure.core`` ``HttpTransport``: hand it to ``MLClient``,
``MonitorManagementClient``, ``MetricsClient`` and ``LogsQueryClient``
(``transport=fake``) and the real SDK clients run against it, offline. It keeps
endpoint, deployment, asset and autoscale state, answers with the REST API's
shapes (long-running operations included: ``201`` + ``Azure-AsyncOperation``
for PUT, ``202`` + ``Location`` for DELETE and key regeneration, with
``retry-after-ms``), enforces the service's rules, and records every request in
``calls`` so tests can assert what the SDK sent (method, path, body).

    fake = FakeArm()
    ml = MLClient(FakeCredential(), fake.subscription_id, fake.resource_group,
                  fake.workspace, transport=fake)
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    assert fake.find("PUT", "/onlineEndpoints/ep")[0].body["properties"]["authMode"] == "Key"

Faults a test can inject: ``hold()`` keeps operations in progress until
``release()``; ``fail_next_deployment(...)`` makes a deployment's provisioning
fail with log lines; ``forbid(action)`` answers 403 for an RBAC action;
``fail_next(method, path_suffix, ...)`` answers one request with an ARM error;
``reject_tokens`` answers 401; ``quota_cores`` limits cores per VM family;
``cancel_next_operation(message)`` ends the next operation ``Canceled``; ``ml.busy(ep, d)``
runs an operation from elsewhere (changes meanwhile get 409/400); ``ml.throttle`` answers
Azure ML requests 429; ``ml.storage`` is the workspace's storage account (uploads);
``throttle`` answers Azure Monitor requests 429 + Retry-After now and then
(``tests/support/fake_arm_throttle``), and ``sleep`` records the SDK's waits for them.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.pipeline.transport import HttpTransport

from tests.support.fake_arm_http import Call, FakeResponse, Reply, arm_error
from tests.support.fake_arm_metrics import MetricsService
from tests.support.fake_arm_ml import MachineLearningService
from tests.support.fake_arm_monitor import MonitorService
from tests.support.fake_arm_throttle import Throttle
from tests.support.fake_loganalytics import LOGS_HOST, LogAnalyticsService
from tests.support.fake_storage import BLOB_HOST_SUFFIX

__all__ = ["FakeArm", "Operation"]

ARM_HOST = "management.azure.com"
_STATUS = re.compile(
    r"^/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices/locations/[^/]+"
    r"/(mfeOperationsStatus|mfeOperationResults)/([^/]+)$",
    re.IGNORECASE,
)


@dataclass
class Operation:
    """A long-running operation: in progress for ``polls_left`` polls, then ``finish()``.

    ``finish`` applies the final state and returns an error (``{"code", "message"}``)
    when the operation fails.
    """

    id: str
    finish: Callable[[], dict[str, str] | None]
    polls_left: int
    status: str = "InProgress"
    error: dict[str, str] | None = None
    started: float = field(default_factory=time.time)
    #: What it changes, ``(endpoint, deployment or None)``: Azure refuses other changes meanwhile.
    target: tuple[str, str | None] | None = None
    #: Set when it is to end ``Canceled`` (with this message, if not empty).
    cancel: str | None = None


# Any request: the SDK sends rest requests, or legacy ones from its older generated clients.
class FakeArm(HttpTransport[Any, FakeResponse]):
    """The fake ARM, Azure ML and Azure Monitor services, as an SDK transport."""

    def __init__(
        self,
        *,
        subscription_id: str = "00000000-1111-2222-3333-444444444444",
        resource_group: str = "rg-flightdeck",
        workspace: str = "mlw-flightdeck",
        location: str = "westeurope",
        lro_polls: int = 1,
        retry_after_ms: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace = workspace
        self.location = location
        self.lro_polls = lro_polls
        self.retry_after_ms = retry_after_ms
        self.clock = clock
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.operations: dict[str, Operation] = {}
        self.forbidden: set[str] = set()
        self.reject_tokens = False
        self.faults: list[tuple[str, str, Reply]] = []
        self.scoring_base_url: str | None = None
        self._gate = threading.Event()
        self._gate.set()
        self._ids = itertools.count(1)
        self._cancel_next: list[str] = []
        self.ml = MachineLearningService(self)
        self.monitor = MonitorService(self)
        self.metrics = MetricsService(self)
        self.log_analytics = LogAnalyticsService(self)
        self.throttle = Throttle()
        self._throttled = threading.local()

    # ------------------------------------------------------------ ids

    @property
    def workspace_id(self) -> str:
        """The workspace's ARM id."""
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    def new_id(self) -> str:
        """A fresh id for operations and generated names."""
        return f"{next(self._ids):08d}-fake"

    # ------------------------------------------------------------ faults

    def hold(self) -> None:
        """Keep every long-running operation in progress until ``release()``."""
        self._gate.clear()

    def release(self) -> None:
        """Let held operations finish."""
        self._gate.set()

    def forbid(self, action: str) -> None:
        """Answer 403 AuthorizationFailed for an RBAC action, e.g. ``.../write``."""
        self.forbidden.add(action.lower())

    def fail_next(
        self, method: str, path_suffix: str, *, status: int, code: str, message: str
    ) -> None:
        """Answer the next ``method`` request whose path ends with ``path_suffix`` with an error."""
        self.faults.append((method.upper(), path_suffix.lower(), arm_error(status, code, message)))

    def fail_next_deployment(
        self, endpoint: str, deployment: str, *, message: str, log_lines: list[str]
    ) -> None:
        """Make the next create/update of that deployment fail, writing ``log_lines``."""
        self.ml.failures[(endpoint, deployment)] = (message, log_lines)

    # ------------------------------------------------------------ inspection

    def find(self, method: str, path_suffix: str) -> list[Call]:
        """Recorded calls with that method whose path ends with ``path_suffix``."""
        with self.lock:
            return [c for c in self.calls if c.method == method and c.path_endswith(path_suffix)]

    def clear_calls(self) -> None:
        """Forget the recorded calls."""
        with self.lock:
            self.calls.clear()

    # ------------------------------------------------------------ operations

    def cancel_next_operation(self, message: str = "") -> None:
        """End the next long-running operation ``Canceled`` (error ``message`` unless empty)."""
        self._cancel_next.append(message)

    def running(self, ep: str, d: str | None = None) -> Operation | None:
        """The operation in progress on an endpoint (``d`` None) or deployment, if any.

        Asking counts as time passing for it (a held operation stays in progress).
        """
        for op in self.operations.values():
            if op.target == (ep, d) and op.status == "InProgress":
                self._advance(op)
                if op.status == "InProgress":
                    return op
        return None

    def start_operation(
        self,
        finish: Callable[[], dict[str, str] | None],
        *,
        kind: str = "async",
        target: tuple[str, str | None] | None = None,
        polls: int | None = None,
    ) -> dict[str, str]:
        """Start an LRO; the headers to answer with (``async`` or ``location`` style)."""
        op = Operation(
            id=self.new_id(),
            finish=finish,
            polls_left=self.lro_polls if polls is None else polls,
            target=target,
            cancel=self._cancel_next.pop(0) if self._cancel_next else None,
        )
        self.operations[op.id] = op
        base = (
            f"https://{ARM_HOST}/subscriptions/{self.subscription_id}/providers/"
            f"Microsoft.MachineLearningServices/locations/{self.location}"
        )
        headers = {"retry-after-ms": str(self.retry_after_ms)}
        if kind == "async":
            headers["Azure-AsyncOperation"] = (
                f"{base}/mfeOperationsStatus/{op.id}?api-version=2023-04-01-preview"
            )
        else:
            headers["Location"] = f"{base}/mfeOperationResults/{op.id}?api-version=2023-04-01"
        return headers

    def _advance(self, op: Operation) -> None:
        if op.status != "InProgress" or not self._gate.is_set():
            return
        if op.polls_left > 0:
            op.polls_left -= 1
            return
        if op.cancel is not None:
            op.status = "Canceled"
            op.error = {"code": "Canceled", "message": op.cancel} if op.cancel else None
            return
        op.error = op.finish()
        op.status = "Failed" if op.error else "Succeeded"

    def _operation_reply(self, kind: str, op_id: str, call: Call) -> Reply:
        op = self.operations.get(op_id)
        if op is None:
            return arm_error(404, "NotFound", f"Operation {op_id} not found.")
        self._advance(op)
        retry = {"retry-after-ms": str(self.retry_after_ms)}
        if kind.lower() == "mfeoperationsstatus":
            body: dict[str, Any] = {"id": call.path, "name": op.id, "status": op.status}
            if op.error:
                body["error"] = op.error
            return Reply(200, body, retry)
        if op.status == "InProgress":
            return Reply(202, None, {**retry, "Location": call.url})
        if op.error:
            return Reply(400, {"error": op.error})
        return Reply(200, None)

    # ------------------------------------------------------------ transport

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeArm:
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def sleep(self, duration: float) -> None:
        """The SDK's wait after a throttled request is recorded, not slept; others sleep."""
        if getattr(self._throttled, "pending", False):
            self._throttled.pending = False
            self.throttle.waits.append(duration)
            return
        time.sleep(duration)

    def send(self, request: Any, **kwargs: Any) -> FakeResponse:
        call = Call.from_request(request)
        with self.lock:
            throttled = self.throttle.check(call)
            throttled = throttled or self.ml.throttle.check(call)
            if throttled is not None:
                self._throttled.pending = True
                return FakeResponse(request, throttled)
            self.calls.append(call)
            reply = self._dispatch(call)
        return FakeResponse(request, reply)

    def _dispatch(self, call: Call) -> Reply:
        if call.host.endswith(BLOB_HOST_SUFFIX):
            return self.ml.storage.handle(call)
        auth = call.headers.get("authorization", "")
        if self.reject_tokens or not auth.startswith("Bearer "):
            return Reply(
                401,
                {
                    "error": {
                        "code": "InvalidAuthenticationToken",
                        "message": "The access token is invalid.",
                    }
                },
                {"WWW-Authenticate": 'Bearer authorization_uri="https://login.example"'},
            )
        for fault in self.faults:
            method, suffix, reply = fault
            if call.method == method and call.path_endswith(suffix):
                self.faults.remove(fault)
                return reply
        action = rbac_action(call)
        if action.lower() in self.forbidden:
            return arm_error(
                403,
                "AuthorizationFailed",
                f"The client 'flightdeck@example.com' with object id "
                f"'11111111-2222-3333-4444-555555555555' does not have authorization to perform "
                f"action '{action}' over scope '{call.path}' or the scope is invalid.",
            )
        if call.host.endswith(".metrics.monitor.azure.com"):
            return self.metrics.metrics_batch(call)
        if call.host == LOGS_HOST:
            return self.log_analytics.handle(call)
        if call.host != ARM_HOST:
            return arm_error(404, "UnknownHost", f"The fake does not serve {call.host}.")
        status = _STATUS.match(call.path)
        if status:
            return self._operation_reply(status.group(1), status.group(2), call)
        if "/providers/microsoft.insights/" in call.path.lower():
            return self.monitor.handle(call)
        return self.ml.handle(call)


def rbac_action(call: Call) -> str:
    """The RBAC action a request needs, e.g. ``Microsoft.X/workspaces/onlineEndpoints/write``."""
    if call.host.endswith(".metrics.monitor.azure.com"):
        return "Microsoft.Insights/metrics/read"
    if call.host == LOGS_HOST:
        return "Microsoft.OperationalInsights/workspaces/query/read"
    path = call.path
    marker = path.lower().rfind("/providers/")
    if marker < 0:
        return f"{call.method} {path}"
    segments = path[marker + len("/providers/") :].strip("/").split("/")
    provider, rest = segments[0], segments[1:]
    types = rest[0::2]
    if call.method == "POST" and len(rest) % 2 == 1:
        return "/".join([provider, *types[:-1], types[-1], "action"]) if types else provider
    verb = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(
        call.method, "action"
    )
    return "/".join([provider, *types, verb])
