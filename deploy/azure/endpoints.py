"""Online endpoints: Flightdeck's specs and types <-> azure-ai-ml entities.

EndpointSpec.auth_mode / description / tags -> ManagedOnlineEndpoint (same names)
endpoint.traffic / mirror_traffic            -> Endpoint.traffic / mirror_traffic
                                                (positive weights only)
endpoint.scoring_uri / openapi_uri           -> Endpoint.scoring_uri / swagger_uri
get_keys(): EndpointAuthKeys / EndpointAuthToken -> Credentials
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from azure.ai.ml.entities import ManagedOnlineEndpoint

from base.clock import as_utc
from deploy.types import AuthMode, Credentials, Endpoint, EndpointSpec

__all__ = [
    "credentials_from_sdk",
    "endpoint_entity",
    "endpoint_from_entity",
    "positive",
    "state_text",
]

_AUTH_MODES: dict[str, AuthMode] = {
    "key": "key",
    "aml_token": "aml_token",
    "amltoken": "aml_token",
    "aad_token": "aad_token",
    "aadtoken": "aad_token",
}


def endpoint_entity(spec: EndpointSpec, existing: Any | None) -> Any:
    """The entity to PUT: a new endpoint, or ``existing`` with the spec's description and tags.

    An update keeps the endpoint's traffic and mirror traffic.
    """
    if existing is None:
        return ManagedOnlineEndpoint(
            name=spec.name,
            auth_mode=spec.auth_mode,
            description=spec.description,
            tags=dict(spec.tags),
        )
    existing.description = spec.description
    existing.tags = dict(spec.tags)
    return existing


def endpoint_from_entity(entity: Any) -> Endpoint:
    """Flightdeck's view of an ``OnlineEndpoint`` entity."""
    return Endpoint(
        name=str(entity.name),
        auth_mode=auth_mode(entity.auth_mode),
        scoring_uri=str(entity.scoring_uri or ""),
        swagger_uri=entity.openapi_uri,
        traffic=positive(entity.traffic),
        mirror_traffic=positive(entity.mirror_traffic),
        provisioning_state=state_text(entity.provisioning_state),
        description=entity.description,
        tags={str(k): str(v) for k, v in (entity.tags or {}).items()},
    )


def credentials_from_sdk(keys: Any, mode: AuthMode) -> Credentials:
    """``EndpointAuthKeys`` or ``EndpointAuthToken`` (or an AAD ``AccessToken``) as Credentials."""
    if mode == "key":
        return Credentials(
            auth_mode=mode, primary_key=keys.primary_key, secondary_key=keys.secondary_key
        )
    token = getattr(keys, "access_token", None) or getattr(keys, "token", None)
    expiry = getattr(keys, "expiry_time_utc", None) or getattr(keys, "expires_on", None)
    refresh = getattr(keys, "refresh_after_time_utc", None)
    return Credentials(
        auth_mode=mode,
        access_token=str(token) if token else None,
        expiry_time_utc=_utc(expiry),
        refresh_after_time_utc=_utc(refresh),
    )


def auth_mode(value: Any) -> AuthMode:
    """The SDK's auth mode (``key``, ``aml_token``, ``AMLToken``...) as Flightdeck's."""
    text = str(getattr(value, "value", value) or "key").lower()
    return _AUTH_MODES.get(text, cast(AuthMode, text))


def positive(weights: Mapping[str, Any] | None) -> dict[str, int]:
    """Traffic weights without the zeros the SDK fills in."""
    return {str(k): int(v) for k, v in (weights or {}).items() if int(v) > 0}


def state_text(value: Any) -> str:
    """A provisioning state enum (or string) as its text, e.g. ``Succeeded``."""
    text = str(getattr(value, "value", value) or "Succeeded")
    return text[:1].upper() + text[1:]


def _utc(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, tz=UTC)
    return None
