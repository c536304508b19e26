"""No-code MLflow deployments: a ``type: mlflow_model`` model without ``code_configuration``,
served as Azure serves it.

Azure generates the scoring script and builds the environment from the model's own
dependencies. Here the scoring script is ``scoring/mlflow_nocode/score.py`` (shipped with
Flightdeck, copied into the generation's ``code/`` like any code folder), and the
environment is the deployment's when it gives one, else the model's ``conda.yaml`` (or
its ``requirements.txt``), with ``mlflow`` installed as ``mlflow-skinny``. mlflow-skinny
leaves out the data packages that ``mlflow`` brings and that loading and predicting need
(pandas, numpy), so those are added with mlflow's own caps unless the model lists them: a
model whose conda.yaml says only ``mlflow`` (as azureml-examples' ncd sample's does) then
finds pandas, as it would on Azure.

    if is_mlflow_no_code(spec):
        check_mlflow_model(spec)
        spec = with_generated_code(spec)
    env = model_environment(mlflow_folder(model_dir))
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from deploy.errors import ValidationError
from deploy.local.environments import messages as msg
from deploy.types import DeploymentSpec, EnvironmentSpec

__all__ = [
    "MLFLOW_MODEL",
    "check_mlflow_model",
    "is_mlflow_no_code",
    "mlflow_folder",
    "model_environment",
    "no_code_environment",
    "scoring_folder",
    "with_generated_code",
]

#: Azure's model type of an MLflow model.
MLFLOW_MODEL = "mlflow_model"
_SCRIPT = "score.py"
_MLMODEL = "MLmodel"


def is_mlflow_no_code(spec: DeploymentSpec) -> bool:
    """True for an MLflow model deployed without code_configuration."""
    model = spec.model
    return not spec.code_path and model is not None and (model.type or "").lower() == MLFLOW_MODEL


def scoring_folder() -> Path:
    """The folder of the generated scoring script (``scoring/mlflow_nocode``)."""
    found = importlib.util.find_spec("scoring.mlflow_nocode")
    if found is None or not found.submodule_search_locations:
        raise ValidationError(msg.MLFLOW_SCRIPT_MISSING)
    return Path(next(iter(found.submodule_search_locations)))


def with_generated_code(spec: DeploymentSpec) -> DeploymentSpec:
    """``spec`` with the generated MLflow scoring script as its code."""
    return replace(spec, code_path=str(scoring_folder()), scoring_script=_SCRIPT)


def check_mlflow_model(spec: DeploymentSpec) -> None:
    """``ValidationError`` when a local MLflow model has no ``MLmodel`` file (a registered
    one is checked when staged)."""
    model = spec.model
    if model is None or model.registered or not model.path:
        return
    path = Path(model.path)
    if path.is_dir():
        mlflow_folder(path, shown=model.path)
        return
    raise ValidationError(msg.MLFLOW_NO_MLMODEL.format(path=model.path))


def mlflow_folder(model_dir: Path, *, shown: str | None = None) -> Path:
    """The folder holding ``MLmodel``: ``model_dir`` itself or one folder in it."""
    if (model_dir / _MLMODEL).is_file():
        return model_dir
    found = sorted(model_dir.glob(f"*/{_MLMODEL}"))
    if len(found) == 1:
        return found[0].parent
    raise ValidationError(msg.MLFLOW_NO_MLMODEL.format(path=shown or model_dir))


def model_environment(folder: Path) -> EnvironmentSpec:
    """The environment an MLflow model asks for: its conda.yaml, else its requirements.txt
    (as a conda file's pip list); ``mlflow`` becomes ``mlflow-skinny``, plus the data
    packages full mlflow would have brought (``MLFLOW_DATA_PACKAGES``) that it does not list."""
    conda_path, requirements_path = folder / "conda.yaml", folder / "requirements.txt"
    if conda_path.is_file():
        try:
            data = yaml.safe_load(conda_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ValidationError(
                msg.MLFLOW_ENV_INVALID.format(path=conda_path, reason=str(exc).splitlines()[0])
            ) from None
        if not isinstance(data, dict):
            raise ValidationError(
                msg.MLFLOW_ENV_INVALID.format(path=conda_path, reason="not a mapping")
            )
        return EnvironmentSpec(conda_file=_skinny_conda(data))
    if requirements_path.is_file():
        lines = requirements_path.read_text(encoding="utf-8").splitlines()
        pip = _skinny_pip([line.strip() for line in lines if line.strip()], listed=())
        return EnvironmentSpec(conda_file={"dependencies": [{"pip": pip}]})
    raise ValidationError(msg.MLFLOW_NO_ENVIRONMENT.format(path=folder))


#: What ``mlflow`` requires and ``mlflow-skinny`` does not, that loading a model with
#: ``mlflow.pyfunc`` and predicting need (mlflow 2.x and 3.x: ``numpy<3``, ``pandas<3``).
MLFLOW_DATA_PACKAGES = ("numpy<3", "pandas<3")


def _skinny_conda(data: dict[str, Any]) -> dict[str, Any]:
    entries = data.get("dependencies") or []
    listed = [_name(str(e).replace("=", "==", 1)) for e in entries if not isinstance(e, dict)]
    dependencies = []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("pip"), list):
            entry = {**entry, "pip": _skinny_pip([str(item) for item in entry["pip"]], listed)}
        dependencies.append(entry)
    return {**data, "dependencies": dependencies}


def _skinny_pip(lines: list[str], listed: Sequence[str | None]) -> list[str]:
    """``lines`` with mlflow as mlflow-skinny and, when there was mlflow, the data packages
    it would have brought that neither ``lines`` nor ``listed`` (conda packages) name."""
    skinny = [_skinny(line) for line in lines]
    if skinny == lines:
        return lines
    names = {*listed, *(_name(line) for line in lines)}
    return skinny + [extra for extra in MLFLOW_DATA_PACKAGES if _name(extra) not in names]


def _name(line: str) -> str | None:
    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement:
        return None


def _skinny(line: str) -> str:
    """``mlflow==2.9.2`` -> ``mlflow-skinny==2.9.2`` (extras dropped); other lines as given."""
    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        return line
    if canonicalize_name(requirement.name) != "mlflow" or requirement.url:
        return line
    marker = f" ; {requirement.marker}" if requirement.marker else ""
    return f"mlflow-skinny{requirement.specifier}{marker}"


async def no_code_environment(
    spec: DeploymentSpec, model_dir: Path, *, log: Callable[[str], Awaitable[None]]
) -> EnvironmentSpec | None:
    """The environment of a no-code MLflow deployment: the deployment's own when it gives
    one, else the model's (``ValidationError`` when its model has no MLmodel)."""
    folder = mlflow_folder(model_dir)
    await log(msg.MLFLOW_NO_CODE.format(folder=folder))
    if spec.environment is not None:
        return spec.environment
    environment = model_environment(folder)
    source = "conda.yaml" if (folder / "conda.yaml").is_file() else "requirements.txt"
    await log(msg.MLFLOW_MODEL_ENVIRONMENT.format(source=folder / source))
    return environment
