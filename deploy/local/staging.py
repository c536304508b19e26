"""A deployment's spec checked, and its generation folder laid out, before any instance starts.

Azure uploads the code folder and the model when a deployment is created or
updated, so later edits of the source folder change nothing that runs. Here a
generation folder ``<home>/deployments/<endpoint>/<deployment>/<generation>/`` holds
``code/`` (a copy of ``code_configuration.code``) and ``model/`` (a copy of
``model.path``; a registered model stays where it was registered).

    check_deployment_spec(spec)
    model_dir = await stage_generation(spec, folder=gen, registry=registry, logs=logs)
    config = instance_config(spec, folder=gen, model_dir=model_dir, python=sys.executable)
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import ValidationError
from deploy.local import messages as msg
from deploy.local.environments.installed import gunicorn_has_control_socket
from deploy.local.environments.mlflow_model import (
    check_mlflow_model,
    is_mlflow_no_code,
    no_code_environment,
    with_generated_code,
)
from deploy.local.environments.prepare import check_environment, prepare_environment
from deploy.local.instances.instance import InstanceConfig
from deploy.local.instances.logs import DeploymentLogs
from deploy.local.instances.servers import deployment_server
from deploy.local.state.models import ModelRegistry, stage_model
from deploy.local.support import cpu_limit, memory_limit, refuse_unsupported
from deploy.rules import MAX_INSTANCES_PER_DEPLOYMENT, validate_name
from deploy.specs import validate_policy
from deploy.types import DeploymentSpec, ProbeSettings, ProgressCallback

__all__ = [
    "Staged",
    "check_deployment_spec",
    "instance_config",
    "instance_environment",
    "model_dir_for",
    "stage_generation",
    "staged_python",
    "worker_count_warning",
]

#: Variables of the platform's own environment an instance inherits (a container's basics).
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME")
_MAX_TIMEOUT_MS = 180_000
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".git")
_ENVIRONMENT_FILE = "environment.json"


def check_deployment_spec(spec: DeploymentSpec) -> None:
    """``ValidationError`` naming what is wrong with a spec; checks the files it names."""
    validate_name("endpoint", spec.endpoint_name)
    validate_name("deployment", spec.name)
    name = spec.name
    if not 1 <= spec.instance_count <= MAX_INSTANCES_PER_DEPLOYMENT:
        raise ValidationError(
            msg.INSTANCE_COUNT_INVALID.format(
                name=name, limit=MAX_INSTANCES_PER_DEPLOYMENT, count=spec.instance_count
            )
        )
    if is_mlflow_no_code(spec):  # served by the generated MLflow scoring script
        check_mlflow_model(spec)
        spec = with_generated_code(spec)
    refuse_unsupported(spec)  # Triton, custom containers: refused by name
    memory_limit(spec)
    cpu_limit(spec)
    if not spec.code_path or not spec.scoring_script:
        raise ValidationError(msg.CODE_MISSING.format(name=name))
    if spec.code_path.startswith("azureml:"):
        raise ValidationError(msg.CODE_REGISTERED.format(name=name, code=spec.code_path))
    code = Path(spec.code_path)
    if not code.is_dir():
        raise ValidationError(msg.CODE_FOLDER_MISSING.format(name=name, path=spec.code_path))
    if not (code / spec.scoring_script).is_file():
        raise ValidationError(
            msg.SCRIPT_MISSING.format(name=name, script=spec.scoring_script, path=spec.code_path)
        )
    model = spec.model
    if model is not None and not model.registered and not Path(model.path or "").exists():
        raise ValidationError(msg.DEPLOYMENT_MODEL_MISSING.format(path=model.path))
    _check_request_settings(spec)
    _check_probe(name, "liveness_probe", spec.liveness_probe)
    _check_probe(name, "readiness_probe", spec.readiness_probe)
    if spec.autoscale is not None:
        validate_policy(spec.autoscale)
    deployment_server(spec.environment_variables, name=name)
    check_environment(spec.environment)


def _check_request_settings(spec: DeploymentSpec) -> None:
    settings = spec.request_settings
    checks = [
        (
            "request_timeout_ms",
            settings.request_timeout_ms,
            1 <= settings.request_timeout_ms <= _MAX_TIMEOUT_MS,
            f"1 to {_MAX_TIMEOUT_MS}",
        ),
        (
            "max_concurrent_requests_per_instance",
            settings.max_concurrent_requests_per_instance,
            settings.max_concurrent_requests_per_instance >= 1,
            "at least 1",
        ),
    ]
    for key, value, ok, rule in checks:
        if not ok:
            raise ValidationError(
                msg.REQUEST_SETTINGS_INVALID.format(name=spec.name, key=key, rule=rule, value=value)
            )


def _check_probe(name: str, which: str, probe: ProbeSettings) -> None:
    checks = [
        ("initial_delay", probe.initial_delay, probe.initial_delay >= 0, "at least 0"),
        ("period", probe.period, probe.period > 0, "more than 0"),
        ("timeout", probe.timeout, probe.timeout > 0, "more than 0"),
        ("success_threshold", probe.success_threshold, probe.success_threshold >= 1, "at least 1"),
        ("failure_threshold", probe.failure_threshold, probe.failure_threshold >= 1, "at least 1"),
    ]
    for key, value, ok, rule in checks:
        if not ok:
            raise ValidationError(
                msg.PROBE_INVALID.format(name=name, probe=which, key=key, rule=rule, value=value)
            )


@dataclass(frozen=True, kw_only=True)
class Staged:
    """A staged generation: its model dir (``None``: no model) and the python to run."""

    model_dir: Path | None
    python: str


async def stage_generation(
    spec: DeploymentSpec,
    *,
    folder: Path,
    registry: ModelRegistry,
    logs: DeploymentLogs,
    home: Path,
    python: str,
    progress: ProgressCallback | None = None,
) -> Staged:
    """Copy code and model into ``folder`` and make the environment ready (a cached virtual
    environment for a conda file, else the platform's ``python``). Logs each step."""

    async def say(line: str) -> None:
        logs.storage(line)
        if progress is not None:
            await progress(line)

    no_code = is_mlflow_no_code(spec)
    if no_code:
        spec = with_generated_code(spec)
    _fresh_folder(folder)
    await say(msg.COPYING_CODE.format(source=spec.code_path))
    await asyncio.to_thread(
        shutil.copytree, Path(spec.code_path or ""), folder / "code", ignore=_IGNORED
    )
    model = spec.model
    if model is None:
        model_dir = None
        await say(msg.NO_MODEL)
    elif model.registered:
        registry.get(model.name or "", model.version or "")
        model_dir = registry.model_dir(model.name or "", model.version or "")
        await say(
            msg.USING_REGISTERED_MODEL.format(
                name=model.name, version=model.version, path=model_dir
            )
        )
    else:
        await say(msg.COPYING_MODEL.format(source=model.path))
        model_dir = await stage_model(model, registry=registry, dest=folder / "model")
    if model_dir is not None:
        await say(msg.MODEL_DIR.format(path=model_dir))
    environment = spec.environment
    if no_code and model_dir is not None:
        environment = await no_code_environment(spec, model_dir, log=say)
    prepared = await prepare_environment(environment, home=home, base_python=python, log=say)
    _write_json(folder / _ENVIRONMENT_FILE, {"python": prepared.python})
    warning = worker_count_warning(spec)
    if warning:
        await say(warning)
    return Staged(model_dir=model_dir, python=prepared.python)


def staged_python(folder: Path, *, default: str) -> str:
    """The python a staged generation runs with (``default`` if it was not recorded or
    its environment has gone since)."""
    try:
        python = str(json.loads((folder / _ENVIRONMENT_FILE).read_text())["python"])
    except (OSError, ValueError, KeyError, TypeError):
        return default
    return python if Path(python).exists() else default


def _write_json(path: Path, data: dict[str, str]) -> None:
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")


def _fresh_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # a leftover of an interrupted attempt
    folder.mkdir(parents=True)


def model_dir_for(spec: DeploymentSpec, *, folder: Path, registry: ModelRegistry) -> Path | None:
    """The model dir of an already staged generation (used when restoring)."""
    if spec.model is None:
        return None
    if spec.model.registered:
        return registry.model_dir(spec.model.name or "", spec.model.version or "")
    return folder / "model"


def instance_config(
    spec: DeploymentSpec,
    *,
    folder: Path,
    model_dir: Path | None,
    python: str,
    min_startup_timeout: float = 120.0,
) -> InstanceConfig:
    """How to run the instances of a staged generation."""
    code = folder / "code"
    readiness = spec.readiness_probe
    by_probe = readiness.initial_delay + readiness.period * readiness.failure_threshold
    return InstanceConfig(
        python=python,
        entry_script=code / (spec.scoring_script or "score.py"),
        app_root=code,
        environment=instance_environment(spec, model_dir=model_dir, app_root=code, python=python),
        liveness=spec.liveness_probe,
        readiness=readiness,
        startup_timeout=max(by_probe + readiness.timeout, min_startup_timeout),
        server=deployment_server(spec.environment_variables, name=spec.name),
    )


def instance_environment(
    spec: DeploymentSpec,
    *,
    model_dir: Path | None,
    app_root: Path,
    inherited: Mapping[str, str] | None = None,
    python: str | None = None,
) -> dict[str, str]:
    """An instance's environment: a container's basics, the deployment's variables as
    given (WORKER_COUNT only if they set it), and Azure's AZUREML_MODEL_DIR / AML_APP_ROOT."""
    source = os.environ if inherited is None else inherited
    env = {key: source[key] for key in _INHERITED if key in source}
    # gunicorn 23+ opens a control socket in $HOME, shared by every instance: not wanted.
    # Older ones refuse the option, so it is set only for the gunicorn ``python`` runs.
    if python is None or gunicorn_has_control_socket(python):
        env["GUNICORN_CMD_ARGS"] = "--no-control-socket"
    env["PYTHONUNBUFFERED"] = "1"
    env.update({str(k): str(v) for k, v in spec.environment_variables.items()})
    env["AML_APP_ROOT"] = str(app_root)
    if model_dir is not None:
        env["AZUREML_MODEL_DIR"] = str(model_dir)
    return env


def worker_count_warning(spec: DeploymentSpec) -> str | None:
    """A warning when WORKER_COUNT (default 1) differs from max_concurrent_requests_per_instance."""
    workers = spec.environment_variables.get("WORKER_COUNT", "1")
    concurrent = spec.request_settings.max_concurrent_requests_per_instance
    if str(workers).strip() == str(concurrent):
        return None
    return msg.WORKER_COUNT_DIFFERS.format(workers=workers, concurrent=concurrent)
