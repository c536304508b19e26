"""Registered models and the model folder an instance sees as ``AZUREML_MODEL_DIR``.

Azure's layouts, mirrored:

- a registered model ``N:V`` is copied once to ``<home>/models/N/V/<name of the path>``;
  a deployment that references ``azureml:N:V`` gets ``AZUREML_MODEL_DIR=<home>/models/N/V``,
  as Azure mounts ``azureml-models/N/V``;
- a deployment's own ``model.path`` is copied into the deployment's generation folder:
  a folder keeps its own name under the model dir, a single file sits at its root.

    registry = ModelRegistry(root=home / "models", store=store)
    await registry.register("recommendation-model", "1", "model-v1/")
    model_dir = await stage_model(spec.model, registry=registry, dest=generation / "model")
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from deploy.errors import ConflictError, NotFoundError, ValidationError
from deploy.local import messages as msg
from deploy.local.state.store import Store
from deploy.types import ModelRef, RegisteredModel

__all__ = ["ModelRegistry", "copy_path", "stage_model", "validate_model_id"]

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_MODEL_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$")


def validate_model_id(name: str, version: str) -> None:
    """Check a model's name and version (Azure's rules); ``ValidationError`` otherwise."""
    if not _MODEL_NAME.match(name):
        raise ValidationError(msg.INVALID_MODEL_NAME.format(name=name))
    if not _MODEL_VERSION.match(version):
        raise ValidationError(msg.INVALID_MODEL_VERSION.format(version=version))


class ModelRegistry:
    """Registered model versions: copies under ``root``, rows in the store. Immutable."""

    def __init__(self, *, root: Path, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._root = root
        self._store = store
        self._clock = clock
        self._lock = asyncio.Lock()

    def model_dir(self, name: str, version: str) -> Path:
        """What ``AZUREML_MODEL_DIR`` is for a deployment of ``azureml:name:version``."""
        return self._root / name / version

    async def register(
        self, name: str, version: str, path: str, *, description: str | None = None
    ) -> RegisteredModel:
        """Copy ``path`` (file or folder) as model ``name:version``.

        ``ValidationError`` for a bad name or a missing path, ``ConflictError`` when
        the version exists (versions never change: register a new one).
        """
        validate_model_id(name, version)
        source = _existing(path, msg.MODEL_PATH_MISSING)
        async with self._lock:
            if self._store.model(name, version) is not None:
                raise ConflictError(msg.MODEL_EXISTS.format(name=name, version=version))
            final = self.model_dir(name, version)
            staging = final.with_name(f".{version}.staging")
            shutil.rmtree(staging, ignore_errors=True)
            try:
                await asyncio.to_thread(copy_path, source, staging)
                shutil.rmtree(final, ignore_errors=True)  # a leftover of an interrupted register
                staging.rename(final)
                model = RegisteredModel(
                    name=name,
                    version=version,
                    path=str(final / source.name),
                    description=description,
                    created_at=datetime.fromtimestamp(self._clock(), tz=UTC),
                )
                self._store.put_model(model)
            except (OSError, sqlite3.Error):
                shutil.rmtree(staging, ignore_errors=True)
                shutil.rmtree(final, ignore_errors=True)
                raise
            return model

    async def set_archived(self, name: str, version: str | None, *, archived: bool) -> None:
        """Archive or restore ``name:version``, or with ``version=None`` the whole model.

        ``NotFoundError`` when it is not registered; ``ValidationError`` restoring one
        version of a model archived as a whole (as Azure refuses it).
        """
        async with self._lock:
            if not any(m.name == name for m in self._store.models()):
                raise NotFoundError(msg.MODEL_NAME_NOT_FOUND.format(name=name))
            if version is None:
                self._store.set_model_name_archived(name, archived)
                return
            self.get(name, version)
            if not archived and self._store.model_archived(name):
                raise ValidationError(msg.MODEL_RESTORE_WHOLE.format(name=name, version=version))
            self._store.set_model_archived(name, version, archived)

    def versions(self) -> list[RegisteredModel]:
        """Every registered model version."""
        return self._store.models()

    def get(self, name: str, version: str) -> RegisteredModel:
        """One model version; ``NotFoundError`` naming the versions that exist."""
        model = self._store.model(name, version)
        if model is None:
            known = sorted(m.version for m in self._store.models() if m.name == name)
            raise NotFoundError(
                msg.MODEL_NOT_FOUND.format(
                    name=name, version=version, known=", ".join(known) or "none"
                )
            )
        return model


def copy_path(source: Path, dest: Path) -> None:
    """Copy a file or a folder into the folder ``dest``, keeping its own name there."""
    dest.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest / source.name, symlinks=False)
    else:
        shutil.copy2(source, dest / source.name)


async def stage_model(ref: ModelRef | None, *, registry: ModelRegistry, dest: Path) -> Path | None:
    """Lay out a deployment's model; return its ``AZUREML_MODEL_DIR`` (``None``: no model).

    A registered model is used where it was registered (no copy); a path is copied
    into ``dest``. ``NotFoundError``/``ValidationError`` when the model is missing.
    """
    if ref is None:
        return None
    if ref.registered:
        name, version = ref.name or "", ref.version or ""
        registry.get(name, version)
        return registry.model_dir(name, version)
    source = _existing(ref.path or "", msg.DEPLOYMENT_MODEL_MISSING)
    await asyncio.to_thread(copy_path, source, dest)
    return dest


def _existing(path: str, message: str) -> Path:
    """``path`` resolved; ``ValidationError`` with ``message`` if it does not exist."""
    source = Path(path).expanduser()
    if not path or not source.exists():
        raise ValidationError(message.format(path=path))
    return source.resolve()
