"""The backends the contract suite runs against, one factory each.

A factory is an async context manager that yields a ``ContractCase``: a started
backend, plus what it needs to deploy (a scoring code folder, where to register
a model version from). Adding a backend is one factory and one line in
``FACTORIES``.

- ``azure-on-fake``: the real azure-ai-ml / azure-mgmt-monitor /
  azure-monitor-querymetrics clients against the fake ARM service, with a real
  HTTP server for the scoring URIs.
- ``local``: the local platform in process (``Platform`` + ``Router``), running
  real azmlinfsrv instances on loopback.
- ``local-daemon``: the daemon ``flightdeck local up`` starts, reached through
  ``LocalBackend`` (the control API's HTTP client the bot and the CLI use).
- ``memory``: ``deploy.memory.MemoryBackend``, the in-memory backend most bot and
  command tests use, built through the registry as a user would pick it.

A case's ``failing_deployment`` is a deployment whose ``init()`` raises: the local
platforms really run it; the fake ARM and the memory backend fail it on ``FAKE_INIT_ERROR``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from deploy.backend import Backend
from deploy.types import DeploymentSpec, ModelRef, ProbeSettings

__all__ = ["BROKEN_INIT", "FACTORIES", "INIT_ERROR", "SCORE_PY", "ContractCase"]

#: A scoring script both backends can serve (the local one really runs it).
SCORE_PY = """
import json
import os


def init():
    print("contract init: model dir", os.environ.get("AZUREML_MODEL_DIR"))


def run(raw_data):
    return {"ok": True, "rows": len(json.loads(raw_data or "{}").get("data", []))}
"""

#: What the failing scoring script's init() raises.
INIT_ERROR = "weights file is corrupt: contract-init-marker"

#: A scoring script whose init() fails.
BROKEN_INIT = f"""
def init():
    print("contract init: loading weights")
    raise RuntimeError("{INIT_ERROR}")


def run(raw_data):
    return {{}}
"""

#: Whole-second probes (Azure counts seconds) that are still quick on the local platform.
READINESS = ProbeSettings(
    initial_delay=0, period=1, timeout=1, success_threshold=1, failure_threshold=3
)
LIVENESS = ProbeSettings(
    initial_delay=1, period=1, timeout=1, success_threshold=1, failure_threshold=10
)


@dataclass(frozen=True, kw_only=True)
class ContractCase:
    """A started backend and what a deployment on it needs."""

    name: str
    backend: Backend
    code_dir: Path
    model_source: Callable[[str], str]

    def deployment(
        self, endpoint: str, name: str, model: ModelRef, **changes: object
    ) -> DeploymentSpec:
        """A small deployment of the contract's scoring script."""
        values: dict[str, object] = {
            "name": name,
            "endpoint_name": endpoint,
            "model": model,
            "code_path": str(self.code_dir),
            "scoring_script": "score.py",
            "instance_count": 1,
            "readiness_probe": READINESS,
            "liveness_probe": LIVENESS,
            "environment_variables": {"CONTRACT": "yes"},
            **changes,
        }
        return DeploymentSpec(**values)  # type: ignore[arg-type]

    def failing_deployment(self, endpoint: str, name: str, model: ModelRef) -> DeploymentSpec:
        """A deployment whose init() raises ``INIT_ERROR`` (the fake ARM reads the variable)."""
        folder = self.code_dir.parent / "broken-code"
        folder.mkdir(exist_ok=True)
        (folder / "score.py").write_text(BROKEN_INIT, encoding="utf-8")
        return self.deployment(
            endpoint,
            name,
            model,
            code_path=str(folder),
            environment_variables={"CONTRACT": "yes", "FAKE_INIT_ERROR": INIT_ERROR},
        )


def _code(root: Path) -> Path:
    folder = root / "code"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text(SCORE_PY, encoding="utf-8")
    return folder


@contextlib.asynccontextmanager
async def azure_on_fake(root: Path) -> AsyncIterator[ContractCase]:
    from deploy.azure import create_azure_backend
    from tests.support.fake_arm import FakeArm
    from tests.support.fake_arm_http import FakeCredential
    from tests.support.fake_scoring import FakeScoring

    fake = FakeArm()
    scoring = FakeScoring(fake).start()
    backend = create_azure_backend(
        {
            "subscription_id": fake.subscription_id,
            "resource_group": fake.resource_group,
            "workspace_name": fake.workspace,
            "credential": FakeCredential(),
            "transport": fake,
            "progress_interval": 0.2,
            "operation_timeout": 60,
        },
        environ={},
    )
    try:
        yield ContractCase(
            name="azure-on-fake",
            backend=backend,
            code_dir=_code(root),
            # Registering from a datastore path: the fake cannot take a blob upload.
            model_source=lambda version: (
                f"azureml://datastores/workspaceblobstore/paths/contract/{version}/"
            ),
        )
    finally:
        await backend.aclose()
        scoring.stop()


def _model_folder(root: Path) -> Callable[[str], str]:
    def model_folder(version: str) -> str:
        folder = root / "models" / version / "model"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "weights.txt").write_text(f"contract model {version}\n", encoding="utf-8")
        return str(folder)

    return model_folder


@contextlib.asynccontextmanager
async def local_in_process(root: Path) -> AsyncIterator[ContractCase]:
    from deploy.local.dataplane.router import Router
    from deploy.local.platform import Platform
    from tests.deploy.local.platform_kit import end_processes_under

    model_folder = _model_folder(root)
    home = root / "home"
    router = Router()
    await router.start()
    platform = Platform(home=home, router=router)
    try:
        await platform.start()
        yield ContractCase(
            name="local",
            backend=platform,
            code_dir=_code(root),
            model_source=model_folder,
        )
    finally:
        try:
            await platform.stop()
            await router.stop()
        finally:
            left = end_processes_under(home)
            assert not left, f"instance processes outlived the platform: {left}"


@contextlib.asynccontextmanager
async def local_daemon(root: Path) -> AsyncIterator[ContractCase]:
    from deploy.registry import create_backend
    from tests.support.flightdeck_cli import local_platform

    home = root / "home"
    with contextlib.ExitStack() as stack:
        # ``local up`` / ``local down`` are subprocess runs: off the event loop.
        await asyncio.to_thread(stack.enter_context, local_platform(home))
        backend = create_backend("local", {"home": str(home)})
        try:
            yield ContractCase(
                name="local-daemon",
                backend=backend,
                code_dir=_code(root),
                model_source=_model_folder(root),
            )
        finally:
            await backend.aclose()
            await asyncio.to_thread(stack.close)


@contextlib.asynccontextmanager
async def memory(root: Path) -> AsyncIterator[ContractCase]:
    from deploy.registry import create_backend

    backend = create_backend("memory")
    try:
        yield ContractCase(
            name="memory",
            backend=backend,
            code_dir=_code(root),
            model_source=_model_folder(root),
        )
    finally:
        await backend.aclose()


#: Backend name -> factory of a started ``ContractCase`` in a fresh folder.
FACTORIES: dict[str, Callable[[Path], AbstractAsyncContextManager[ContractCase]]] = {
    "azure-on-fake": azure_on_fake,
    "local": local_in_process,
    "local-daemon": local_daemon,
    "memory": memory,
}
