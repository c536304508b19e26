"""The fake Log Analytics query API: ``POST https://api.loganalytics.io/v1/workspaces/{id}/query``.

Served by ``FakeArm`` (the same SDK transport) for one Log Analytics workspace,
``workspace_id``, that receives the fake Azure ML workspace's diagnostic logs. Two
tables, with their documented columns and types:

- ``AmlOnlineEndpointConsoleLog``: what the fake's containers wrote (``record_console``;
  the fake ML service calls it as deployments provision). Rows outlive the deployment.
- ``AmlOnlineEndpointTrafficLog``: one row per scoring request the fake's metrics
  recorded (``FakeScoring`` records every routed request).

The body is ``{"query": <KQL>, "timespan": "<start>/<end>" | "PT<n>S"}``. The fake runs
the KQL subset ``Table | where A == "x" and B =~ "y" | top N by C desc | order by C asc |
take N | project A, B`` over the rows inside the timespan and answers with the REST shape
``{"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}``.
Anything else is refused as the service refuses it: 400 ``BadArgumentError`` with a
nested ``SyntaxError`` / ``SemanticError``. ``drop_table`` makes a table unknown (no
diagnostic setting sends it).

Rows are ingested late, as Log Analytics ingests them: a row is seen by queries only
``ingestion_delay`` seconds (default 120) after its TimeGenerated. Microsoft documents a
typical latency of 20 seconds to 3 minutes ("Log data ingestion time in Azure Monitor",
https://learn.microsoft.com/azure/azure-monitor/logs/data-ingestion-time).
``wait_for_ingestion()`` lets that much time pass for the service alone (no sleep).
"""

from __future__ import annotations

import http
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import isodate  # type: ignore[import-untyped]  # isodate ships no types

from tests.support.fake_arm_http import Call, Reply

if TYPE_CHECKING:
    from tests.support.fake_arm import FakeArm

__all__ = ["CONSOLE", "LOGS_HOST", "TRAFFIC", "LogAnalyticsService"]

LOGS_HOST = "api.loganalytics.io"
CONSOLE = "AmlOnlineEndpointConsoleLog"
TRAFFIC = "AmlOnlineEndpointTrafficLog"
_SCHEMAS: dict[str, dict[str, str]] = {
    CONSOLE: {
        "TenantId": "string", "TimeGenerated": "datetime", "OperationName": "string",
        "InstanceId": "string", "DeploymentName": "string", "ContainerName": "string",
        "ContainerImageName": "string", "Message": "string", "SourceSystem": "string",
        "Type": "string", "_ResourceId": "string", "_SubscriptionId": "string",
    },
    TRAFFIC: {
        "TenantId": "string", "TimeGenerated": "datetime", "Location": "string",
        "OperationName": "string", "Method": "string", "Path": "string",
        "AzureMLWorkspaceId": "string", "AzureMLWorkspaceName": "string",
        "EndpointName": "string", "DeploymentName": "string", "Protocol": "string",
        "ResponseCode": "int", "ResponseCodeReason": "string", "ModelStatusCode": "int",
        "ModelStatusReason": "string", "RequestPayloadSize": "int",
        "ResponsePayloadSize": "int", "UserAgent": "string", "XRequestId": "string",
        "XMSClientRequestId": "string", "TotalDurationMs": "int", "RequestDurationMs": "int",
        "ResponseDurationMs": "int", "RequestThrottlingDelayMs": "int",
        "ResponseThrottlingDelayMs": "int", "AuthType": "string", "Type": "string",
        "_ResourceId": "string",
    },
}  # fmt: skip
_PATH = re.compile(r"^/v1/workspaces/([^/]+)/query$", re.IGNORECASE)
_STRING = r'"(?:[^"\\]|\\.)*"'
_CLAUSE = re.compile(
    rf"^\s*(\w+)\s*(==|=~|!=|!~|>=|<=|>|<|contains|has|startswith|endswith)\s*"
    rf"({_STRING}|-?\d+(?:\.\d+)?)\s*(?:\band\b|$)",
    re.IGNORECASE,
)
_CONTAINERS = {"StorageInitializer": "storage-initializer", "InferenceServer": "inference-server"}


class KqlError(Exception):
    """A query the fake (like the service) refuses: ``kind`` is SyntaxError or SemanticError."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class LogAnalyticsService:
    """The Log Analytics workspace ``workspace_id`` and its query handler."""

    def __init__(self, arm: FakeArm, *, workspace_id: str | None = None) -> None:
        self.arm = arm
        self.workspace_id = workspace_id or "55555555-6666-7777-8888-999999999999"
        self.console: list[dict[str, Any]] = []
        self.dropped: set[str] = set()
        self.ingestion_delay = 120.0
        #: Rows generated up to this time are ingested, whatever their age.
        self.ingested_until = float("-inf")
        self._stamp = 0.0

    # ------------------------------------------------------------ data

    def record_console(
        self, endpoint: str, deployment: str, container: str, lines: list[str]
    ) -> None:
        """Console lines of a container (``InferenceServer`` or ``inference-server``)."""
        name = _CONTAINERS.get(container, container)
        with self.arm.lock:
            for line in lines:
                # Strictly increasing times (a microsecond apart at least), as real lines have.
                self._stamp = max(self._stamp + 1e-6, self.arm.clock())
                self.console.append(
                    {
                        "TenantId": self.workspace_id,
                        "TimeGenerated": self._stamp,
                        "OperationName": "AmlOnlineEndpointConsoleLog",
                        "InstanceId": f"{deployment}-7d9f8c6b5-x2k4q",
                        "DeploymentName": deployment,
                        "ContainerName": name,
                        "ContainerImageName": "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39",
                        "Message": line,
                        "SourceSystem": "Azure",
                        "Type": CONSOLE,
                        "_ResourceId": self.arm.ml.endpoint_id(endpoint).upper(),
                        "_SubscriptionId": self.arm.subscription_id,
                    }
                )

    def wait_for_ingestion(self) -> None:
        """Let ``ingestion_delay`` pass: every row recorded so far becomes visible."""
        with self.arm.lock:
            self.ingested_until = max(self._stamp, self.arm.clock())

    def _ingested(self, generated: float) -> bool:
        return generated <= self.ingested_until or (
            generated + self.ingestion_delay <= self.arm.clock()
        )

    def drop_table(self, table: str) -> None:
        """Make ``table`` unknown, as when no diagnostic setting sends it here."""
        self.dropped.add(table)

    def _traffic(self) -> list[dict[str, Any]]:
        rows = []
        for index, r in enumerate(self.arm.metrics.requests):
            reason = http.HTTPStatus(r.status).phrase if r.status in _KNOWN_CODES else ""
            request_id = str(uuid.UUID(int=index + 1))
            rows.append(
                {
                    "TenantId": self.workspace_id, "TimeGenerated": r.at,
                    "Location": self.arm.location, "OperationName": "Score",
                    "Method": "POST", "Path": "/score",
                    "AzureMLWorkspaceId": "11111111-aaaa-bbbb-cccc-222222222222",
                    "AzureMLWorkspaceName": self.arm.workspace, "EndpointName": r.endpoint,
                    "DeploymentName": r.deployment, "Protocol": "HTTP/1.1",
                    "ResponseCode": r.status, "ResponseCodeReason": reason,
                    "ModelStatusCode": r.status, "ModelStatusReason": reason,
                    "RequestPayloadSize": 34, "ResponsePayloadSize": 48,
                    "UserAgent": "Python/aiohttp", "XRequestId": request_id,
                    "XMSClientRequestId": request_id, "TotalDurationMs": round(r.latency_ms),
                    "RequestDurationMs": 0, "ResponseDurationMs": round(r.latency_ms),
                    "RequestThrottlingDelayMs": 0, "ResponseThrottlingDelayMs": 0,
                    "AuthType": "Key", "Type": TRAFFIC,
                    "_ResourceId": self.arm.workspace_id.upper(),
                }
            )  # fmt: skip
        return rows

    # ------------------------------------------------------------ the API

    def handle(self, call: Call) -> Reply:
        found = _PATH.match(call.path)
        if call.method != "POST" or found is None:
            return _error(
                404, "PathNotFoundError", f"The requested path does not exist: {call.path}"
            )
        if found.group(1).lower() != self.workspace_id:
            return _error(404, "WorkspaceNotFoundError", "The workspace could not be found")
        body = call.body if isinstance(call.body, dict) else {}
        try:
            start, end = self._timespan(body.get("timespan"))
            columns, rows = self.run(str(body.get("query") or ""), start, end)
        except KqlError as exc:
            return _error(
                400,
                "BadArgumentError",
                "The request had some invalid properties",
                inner={"code": exc.kind, "message": f"A {_words(exc.kind)} occurred.",
                       "innererror": {"code": "SEM0100", "message": exc.message}},
            )  # fmt: skip
        return Reply(
            200,
            {
                "tables": [
                    {
                        "name": "PrimaryResult",
                        "columns": [{"name": c, "type": t} for c, t in columns],
                        "rows": rows,
                    }
                ]
            },
        )

    def _timespan(self, text: Any) -> tuple[float, float]:
        now = self.arm.clock()
        if not text:
            return float("-inf"), float("inf")
        first, _, second = str(text).partition("/")
        if not second:
            return now - isodate.parse_duration(first).total_seconds(), now
        start = isodate.parse_datetime(first).timestamp()
        if second.upper().startswith("P"):
            return start, start + isodate.parse_duration(second).total_seconds()
        return start, isodate.parse_datetime(second).timestamp()

    def run(self, query: str, start: float, end: float) -> tuple[list[tuple[str, str]], list[Any]]:
        """``query`` over the rows in ``[start, end]``: (columns with types, rows)."""
        stages = _split(query)
        table = stages[0].strip()
        if table in self.dropped or table not in _SCHEMAS:
            raise KqlError(
                "SemanticError",
                f"'table' operator: Failed to resolve table or column expression named '{table}'",
            )
        schema = dict(_SCHEMAS[table])
        source = self.console if table == CONSOLE else self._traffic()
        rows = [
            dict(r)
            for r in source
            if start <= r["TimeGenerated"] <= end and self._ingested(r["TimeGenerated"])
        ]
        for stage in stages[1:]:
            rows, schema = _apply(stage.strip(), rows, schema)
        columns = list(schema.items())
        return columns, [[_wire(row.get(c), t) for c, t in columns] for row in rows]


def _apply(
    stage: str, rows: list[dict[str, Any]], schema: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    verb, _, rest = stage.partition(" ")
    verb = verb.lower()
    if verb == "where":
        clauses = []
        text = rest
        while text.strip():
            match = _CLAUSE.match(text)
            if match is None:
                raise KqlError("SyntaxError", f"Query could not be parsed at '{text.strip()}'")
            clauses.append((_column(match.group(1), schema, "where"), match.group(2).lower(),
                            _literal(match.group(3))))  # fmt: skip
            text = text[match.end() :]
        return [r for r in rows if all(_holds(r.get(c), op, v) for c, op, v in clauses)], schema
    if verb in ("take", "limit") and rest.strip().isdigit():
        return rows[: int(rest)], schema
    ordered = re.match(r"^(?:(\d+)\s+)?by\s+(\w+)(?:\s+(asc|desc))?$", rest.strip(), re.I)
    if verb in ("top", "order", "sort") and ordered and (verb == "top") == bool(ordered.group(1)):
        column = _column(ordered.group(2), schema, verb)
        descending = (ordered.group(3) or "desc").lower() == "desc"
        rows = sorted(rows, key=lambda r: r.get(column) or 0, reverse=descending)
        return (rows[: int(ordered.group(1))] if verb == "top" else rows), schema
    if verb == "project":
        names = [n.strip() for n in rest.split(",")]
        if not all(re.fullmatch(r"\w+", n) for n in names):
            raise KqlError("SyntaxError", f"The fake does not understand 'project {rest}'")
        kept = {n: schema[_column(n, schema, "project")] for n in names}
        return [{n: r.get(n) for n in kept} for r in rows], kept
    raise KqlError("SyntaxError", f"Query could not be parsed at '{stage}'")


def _split(query: str) -> list[str]:
    """The pipeline's stages: split on ``|`` outside string literals."""
    stages: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in query:
        if char == "|" and not quoted:
            stages.append("".join(current))
            current = []
            continue
        current.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    stages.append("".join(current))
    return [" ".join(s.split()) for s in stages]


def _column(name: str, schema: dict[str, str], where: str) -> str:
    if name not in schema:
        raise KqlError(
            "SemanticError",
            f"'{where}' operator: Failed to resolve scalar expression named '{name}'",
        )
    return name


def _literal(text: str) -> Any:
    if text.startswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return float(text)


def _holds(value: Any, op: str, wanted: Any) -> bool:
    if isinstance(wanted, float):
        number = float(value) if value is not None else float("nan")
        numeric: dict[str, bool] = {
            "==": number == wanted, "!=": number != wanted, ">": number > wanted,
            "<": number < wanted, ">=": number >= wanted, "<=": number <= wanted,
        }  # fmt: skip
        return numeric.get(op, False)
    text = "" if value is None else str(value)
    low, want = text.lower(), str(wanted).lower()
    checks: dict[str, bool] = {
        "==": text == wanted, "!=": text != wanted, "=~": low == want, "!~": low != want,
        "contains": want in low, "has": want in low, "startswith": low.startswith(want),
        "endswith": low.endswith(want),
    }  # fmt: skip
    return checks.get(op, False)


def _wire(value: Any, kind: str) -> Any:
    if kind == "datetime" and isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def _words(kind: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r" \1", kind).lower()


def _error(status: int, code: str, message: str, inner: dict[str, Any] | None = None) -> Reply:
    error: dict[str, Any] = {"message": message, "code": code, "correlationId": str(uuid.uuid4())}
    if inner is not None:
        error["innererror"] = inner
    return Reply(status, {"error": error})


_KNOWN_CODES = {s.value for s in http.HTTPStatus}
