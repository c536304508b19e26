"""Log Analytics queries on the endpoints' diagnostic logs (azure-monitor-query's LogsQueryClient).

A diagnostic setting on the Azure ML workspace can send two categories to a Log
Analytics workspace, which keeps what the live ``getLogs`` tail cannot:

    AmlOnlineEndpointConsoleLog   every container's console output, also of instances
                                  that are gone: ``console_tail``; get_logs falls back to it
                                  through ``after_live`` when the live tail has nothing
    AmlOnlineEndpointTrafficLog   one row per scoring request: status code, the model's
                                  status, latency: ``traffic``

Both run only when ``log_analytics_workspace_id`` is set, as one
``POST https://api.loganalytics.io/v1/workspaces/{id}/query`` each (KQL, a
timespan), through the same credential and transport as the backend's other clients::

    lines = await console_tail(ws, "product-recommender", "blue", 100, "inference-server")
    records = await traffic(ws, "product-recommender", deployment="green", start=s, end=e)

Log Analytics ingests rows minutes late (typically 20 s to 3 minutes, "Log data
ingestion time in Azure Monitor"): right after a deployment fails or an instance is
replaced, the console table often has nothing yet. So the live tail always comes first,
and the Log Analytics tail stands in for it only when it has rows; an empty one never
hides the live tail's error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError
from azure.monitor.query import LogsQueryStatus

from base.clock import as_utc
from deploy.azure import messages
from deploy.azure.errors import error_detail, translate
from deploy.errors import FlightdeckError, NotFoundError, PermissionDeniedError, ValidationError

if TYPE_CHECKING:
    from deploy.azure.workspace import Workspace

__all__ = [
    "CONSOLE_LOOKBACK",
    "CONSOLE_TABLE",
    "MAX_TRAFFIC_RECORDS",
    "TRAFFIC_TABLE",
    "TrafficRecord",
    "after_live",
    "console_query",
    "console_tail",
    "kql_string",
    "traffic",
    "traffic_query",
]

log = logging.getLogger(__name__)

CONSOLE_TABLE = "AmlOnlineEndpointConsoleLog"
TRAFFIC_TABLE = "AmlOnlineEndpointTrafficLog"
#: How far back a console log tail looks.
CONSOLE_LOOKBACK = timedelta(days=1)
#: Most traffic records one query returns.
MAX_TRAFFIC_RECORDS = 1000
_TRAFFIC_COLUMNS = (
    "TimeGenerated",
    "DeploymentName",
    "Method",
    "Path",
    "ResponseCode",
    "ResponseCodeReason",
    "ModelStatusCode",
    "TotalDurationMs",
    "XRequestId",
)


@dataclass(frozen=True, kw_only=True)
class TrafficRecord:
    """One scoring request, as AmlOnlineEndpointTrafficLog recorded it."""

    time: datetime
    deployment: str
    method: str
    path: str
    #: The status code the caller got (401, 404, 408, 424, 429 come from Azure itself).
    status: int
    reason: str | None = None
    #: The status code the model answered with, when the request reached one.
    model_status: int | None = None
    total_ms: float | None = None
    request_id: str | None = None


def kql_string(value: str) -> str:
    """``value`` as a KQL string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def console_query(*, endpoint_id: str, deployment: str, container: str, lines: int) -> str:
    """The newest ``lines`` console lines of one container of a deployment."""
    return "\n".join(
        [
            CONSOLE_TABLE,
            f"| where _ResourceId =~ {kql_string(endpoint_id)}",
            f"| where DeploymentName =~ {kql_string(deployment)}",
            f"| where ContainerName == {kql_string(container)}",
            f"| top {int(lines)} by TimeGenerated desc",
            "| project TimeGenerated, InstanceId, Message",
        ]
    )


def traffic_query(*, workspace_name: str, endpoint: str, deployment: str | None, limit: int) -> str:
    """The newest ``limit`` requests to an endpoint (or one of its deployments)."""
    where = [
        f"| where AzureMLWorkspaceName =~ {kql_string(workspace_name)}",
        f"| where EndpointName =~ {kql_string(endpoint)}",
    ]
    if deployment is not None:
        where.append(f"| where DeploymentName =~ {kql_string(deployment)}")
    return "\n".join(
        [
            TRAFFIC_TABLE,
            *where,
            f"| top {int(limit)} by TimeGenerated desc",
            f"| project {', '.join(_TRAFFIC_COLUMNS)}",
        ]
    )


async def console_tail(
    ws: Workspace, endpoint: str, deployment: str, lines: int, container: str, *, now: datetime
) -> list[str]:
    """The last ``lines`` lines (oldest first), each ``[instance] message``."""
    query = console_query(
        endpoint_id=ws.settings.endpoint_id(endpoint),
        deployment=deployment,
        container=container,
        lines=lines,
    )
    rows = await _query(ws, CONSOLE_TABLE, query, start=now - CONSOLE_LOOKBACK, end=now)
    rows.reverse()
    out = []
    for row in rows:
        message = str(row.get("Message") or "").rstrip("\n")
        instance = row.get("InstanceId")
        out.append(f"[{instance}] {message}" if instance else message)
    return out


async def after_live(
    ws: Workspace,
    endpoint: str,
    deployment: str,
    lines: int,
    container: str,
    *,
    now: datetime,
    live: str,
    live_error: FlightdeckError | None,
) -> str:
    """What a log tail shows when the live one (``live``, or ``live_error``) had nothing.

    The console log's tail when it has rows. Otherwise the live answer stands: its text,
    or its error, which then also says that Log Analytics has nothing yet (it ingests
    late). When the Log Analytics query fails too, the live error (if any) is raised.
    """
    try:
        found = await console_tail(ws, endpoint, deployment, lines, container, now=now)
    except FlightdeckError as exc:
        if live_error is None:
            raise
        log.warning("Log Analytics could not stand in for the live logs either: %s", exc)
        raise live_error from exc
    if found:
        return "\n".join(found)
    if live_error is None:
        return live
    log.info("Log Analytics has no console lines of %s/%s yet", endpoint, deployment)
    error = type(live_error)(
        messages.LOGS_NOT_INGESTED_YET.format(live=live_error.message, deployment=deployment)
    )
    raise error from live_error


async def traffic(
    ws: Workspace,
    endpoint: str,
    *,
    deployment: str | None,
    start: datetime,
    end: datetime,
    limit: int,
) -> list[TrafficRecord]:
    """The newest ``limit`` requests in ``[start, end]``, newest first."""
    query = traffic_query(
        workspace_name=ws.settings.workspace_name,
        endpoint=endpoint,
        deployment=deployment,
        limit=limit,
    )
    rows = await _query(ws, TRAFFIC_TABLE, query, start=start, end=end)
    return [_record(row) for row in rows]


def _record(row: Mapping[str, Any]) -> TrafficRecord:
    return TrafficRecord(
        time=_utc(row.get("TimeGenerated")),
        deployment=str(row.get("DeploymentName") or ""),
        method=str(row.get("Method") or ""),
        path=str(row.get("Path") or ""),
        status=_int(row.get("ResponseCode")) or 0,
        reason=_text(row.get("ResponseCodeReason")),
        model_status=_int(row.get("ModelStatusCode")),
        total_ms=_float(row.get("TotalDurationMs")),
        request_id=_text(row.get("XRequestId")),
    )


async def _query(
    ws: Workspace, table: str, query: str, *, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The rows of the query's first table, as column -> value."""
    workspace = ws.settings.log_analytics_workspace_id
    if workspace is None:
        raise ValidationError(messages.LOGS_NOT_CONFIGURED)
    client = ws.logs()
    try:
        result = await asyncio.to_thread(
            client.query_workspace, workspace, query, timespan=(start, end)
        )
    except HttpResponseError as exc:
        raise _error(exc, workspace=workspace, table=table) from exc
    except Exception as exc:
        mapped = translate(exc, not_found=None)
        if mapped is None:
            raise
        raise mapped from exc
    if result.status == LogsQueryStatus.PARTIAL:
        log.warning("Log Analytics answered %s in part: %s", table, result.partial_error)
        tables = result.partial_data
    else:
        tables = result.tables
    if not tables:
        return []
    first = tables[0]
    return [dict(zip(first.columns, row, strict=False)) for row in first.rows]


def _error(exc: HttpResponseError, *, workspace: str, table: str) -> Exception:
    status = exc.status_code or 0
    detail = _innermost(exc)
    if status == 403:
        return PermissionDeniedError(messages.LOGS_FORBIDDEN.format(detail=error_detail(exc)))
    if status == 404:
        return NotFoundError(messages.LOGS_WORKSPACE_NOT_FOUND.format(workspace=workspace))
    if status == 400 and "failed to resolve table" in detail.lower() and table in detail:
        return ValidationError(messages.LOGS_TABLE_MISSING.format(workspace=workspace, table=table))
    if 400 <= status < 500:
        return ValidationError(messages.LOGS_QUERY_FAILED.format(table=table, detail=detail))
    return translate(exc, not_found=None) or exc


def _innermost(exc: HttpResponseError) -> str:
    """Log Analytics nests the useful message: error.innererror.innererror.message."""
    error: Any = exc.error
    message = str(getattr(error, "message", "") or error_detail(exc))
    inner = getattr(error, "innererror", None)
    while isinstance(inner, Mapping):
        message = str(inner.get("message") or message)
        inner = inner.get("innererror")
    return message


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None
