"""A deployment's environment, made ready on the local platform: the python its instances run.

- A conda file (inline or by path in the YAML): its ``pip:`` list and the conda
  packages with a PyPI twin, plus Azure's inference server when the file does not
  list it, are resolved together by uv into an isolated virtual environment cached by
  content hash under ``$FLIGHTDECK_HOME/envs/<key>/`` (``deploy.local.environments.venvs``):
  the user's pins hold and none of the platform's packages leak in. A python pin is
  met with an interpreter of this machine (or uv's managed Pythons already installed);
  with none, the platform's Python is used and a warning says so. A conda-only
  package is a ``SpecError`` naming it, raised before anything is built.
- ``azureml:name:version``, an image without a conda file, or no environment:
  the platform's own interpreter, with a warning.

Every step is a line for ``log`` (the platform writes them to the
storage-initializer log and to progress); warnings are logged too and also
returned, for the caller to show with the operation's result.

    prepared = await prepare_environment(spec.environment, home=home, base_python=sys.executable,
                                         log=say)
    InstanceConfig(python=prepared.python, ...)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deploy.local.environments import messages as msg
from deploy.local.environments.conda import CondaEnvironment, parse_conda_file, python_pin_satisfied
from deploy.local.environments.numpy_abi import numpy_constraints
from deploy.local.environments.uvtool import IndexSettings, find_python, pip_index_settings
from deploy.local.environments.venvs import BaseInterpreter, ensure_venv, inspect_interpreter
from deploy.types import EnvironmentSpec

__all__ = [
    "ENVS_DIR",
    "INFERENCE_SERVER",
    "PreparedEnvironment",
    "check_environment",
    "environment_key",
    "install_list",
    "prepare_environment",
]

#: Where environments live under the platform's home.
ENVS_DIR = "envs"
_KEY_CHARS = 16
#: Azure's inference server, which every environment gets (instances run it).
INFERENCE_SERVER = "azureml-inference-server-http"

Log = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class PreparedEnvironment:
    """The interpreter a deployment's instances run with.

    ``path`` and ``key`` name the cached virtual environment (``None`` when the
    platform's own interpreter is used); ``built`` is True when it was built by
    this call rather than found in the cache.
    """

    python: str
    warnings: tuple[str, ...] = ()
    path: Path | None = None
    key: str | None = None
    built: bool = False


def check_environment(env: EnvironmentSpec | None) -> CondaEnvironment | None:
    """The conda file's requirements, or ``None`` without one; ``SpecError`` when it is
    invalid or lists a conda-only package. Cheap: nothing is run or built."""
    if env is None or env.registered or env.conda_file is None:
        return None
    return parse_conda_file(env.conda_file)


async def prepare_environment(
    env: EnvironmentSpec | None,
    *,
    home: Path,
    base_python: str,
    log: Log,
    output: Log | None = None,
    pip_options: Sequence[str] = (),
    index: IndexSettings | None = None,
) -> PreparedEnvironment:
    """Make ``env`` ready under ``home`` and return the python to run instances with.

    Steps, notes and warnings go to ``log``; uv's output, line by line, to ``output``
    (default: ``log``). ``pip_options`` are added to every install (tests pass
    ``--offline``); ``index`` is the package index for uv (default: pip's configuration
    as ``base_python -m pip`` sees it).
    Raises ``SpecError`` for an invalid conda file or a conda-only package (before
    anything is built) and ``DeploymentFailedError`` when uv fails (nothing kept).
    """
    conda = check_environment(env)
    if conda is None:
        warning = _fallback_warning(env, base_python)
        await log(msg.WARNING_LINE.format(warning=warning))
        return PreparedEnvironment(python=base_python, warnings=(warning,))
    assert env is not None
    if env.image:
        await log(msg.IMAGE_IGNORED.format(image=env.image))
    for note in conda.notes:
        await log(note)
    platform = await inspect_interpreter(base_python)
    base, warnings = await _interpreter_for(conda.python_pin, platform, log)
    requirements = install_list(conda)
    if len(requirements) > len(conda.requirements):
        await log(msg.SERVER_ADDED)
    constraints, capped = numpy_constraints(requirements)
    if capped:
        await log(msg.NUMPY_CAPPED.format(names=", ".join(capped)))
    key = environment_key(conda, base)
    if index is None:
        index = await pip_index_settings(base_python)
    venv = await ensure_venv(
        home / ENVS_DIR,
        key,
        base=base,
        requirements=requirements,
        pip_options=[*conda.pip_options, *pip_options],
        constraints=constraints,
        index=index,
        manifest={"python": base.version, "python_executable": base.executable},
        log=log,
        output=output,
    )
    return PreparedEnvironment(
        python=venv.python,
        warnings=tuple(warnings),
        path=venv.path,
        key=key,
        built=venv.built,
    )


def install_list(conda: CondaEnvironment) -> tuple[str, ...]:
    """What an environment installs: the conda file's requirements, and Azure's inference
    server when the file does not list it (Azure's inference images have it)."""
    names = {canonicalize_name(Requirement(r).name) for r in conda.requirements}
    if INFERENCE_SERVER in names:
        return conda.requirements
    return (*conda.requirements, INFERENCE_SERVER)


def environment_key(conda: CondaEnvironment, base: BaseInterpreter) -> str:
    """The content hash naming an environment: what it installs, the conda file's pip
    options, and the interpreter (version and executable) it is made from."""
    content = {
        "requirements": sorted(install_list(conda)),
        "pip_options": list(conda.pip_options),
        "python": base.version,
        "executable": base.executable,
        "isolated": True,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return digest[:_KEY_CHARS]


async def _interpreter_for(
    pin: str | None, platform: BaseInterpreter, log: Log
) -> tuple[BaseInterpreter, list[str]]:
    """The interpreter for a python pin: the platform's when it satisfies the pin, else one
    on this machine (never downloaded); the platform's, with a warning, when there is none."""
    if python_pin_satisfied(pin, platform.version):
        return platform, []
    assert pin is not None
    shown = pin.removeprefix("==").removesuffix(".*")
    requests = [pin]
    release = shown.split(".")
    if len(release) > 2:  # python=3.11.7: any 3.11 does, as a conda solve of 3.11 would
        requests.append(f"=={release[0]}.{release[1]}.*")
    reason = ""
    for request in requests:
        found = await find_python(request)
        if found.executable is not None:
            await log(msg.PYTHON_FOUND.format(pin=shown, python=found.executable))
            return await inspect_interpreter(found.executable), []
        reason = reason or found.reason
    warning = msg.PYTHON_MISSING.format(pin=shown, reason=reason, version=platform.version)
    await log(msg.WARNING_LINE.format(warning=warning))
    return platform, [warning]


def _fallback_warning(env: EnvironmentSpec | None, python: str) -> str:
    if env is None or not (env.registered or env.image):
        return msg.NO_ENVIRONMENT.format(python=python)
    if env.registered:
        return msg.REGISTERED_UNAVAILABLE.format(name=env.registered, python=python)
    return msg.IMAGE_UNAVAILABLE.format(image=env.image, python=python)
