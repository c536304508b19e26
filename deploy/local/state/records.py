"""Changes to an endpoint's record, as pure functions with Azure's rules.

Each returns a new ``EndpointRecord`` (or raises a ``FlightdeckError`` naming what
is wrong); the platform stores it and then pushes the route.

    record = new_endpoint_record(spec, now=time.time())
    record = with_traffic(record, ["blue", "green"], {"blue": 90, "green": 10}, None)
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from deploy.errors import ConflictError, ValidationError
from deploy.local import messages as msg
from deploy.local.state.store import EndpointRecord
from deploy.local.state.tokens import TOKEN_LIFETIME_SECONDS, issue_token
from deploy.rules import validate_name, validate_traffic
from deploy.types import Credentials, EndpointSpec

__all__ = [
    "AUTH_MODES",
    "credentials_for",
    "new_endpoint_record",
    "with_deployment",
    "with_new_key",
    "with_spec",
    "with_traffic",
    "without_deployment",
]

#: The auth modes the local platform serves (aad_token needs Microsoft Entra ID).
AUTH_MODES = ("key", "aml_token")


def _new_key() -> str:
    return secrets.token_urlsafe(32)


def check_endpoint_spec(spec: EndpointSpec) -> None:
    """``ValidationError`` for a bad name or an auth mode the platform cannot serve."""
    validate_name("endpoint", spec.name)
    if spec.auth_mode not in AUTH_MODES:
        raise ValidationError(
            msg.ENDPOINT_AUTH_MODE_UNSUPPORTED.format(name=spec.name, mode=spec.auth_mode)
        )


def new_endpoint_record(spec: EndpointSpec, *, now: float) -> EndpointRecord:
    """A new endpoint: two fresh keys and a token secret, no traffic."""
    check_endpoint_spec(spec)
    return EndpointRecord(
        spec=spec,
        primary_key=_new_key(),
        secondary_key=_new_key(),
        token_secret=secrets.token_bytes(32),
        created_at=now,
    )


def with_spec(record: EndpointRecord, spec: EndpointSpec) -> EndpointRecord:
    """An update: description and tags change; the auth mode cannot."""
    check_endpoint_spec(spec)
    current = record.spec.auth_mode
    if spec.auth_mode != current:
        raise ValidationError(
            msg.ENDPOINT_AUTH_MODE_CHANGE.format(
                name=spec.name, current=current, mode=spec.auth_mode
            )
        )
    return replace(record, spec=spec)


def with_traffic(
    record: EndpointRecord,
    deployments: Collection[str],
    traffic: Mapping[str, int] | None,
    mirror_traffic: Mapping[str, int] | None,
) -> EndpointRecord:
    """A new live split and/or mirror (``None`` keeps that part), checked as Azure does.

    Deployments not named get 0; the split it replaces becomes ``previous_traffic``.
    """
    live = dict(record.traffic) if traffic is None else dict(traffic)
    mirror = dict(record.mirror_traffic) if mirror_traffic is None else dict(mirror_traffic)
    validate_traffic(deployments, live, mirror)
    live = {name: live.get(name, 0) for name in deployments}
    mirror = {name: pct for name, pct in mirror.items() if pct > 0}
    previous = record.previous_traffic
    if live != dict(record.traffic):
        previous = dict(record.traffic)
    return replace(record, traffic=live, mirror_traffic=mirror, previous_traffic=previous)


def with_deployment(record: EndpointRecord, name: str) -> EndpointRecord:
    """A new deployment takes 0% until traffic is set (as on Azure)."""
    return replace(record, traffic={**record.traffic, name: 0})


def without_deployment(record: EndpointRecord, name: str) -> EndpointRecord:
    """A deployment removed; ``ConflictError`` while it takes live or mirror traffic."""
    endpoint = record.name
    live = record.traffic.get(name, 0)
    if live > 0:
        raise ConflictError(
            msg.DEPLOYMENT_TAKES_TRAFFIC.format(name=name, endpoint=endpoint, percent=live)
        )
    mirrored = record.mirror_traffic.get(name, 0)
    if mirrored > 0:
        raise ConflictError(
            msg.DEPLOYMENT_IS_MIRROR.format(name=name, endpoint=endpoint, percent=mirrored)
        )
    return replace(record, traffic={k: v for k, v in record.traffic.items() if k != name})


def with_new_key(record: EndpointRecord, key_type: str) -> EndpointRecord:
    """The primary or secondary key regenerated (auth_mode key only)."""
    if key_type not in ("primary", "secondary"):
        raise ValidationError(msg.KEY_TYPE_INVALID.format(key_type=key_type))
    mode = record.spec.auth_mode
    if mode != "key":
        raise ValidationError(msg.KEYS_NEED_KEY_AUTH.format(name=record.name, mode=mode))
    if key_type == "primary":
        return replace(record, primary_key=_new_key())
    return replace(record, secondary_key=_new_key())


def credentials_for(record: EndpointRecord, *, now: float) -> Credentials:
    """Both keys (auth_mode key), or a fresh token signed with the endpoint's secret."""
    if record.spec.auth_mode == "key":
        return Credentials(
            auth_mode="key", primary_key=record.primary_key, secondary_key=record.secondary_key
        )
    token, expiry = issue_token(record.token_secret, record.name, now=now)
    return Credentials(
        auth_mode=record.spec.auth_mode,
        access_token=token,
        expiry_time_utc=datetime.fromtimestamp(expiry, tz=UTC),
        refresh_after_time_utc=datetime.fromtimestamp(now + TOKEN_LIFETIME_SECONDS / 2, tz=UTC),
    )
