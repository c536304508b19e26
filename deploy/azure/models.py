"""Registered models of the workspace, through ``MLClient.models``.

A local file or folder is uploaded by the SDK to the workspace's default
datastore; an ``azureml://`` datastore path or an ``https://`` URL is registered
where it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from azure.ai.ml.entities import Model

from deploy.azure import messages
from deploy.azure.workspace import Workspace
from deploy.errors import ValidationError
from deploy.types import RegisteredModel

__all__ = ["get_model", "list_models", "register_model"]


async def register_model(
    ws: Workspace, name: str, version: str, path: str, description: str | None
) -> RegisteredModel:
    """Register ``path`` as ``name:version``; a missing local path changes nothing."""
    entity = Model(name=name, version=version, path=path, description=description)
    local = "://" not in path and not path.startswith("azureml:")

    def register() -> Any:
        if local and not Path(path).exists():
            raise ValidationError(messages.MODEL_PATH_MISSING.format(path=path))
        return ws.ml().models.create_or_update(entity)

    return _registered(await ws.call(register, None))


async def list_models(ws: Workspace) -> list[RegisteredModel]:
    """Every version of every model."""

    def listing() -> list[Any]:
        ml = ws.ml()
        return [v for c in ml.models.list() for v in ml.models.list(name=c.name)]

    return [_registered(m) for m in await ws.call(listing, None)]


async def get_model(ws: Workspace, name: str, version: str) -> RegisteredModel:
    """One model version; ``NotFoundError`` when it is not registered."""
    missing = messages.MODEL_NOT_FOUND.format(
        name=name, version=version, workspace=ws.settings.workspace_name
    )
    found = await ws.call(lambda: ws.ml().models.get(name, version=version), missing)
    return _registered(found)


def _registered(entity: Any) -> RegisteredModel:
    context = getattr(entity, "creation_context", None)
    return RegisteredModel(
        name=str(entity.name),
        version=str(entity.version),
        path=str(entity.path or ""),
        description=entity.description,
        created_at=getattr(context, "created_at", None),
    )
