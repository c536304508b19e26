"""A deployment's environment, made ready on the local platform: the python its instances run.

- A conda file (inline or by path in the YAML): its ``pip:`` list and the conda
  packages with a PyPI twin go into a virtual environment cached by content hash
  under ``$FLIGHTDECK_HOME/envs/<key>/`` and layered on the platform's interpreter
  (``deploy.local.environments.venvs``), so what the platform has is found, not downloaded.
  A python pin other than the platform's Python is a warning; a conda-only
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

from deploy.local.environments import messages as msg
from deploy.local.environments.conda import CondaEnvironment, parse_conda_file, python_pin_satisfied
from deploy.local.environments.venvs import BaseInterpreter, ensure_venv, inspect_interpreter
from deploy.types import EnvironmentSpec

__all__ = [
    "ENVS_DIR",
    "PreparedEnvironment",
    "check_environment",
    "environment_key",
    "prepare_environment",
]

#: Where environments live under the platform's home.
ENVS_DIR = "envs"
_KEY_CHARS = 16

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
) -> PreparedEnvironment:
    """Make ``env`` ready under ``home`` and return the python to run instances with.

    Steps, notes and warnings go to ``log``; the output of venv and pip, line by
    line, to ``output`` (default: ``log``). ``pip_options`` are added to every pip
    install (tests pass ``--no-index``).
    Raises ``SpecError`` for an invalid conda file or a conda-only package (before
    anything is built) and ``DeploymentFailedError`` when pip fails (nothing kept).
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
    base = await inspect_interpreter(base_python)
    warnings: list[str] = []
    if not python_pin_satisfied(conda.python_pin, base.version):
        pin = (conda.python_pin or "").removeprefix("==").removesuffix(".*")
        warnings.append(msg.PYTHON_PIN_DIFFERS.format(pin=pin, version=base.version))
        await log(msg.WARNING_LINE.format(warning=warnings[-1]))
    if not conda.requirements:
        await log(msg.NOTHING_TO_INSTALL.format(python=base_python))
        return PreparedEnvironment(python=base_python, warnings=tuple(warnings))
    key = environment_key(conda, base)
    venv = await ensure_venv(
        home / ENVS_DIR,
        key,
        base=base,
        requirements=conda.requirements,
        pip_options=[*conda.pip_options, *pip_options],
        manifest={"python": base.version, "platform_python": base.executable},
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


def environment_key(conda: CondaEnvironment, base: BaseInterpreter) -> str:
    """The content hash naming an environment: its normalized requirements and pip options,
    the platform's Python version, and the interpreter it is layered on."""
    content = {
        "requirements": sorted(conda.requirements),
        "pip_options": list(conda.pip_options),
        "python": base.version,
        "platform": base.prefix,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return digest[:_KEY_CHARS]


def _fallback_warning(env: EnvironmentSpec | None, python: str) -> str:
    if env is None or not (env.registered or env.image):
        return msg.NO_ENVIRONMENT.format(python=python)
    if env.registered:
        return msg.REGISTERED_UNAVAILABLE.format(name=env.registered, python=python)
    return msg.IMAGE_UNAVAILABLE.format(image=env.image, python=python)
