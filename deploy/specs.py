"""Endpoint and deployment specs: Azure ML v2 YAML, read by azure-ai-ml's own loaders.

The schema is Azure's, checked offline. The seed's ``scale_settings: type:
target_utilization`` is accepted by Azure only on Kubernetes endpoints, so it is
lifted into Flightdeck's ``AutoscalePolicy`` before the SDK sees the rest.
Relative paths resolve against the YAML file's folder, as ``az ml`` does. Every
error names the file, the key and the reason.

Refused up front, in one line, before anything is staged or started: a file over
``MAX_SPEC_BYTES`` (checked before it is read or parsed); a scoring script outside its
code folder (``../../etc/passwd``); a model path or code folder the user cannot read,
or that is a system folder (``SYSTEM_FOLDERS``: ``/``, a top-level system folder, or
anything under ``/etc``, ``/proc``, ``/sys``, ``/dev``, ``/boot``, ``/run``).

    spec = load_deployment_spec("examples/product-recommender/blue-deployment.yml")
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

from deploy.errors import SpecError
from deploy.rules import MAX_INSTANCES_PER_DEPLOYMENT, validate_name
from deploy.types import (
    AutoscalePolicy,
    Deployment,
    DeploymentSpec,
    EndpointSpec,
    EnvironmentSpec,
    ModelRef,
    ProbeSettings,
    RequestSettings,
    ResourceSettings,
)

__all__ = [
    "MAX_SPEC_BYTES",
    "SETTABLE_DEPLOYMENT_KEYS",
    "SYSTEM_FOLDERS",
    "SpecEdit",
    "apply_overrides",
    "deployment_settings",
    "deployment_spec_from_yaml",
    "endpoint_spec_from_yaml",
    "load_deployment_spec",
    "load_endpoint_spec",
    "probe_from_sdk",
    "read_spec_file",
    "request_settings_from_sdk",
    "with_deployment_settings",
]

#: The largest spec file read (1 MiB): a real one is a few KB, and YAML's parser holds far
#: more memory than the file's size (71 MB of YAML took 2.85 GB).
MAX_SPEC_BYTES = 1024 * 1024

#: Folders no model or code is taken from: these and everything under them.
SYSTEM_TREES = ("/etc", "/proc", "/sys", "/dev", "/boot", "/run")
#: Folders refused as a whole (what is under them, say ``/usr/share/models/m``, is allowed).
SYSTEM_FOLDERS = (
    "/",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/usr",
    "/var",
    "/home",
    "/tmp",
    "/opt",
    "/srv",
    "/root",
    "/mnt",
    "/media",
    *SYSTEM_TREES,
)

_SCALE_KEYS = {
    "min_instances": "min_instances",
    "max_instances": "max_instances",
    "target_utilization_percentage": "target_utilization_percentage",
    "polling_interval": "polling_interval",
    "scale_down_delay": "scale_down_delay",
    "scale_down_delay_in_seconds": "scale_down_delay",
    "metric": "metric",
}


#: Changes the command line makes to a spec's parsed YAML before it is checked
#: (``az ml``'s ``--add``/``--remove``, ``--name``, ``--endpoint-name``).
SpecEdit = Callable[[dict[str, Any]], dict[str, Any]]


def load_endpoint_spec(
    path: str | Path, *, overrides: Sequence[str] = (), edit: SpecEdit | None = None
) -> EndpointSpec:
    """Read an endpoint YAML file; ``overrides`` as for ``load_deployment_spec``."""
    file = Path(path)
    data = _read_yaml(file)
    if overrides:
        data = apply_overrides(data, overrides, file=str(file))
    if edit is not None:
        data = edit(data)
    return endpoint_spec_from_yaml(data, file=file)


def load_deployment_spec(
    path: str | Path, *, overrides: Sequence[str] = (), edit: SpecEdit | None = None
) -> DeploymentSpec:
    """Read a deployment YAML file; ``overrides`` are ``key.path=value`` strings (``--set``),
    then ``edit`` changes the parsed YAML (both before any check)."""
    file = Path(path)
    data = _read_yaml(file)
    if overrides:
        data = apply_overrides(data, overrides, file=str(file))
    if edit is not None:
        data = edit(data)
    return deployment_spec_from_yaml(data, file=file)


def endpoint_spec_from_yaml(data: Mapping[str, Any], *, file: Path) -> EndpointSpec:
    """Build an ``EndpointSpec`` from parsed YAML, through ``load_online_endpoint``."""
    from azure.ai.ml import load_online_endpoint

    entity = _sdk_load(load_online_endpoint, data, file)
    name = _check_name("endpoint", entity.name, file)
    return EndpointSpec(
        name=name,
        auth_mode=entity.auth_mode or "key",
        description=entity.description,
        tags=dict(entity.tags or {}),
        source_file=str(file.resolve()),
        cloud_settings=_cloud_settings(data, _ENDPOINT_CLOUD_KEYS),
    )


def deployment_spec_from_yaml(data: Mapping[str, Any], *, file: Path) -> DeploymentSpec:
    """Build a ``DeploymentSpec`` from parsed YAML, through ``load_online_deployment``."""
    from azure.ai.ml import load_online_deployment

    body = dict(data)
    autoscale = _lift_scale_settings(body, file)
    base = file.resolve().parent
    _check_raw_paths(body, base, file)
    entity = _sdk_load(load_online_deployment, body, file)
    name = _check_name("deployment", entity.name, file)
    endpoint_name = _check_name("endpoint", entity.endpoint_name or "", file, key="endpoint_name")
    count = int(entity.instance_count or 1)
    if not 1 <= count <= MAX_INSTANCES_PER_DEPLOYMENT:
        raise SpecError(
            f"must be between 1 and {MAX_INSTANCES_PER_DEPLOYMENT}, not {count}",
            file=str(file),
            key="instance_count",
        )
    code_path, script = _code(entity, base, file)
    return DeploymentSpec(
        name=name,
        endpoint_name=endpoint_name,
        model=_model(entity.model, base, file),
        code_path=code_path,
        scoring_script=script,
        environment=_environment(entity.environment, file, raw=body.get("environment")),
        instance_type=entity.instance_type or "Standard_DS3_v2",
        instance_count=count,
        request_settings=request_settings_from_sdk(entity.request_settings),
        liveness_probe=probe_from_sdk(entity.liveness_probe),
        readiness_probe=probe_from_sdk(entity.readiness_probe),
        environment_variables={k: str(v) for k, v in (entity.environment_variables or {}).items()},
        autoscale=autoscale,
        description=entity.description,
        tags=dict(entity.tags or {}),
        source_file=str(file.resolve()),
        deployment_type="kubernetes" if _is_kubernetes(entity) else "managed",
        resources=_resources(body.get("resources"), file),
        cloud_settings=_cloud_settings(body, _DEPLOYMENT_CLOUD_KEYS),
    )


#: What ``online-deployment update --name D --endpoint-name E --set/--add/--remove`` can
#: change without a file (``scale_settings.*`` is handled apart): az sets any property of the
#: deployment it loaded; code, model and environment need their files, so ``--file`` there.
SETTABLE_DEPLOYMENT_KEYS: tuple[str, ...] = (
    "request_settings",
    "liveness_probe",
    "readiness_probe",
    "environment_variables",
    "instance_type",
    "instance_count",
)


def deployment_settings(deployment: Deployment) -> dict[str, Any]:
    """The settable parts of a live deployment, as its YAML spells them."""
    return {
        "request_settings": asdict(deployment.request_settings),
        "liveness_probe": asdict(deployment.liveness_probe),
        "readiness_probe": asdict(deployment.readiness_probe),
        "environment_variables": dict(deployment.environment_variables),
        "instance_type": deployment.instance_type,
        "instance_count": deployment.instance_count,
    }


def with_deployment_settings(
    spec: DeploymentSpec, data: Mapping[str, Any], *, origin: str = "--set"
) -> DeploymentSpec:
    """``spec`` with ``data``'s ``SETTABLE_DEPLOYMENT_KEYS`` (YAML-shaped), checked by
    azure-ai-ml's deployment schema; ``SpecError`` naming ``origin`` and the key."""
    from azure.ai.ml import load_online_deployment

    body: dict[str, Any] = {"name": spec.name, "endpoint_name": spec.endpoint_name}
    body |= {k: data[k] for k in SETTABLE_DEPLOYMENT_KEYS if data.get(k) is not None}
    entity = _sdk_load(load_online_deployment, body, Path(origin))
    count = int(entity.instance_count or 1)
    if not 1 <= count <= MAX_INSTANCES_PER_DEPLOYMENT:
        raise SpecError(
            f"must be between 1 and {MAX_INSTANCES_PER_DEPLOYMENT}, not {count}",
            file=origin,
            key="instance_count",
        )
    return replace(
        spec,
        instance_type=entity.instance_type or spec.instance_type,
        instance_count=count,
        request_settings=request_settings_from_sdk(entity.request_settings),
        liveness_probe=probe_from_sdk(entity.liveness_probe),
        readiness_probe=probe_from_sdk(entity.readiness_probe),
        environment_variables={k: str(v) for k, v in (entity.environment_variables or {}).items()},
    )


def apply_overrides(
    data: Mapping[str, Any], overrides: Sequence[str], *, file: str = "--set"
) -> dict[str, Any]:
    """Apply ``--set key.path=value`` overrides (values parsed as YAML scalars)."""
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SpecError(f"'{item}' is not key=value", file=file, key="--set")
        target = result
        parts = key.split(".")
        for part in parts[:-1]:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):
                raise SpecError(f"'{part}' is not a mapping", file=file, key=key)
            target = node
        target[parts[-1]] = yaml.safe_load(raw) if raw else ""
    return result


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """A spec file's parsed YAML mapping, with the loaders' checks (size, UTF-8, a mapping)."""
    return _read_yaml(Path(path))


# ---------------------------------------------------------------- helpers

#: Keys only a cloud platform acts on, kept as given (a default value is left out).
_ENDPOINT_CLOUD_KEYS = {"compute": None, "identity": None, "public_network_access": "enabled"}
_DEPLOYMENT_CLOUD_KEYS = {
    "app_insights_enabled": False,
    "data_collector": None,
    "egress_public_network_access": "enabled",
    "model_mount_path": None,
    "private_network_connection": False,
}


def _cloud_settings(body: Mapping[str, Any], keys: Mapping[str, Any]) -> dict[str, Any]:
    found = {}
    for key, default in keys.items():
        value = body.get(key)
        if value is None or value == default:
            continue
        if isinstance(value, str) and isinstance(default, str) and value.lower() == default:
            continue
        found[key] = json.loads(json.dumps(value, default=str))
    return found


def _is_kubernetes(entity: Any) -> bool:
    return str(getattr(entity, "type", "") or "").lower() == "kubernetes"


def _resources(raw: Any, file: Path) -> ResourceSettings | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SpecError("expected requests: and limits:", file=str(file), key="resources")
    parts: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        values = raw.get(part) or {}
        if not isinstance(values, Mapping):
            raise SpecError("expected a mapping", file=str(file), key=f"resources.{part}")
        parts[part] = {str(k): str(v) for k, v in values.items()}
    return ResourceSettings(requests=parts["requests"], limits=parts["limits"])


def _read_yaml(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as stream:
            if file.is_file() and os.fstat(stream.fileno()).st_size > MAX_SPEC_BYTES:
                raise _too_big(file)
            raw = stream.read(MAX_SPEC_BYTES + 1)  # a FIFO or a file still growing
        if len(raw) > MAX_SPEC_BYTES:
            raise _too_big(file)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise SpecError("file not found", file=str(file)) from None
    except UnicodeDecodeError:
        raise SpecError("not UTF-8 text", file=str(file)) from None
    except OSError as exc:
        raise SpecError(f"cannot read the file ({exc.strerror})", file=str(file)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SpecError(f"{problem}{where}", file=str(file)) from None
    if not isinstance(data, dict):
        raise SpecError("expected a mapping of keys at the top level", file=str(file))
    return data


def _too_big(file: Path) -> SpecError:
    return SpecError(
        f"the file is over the {MAX_SPEC_BYTES // (1024 * 1024)} MiB cap on spec files "
        "(a deployment spec is a few KB: is this the right file?)",
        file=str(file),
    )


def _check_path(path: Path, *, shown: str, file: Path, key: str) -> None:
    """``SpecError`` when ``path`` is a system folder (or under one) or the user cannot read it."""
    text = str(path)
    in_tree = any(text == tree or text.startswith(tree + "/") for tree in SYSTEM_TREES)
    if text in SYSTEM_FOLDERS or in_tree:
        raise SpecError(
            f"'{shown}' is the system folder {text}: name your model's or code's own file "
            "or folder",
            file=str(file),
            key=key,
        )
    mode = os.R_OK | (os.X_OK if path.is_dir() else 0)
    if not os.access(path, mode):
        raise SpecError(f"'{shown}' ({text}) is not readable by you", file=str(file), key=key)


def _check_raw_paths(body: Mapping[str, Any], base: Path, file: Path) -> None:
    """The model path and code folder, checked before azure-ai-ml's loader walks (and hashes)
    them: a system folder or an unreadable one is refused in one line, not a traceback."""
    model = body.get("model")
    if isinstance(model, Mapping) and isinstance(model.get("path"), str):
        path = (base / model["path"]).resolve()
        if path.exists():
            _check_path(path, shown=model["path"], file=file, key="model.path")
    config = body.get("code_configuration")
    if isinstance(config, Mapping) and isinstance(config.get("code"), str):
        code = config["code"]
        if not code.startswith("azureml:") and (base / code).resolve().exists():
            _check_path(
                (base / code).resolve(), shown=code, file=file, key="code_configuration.code"
            )


def _sdk_load(loader: Any, data: Mapping[str, Any], file: Path) -> Any:
    """Run an azure-ai-ml loader on ``data`` as if it were ``file``, mapping its errors."""
    import marshmallow
    from azure.ai.ml.exceptions import MlException

    # The body may differ from the file (scale_settings lifted out, --set overrides):
    # hand the SDK a stream, with the file as the origin of relative paths.
    stream = io.StringIO(yaml.safe_dump(dict(data), sort_keys=False))
    try:
        return loader(stream, relative_origin=str(file.resolve()))
    except marshmallow.ValidationError as exc:
        key, reason = _first_schema_error(str(exc.messages))
        raise SpecError(reason, file=str(file), key=key) from None
    except MlException as exc:
        raise SpecError(_first_line(str(exc)), file=str(file)) from None


def _first_schema_error(messages: str) -> tuple[str | None, str]:
    text = messages
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < 0:
        return None, _first_line(text)
    blob = text[start : end + 1].encode().decode("unicode_escape")
    try:
        tree = json.loads(blob)
    except json.JSONDecodeError:
        return None, _first_line(text[start:])
    return _walk(tree, [])


_MISSING = re.compile(r"No such file or directory: '?([^'\s]+)'?")


def _walk(node: Any, path: list[str]) -> tuple[str | None, str]:
    if isinstance(node, dict):
        for key, value in node.items():
            sub = path if key == "_schema" else [*path, str(key)]
            return _walk(value, sub)
    if isinstance(node, list) and node:
        # A union field lists one error per alternative; the last is the one tried last.
        return _walk(node[-1], path)
    reason = _first_line(str(node)).rstrip(":")
    missing = _MISSING.search(reason)
    if missing:
        reason = f"path '{missing.group(1)}' does not exist"
    return (".".join(path) or None), reason


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return text.strip()


def _check_name(kind: str, name: str | None, file: Path, *, key: str = "name") -> str:
    from deploy.errors import ValidationError

    if not name:
        raise SpecError("is required", file=str(file), key=key)
    try:
        return validate_name(kind, name)
    except ValidationError as exc:
        raise SpecError(exc.message, file=str(file), key=key) from None


def _lift_scale_settings(body: dict[str, Any], file: Path) -> AutoscalePolicy | None:
    settings = body.get("scale_settings")
    if not isinstance(settings, Mapping):
        return None
    kind = str(settings.get("type", "default")).lower()
    if kind == "default":
        return None
    if kind != "target_utilization":
        raise SpecError(
            f"type '{kind}' is not supported; use default or target_utilization",
            file=str(file),
            key="scale_settings.type",
        )
    del body["scale_settings"]
    values: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "type":
            continue
        if key not in _SCALE_KEYS:
            raise SpecError("unknown key", file=str(file), key=f"scale_settings.{key}")
        values[_SCALE_KEYS[key]] = value
    for key in ("min_instances", "max_instances"):
        if key not in values:
            raise SpecError("is required", file=str(file), key=f"scale_settings.{key}")
    try:
        policy = AutoscalePolicy(
            min_instances=int(values["min_instances"]),
            max_instances=int(values["max_instances"]),
            target_utilization_percentage=int(values.get("target_utilization_percentage", 70)),
            polling_interval=int(values.get("polling_interval", 60)),
            scale_down_delay=int(values.get("scale_down_delay", 300)),
            metric=values.get("metric", "utilization"),
        )
    except (TypeError, ValueError) as exc:
        raise SpecError(f"not a number ({exc})", file=str(file), key="scale_settings") from None
    validate_policy(policy, file=str(file))
    return policy


def validate_policy(policy: AutoscalePolicy, *, file: str = "scale_settings") -> None:
    """Check an autoscale policy's numbers; ``SpecError`` naming the key otherwise."""
    checks: list[tuple[bool, str, str]] = [
        (policy.min_instances >= 1, "min_instances", "must be at least 1"),
        (
            policy.min_instances <= policy.max_instances <= MAX_INSTANCES_PER_DEPLOYMENT,
            "max_instances",
            f"must be between min_instances and {MAX_INSTANCES_PER_DEPLOYMENT}",
        ),
        (
            1 <= policy.target_utilization_percentage <= 100,
            "target_utilization_percentage",
            "must be between 1 and 100",
        ),
        (policy.polling_interval >= 1, "polling_interval", "must be at least 1 second"),
        (policy.scale_down_delay >= 0, "scale_down_delay", "must not be negative"),
        (policy.metric in ("utilization", "cpu"), "metric", "must be utilization or cpu"),
    ]
    for ok, key, reason in checks:
        if not ok:
            raise SpecError(reason, file=file, key=f"scale_settings.{key}")


def _model(model: Any, base: Path, file: Path) -> ModelRef | None:
    if model is None:
        return None
    if isinstance(model, str):
        ref = model.removeprefix("azureml:")
        name, _, version = ref.partition(":")
        if not version or "@" in name:
            raise SpecError(
                f"'{model}' must name a version: azureml:<name>:<version>",
                file=str(file),
                key="model",
            )
        return ModelRef(name=name, version=version)
    path = getattr(model, "path", None)
    kind = getattr(model, "type", None)
    if path is None:
        return ModelRef(
            name=getattr(model, "name", None), version=getattr(model, "version", None), type=kind
        )
    resolved = (base / str(path)).resolve()
    if not resolved.exists():
        raise SpecError(f"path '{path}' does not exist", file=str(file), key="model.path")
    _check_path(resolved, shown=str(path), file=file, key="model.path")
    if not (resolved.is_file() or resolved.is_dir()):
        raise SpecError(
            f"'{path}' is neither a file nor a folder", file=str(file), key="model.path"
        )
    return ModelRef(path=str(resolved), type=kind)


def _code(entity: Any, base: Path, file: Path) -> tuple[str | None, str | None]:
    config = entity.code_configuration
    if config is None:
        return None, None
    code = str(config.code)
    if code.startswith("azureml:"):
        return code, config.scoring_script
    folder = (base / code).resolve()
    if not folder.is_dir():
        raise SpecError(
            f"folder '{code}' does not exist", file=str(file), key="code_configuration.code"
        )
    _check_path(folder, shown=code, file=file, key="code_configuration.code")
    script = config.scoring_script
    if script and not (folder / script).resolve().is_relative_to(folder):
        raise SpecError(
            f"'{script}' is outside the code folder {folder}: the scoring script must be a "
            "file inside it",
            file=str(file),
            key="code_configuration.scoring_script",
        )
    if not script or not (folder / script).is_file():
        raise SpecError(
            f"'{script}' is not a file in {folder}",
            file=str(file),
            key="code_configuration.scoring_script",
        )
    return str(folder), str(script)


def _environment(env: Any, file: Path, *, raw: Any = None) -> EnvironmentSpec | None:
    if env is None:
        return None
    if isinstance(env, str):
        return EnvironmentSpec(registered=env.removeprefix("azureml:"))
    conda = getattr(env, "conda_file", None)
    if isinstance(conda, str):
        conda = yaml.safe_load(conda)
    if conda is not None and not isinstance(conda, dict):
        raise SpecError(
            f"expected a conda environment (a mapping with dependencies:), "
            f"not {type(conda).__name__}",
            file=str(file),
            key="environment.conda_file",
        )
    # The YAML's own routes (the SDK's copy is a string of its REST names).
    routes = raw.get("inference_config") if isinstance(raw, Mapping) else None
    return EnvironmentSpec(
        image=getattr(env, "image", None),
        conda_file=conda if isinstance(conda, dict) else None,
        inference_config=json.loads(json.dumps(routes, default=str)) if routes else None,
    )


def request_settings_from_sdk(settings: Any) -> RequestSettings:
    """``RequestSettings`` from azure-ai-ml's request settings (Azure's defaults for gaps)."""
    default = RequestSettings()
    if settings is None:
        return default
    return RequestSettings(
        request_timeout_ms=settings.request_timeout_ms or default.request_timeout_ms,
        max_concurrent_requests_per_instance=settings.max_concurrent_requests_per_instance
        or default.max_concurrent_requests_per_instance,
        max_queue_wait_ms=settings.max_queue_wait_ms or default.max_queue_wait_ms,
    )


def probe_from_sdk(probe: Any) -> ProbeSettings:
    """``ProbeSettings`` from azure-ai-ml's ``ProbeSettings`` (Azure's defaults for gaps)."""
    default = ProbeSettings()
    if probe is None:
        return default

    def pick(name: str) -> Any:
        value = getattr(probe, name, None)
        return getattr(default, name) if value is None else value

    return ProbeSettings(
        initial_delay=pick("initial_delay"),
        period=pick("period"),
        timeout=pick("timeout"),
        success_threshold=pick("success_threshold"),
        failure_threshold=pick("failure_threshold"),
    )
