"""Conda files read as pip requirements: spec forms, PyPI twins, pins, errors and content hashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deploy.errors import SpecError
from deploy.local.environments.conda import conda_specifier, parse_conda_file, python_pin_satisfied
from deploy.local.environments.prepare import check_environment, environment_key
from deploy.local.environments.pypi_twins import pypi_twin
from deploy.local.environments.venvs import BaseInterpreter
from deploy.specs import load_deployment_spec
from deploy.types import EnvironmentSpec, from_json, to_json

CONDA: dict[str, Any] = {
    "name": "recommender-env",
    "channels": ["conda-forge", "defaults"],
    "dependencies": [
        "python=3.10",
        "numpy=1.26",
        "conda-forge::scikit-learn==1.4.2=py310h1128e8f_0",
        "pytorch>=2.1",
        "py-xgboost 2.0 cpu_py310",
        "pip",
        "cpuonly",
        {
            "pip": [
                "joblib>=1.3",
                "azureml-inference-server-http",
                "Inference_Schema[numpy-support]",
            ]
        },
    ],
}

BASE = BaseInterpreter(
    executable="/opt/py/bin/python", prefix="/opt/py", version="3.11.7", site_dirs=()
)


# ---------------------------------------------------------------- parsing


def test_pip_entries_and_conda_twins_become_normalized_requirements() -> None:
    env = parse_conda_file(CONDA)
    assert env.requirements == (
        "azureml-inference-server-http",
        "inference-schema[numpy-support]",
        "joblib>=1.3",
        "numpy==1.26.*",
        "scikit-learn==1.4.2",
        "torch>=2.1",
        "xgboost==2.0.*",
    )
    assert env.python_pin == "==3.10.*"
    notes = "\n".join(env.notes)
    assert "channels ignored (conda-forge, defaults)" in notes
    assert "pytorch as torch" in notes
    assert "py-xgboost as xgboost" in notes
    assert "cpuonly" in notes


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("numpy", ("numpy", "")),
        ("numpy=1.26", ("numpy", "==1.26.*")),
        ("numpy=1.26.*", ("numpy", "==1.26.*")),
        ("numpy==1.26.4", ("numpy", "==1.26.4")),
        ("numpy>=1.20,<2", ("numpy", ">=1.20,<2")),
        ("numpy >=1.20", ("numpy", ">=1.20")),
        ("numpy 1.26 py311_0", ("numpy", "==1.26.*")),
        ("numpy=1.26.4=py311h64a7726_0", ("numpy", "==1.26.4.*")),
        ("conda-forge::numpy", ("numpy", "")),
    ],
)
def test_conda_match_specs_as_pip_specifiers(entry: str, expected: tuple[str, str]) -> None:
    assert conda_specifier(entry) == expected


@pytest.mark.parametrize(
    ("conda", "pypi"),
    [
        ("numpy", "numpy"),
        ("scikit-learn", "scikit-learn"),
        ("scikit_learn", "scikit-learn"),
        ("pytorch", "torch"),
        ("py-xgboost", "xgboost"),
        ("py-opencv", "opencv-python-headless"),
        ("msgpack-python", "msgpack"),
        ("cudatoolkit", None),
        ("mkl", None),
        ("libgcc-ng", None),
    ],
)
def test_twin_table(conda: str, pypi: str | None) -> None:
    assert pypi_twin(conda) == pypi


def test_conda_only_packages_are_an_error_naming_each_once() -> None:
    data = {"dependencies": ["numpy", "cudatoolkit=11.8", "mkl", "mkl=2023", {"pip": ["joblib"]}]}
    with pytest.raises(SpecError) as caught:
        parse_conda_file(data)
    message = str(caught.value)
    assert message.startswith("environment.conda_file: ")
    assert "cudatoolkit, mkl:" in message
    assert "conda-only" in message
    assert "numpy" not in message


def test_python_and_pip_are_not_requirements() -> None:
    env = parse_conda_file({"dependencies": ["python>=3.9", "pip=23.0"]})
    assert env.requirements == ()
    assert env.python_pin == ">=3.9"


@pytest.mark.parametrize(
    ("pin", "version", "ok"),
    [
        (None, "3.11.7", True),
        ("==3.11.*", "3.11.7", True),
        ("==3.10.*", "3.11.7", False),
        (">=3.9", "3.11.7", True),
        (">=3.12", "3.11.7", False),
        ("==3.11.7.*", "3.11.7", True),
    ],
)
def test_python_pin(pin: str | None, version: str, ok: bool) -> None:
    assert python_pin_satisfied(pin, version) is ok


def test_pip_options_are_kept_and_file_options_refused() -> None:
    env = parse_conda_file(
        {"dependencies": [{"pip": ["--extra-index-url https://example.test/simple", "--pre", "x"]}]}
    )
    assert env.pip_options == ("--extra-index-url", "https://example.test/simple", "--pre")
    assert env.requirements == ("x",)
    with pytest.raises(SpecError, match="'-r requirements.txt' refers to a file"):
        parse_conda_file({"dependencies": [{"pip": ["-r requirements.txt"]}]})
    with pytest.raises(SpecError, match="option '--user' is not supported"):
        parse_conda_file({"dependencies": [{"pip": ["--user"]}]})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (["numpy"], "expected a conda environment"),
        ({"dependencies": "numpy"}, "dependencies: expected a list"),
        ({"dependencies": [{"pip": "joblib"}]}, "pip: expected a list"),
        ({"dependencies": [{"pip": ["not a requirement!"]}]}, "is not a valid requirement"),
        ({"dependencies": ["numpy[version='>=1.2']"]}, "bracketed match spec"),
        ({"dependencies": ["numpy 1.2|1.3"]}, "an 'or'"),
        ({"dependencies": ["numpy=>>1"]}, "is not a conda package spec"),
        ({"dependencies": [{"conda": ["x"]}]}, "is not a conda package spec"),
    ],
)
def test_invalid_conda_files_name_what_is_wrong(data: Any, reason: str) -> None:
    with pytest.raises(SpecError, match=reason):
        parse_conda_file(data)


def test_check_environment_parses_only_conda_files() -> None:
    assert check_environment(None) is None
    assert check_environment(EnvironmentSpec(registered="recommendation-env:1")) is None
    assert check_environment(EnvironmentSpec(image="mcr.microsoft.com/azureml/x:latest")) is None
    conda = check_environment(EnvironmentSpec(conda_file={"dependencies": ["numpy"]}))
    assert conda is not None
    assert conda.requirements == ("numpy",)


# ---------------------------------------------------------------- hashing


def test_equal_environments_hash_alike_whatever_their_spelling() -> None:
    one = parse_conda_file({"dependencies": ["numpy", "scikit-learn", {"pip": ["joblib"]}]})
    two = parse_conda_file(
        {
            "name": "other",
            "channels": ["defaults"],
            "dependencies": ["python=3.11", "pip", {"pip": ["Joblib", "scikit_learn", "NumPy"]}],
        }
    )
    assert environment_key(one, BASE) == environment_key(two, BASE)


def test_the_hash_changes_with_requirements_python_and_interpreter() -> None:
    env = parse_conda_file({"dependencies": ["numpy", {"pip": ["joblib"]}]})
    key = environment_key(env, BASE)
    assert len(key) == 16
    others = {
        environment_key(parse_conda_file({"dependencies": ["numpy=1.26"]}), BASE),
        environment_key(env, BaseInterpreter(**{**BASE.__dict__, "version": "3.12.1"})),
        environment_key(
            env, BaseInterpreter(**{**BASE.__dict__, "executable": "/srv/venv/bin/python"})
        ),
        environment_key(
            parse_conda_file({"dependencies": ["numpy", {"pip": ["joblib", "--pre"]}]}), BASE
        ),
    }
    assert key not in others
    assert len(others) == 4


# ---------------------------------------------------------------- from the deployment YAML

ENV_FILE = """\
name: recommender-env
channels: [conda-forge]
dependencies:
  - python=3.11
  - scikit-learn
  - pip
  - pip:
    - joblib
"""

DEPLOYMENT = """\
name: blue
endpoint_name: product-recommender
code_configuration:
  code: src
  scoring_script: score.py
instance_type: Standard_DS3_v2
instance_count: 1
environment:
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
  conda_file: {conda}
"""


@pytest.fixture
def deployment_dir(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text("def init():\n    pass\n")
    (tmp_path / "env.yml").write_text(ENV_FILE)
    return tmp_path


def test_conda_file_by_path_and_inline_reach_the_spec_alike(deployment_dir: Path) -> None:
    by_path = deployment_dir / "by-path.yml"
    by_path.write_text(DEPLOYMENT.format(conda="env.yml"))
    inline = deployment_dir / "inline.yml"
    indented = "\n" + "".join(f"    {line}\n" for line in ENV_FILE.splitlines())
    inline.write_text(DEPLOYMENT.format(conda=indented))
    from_path = load_deployment_spec(by_path).environment
    from_inline = load_deployment_spec(inline).environment
    assert from_path is not None
    assert from_path == from_inline
    assert from_path.conda_file is not None
    assert from_path.conda_file["dependencies"][-1] == {"pip": ["joblib"]}
    # The control API's wire keeps it as is.
    assert from_json(EnvironmentSpec, to_json(from_path)) == from_path
    conda = check_environment(from_path)
    assert conda is not None
    assert conda.requirements == ("joblib", "scikit-learn")


def test_a_conda_file_that_is_not_a_mapping_is_a_spec_error(deployment_dir: Path) -> None:
    (deployment_dir / "list.yml").write_text("- numpy\n- scipy\n")
    spec_file = deployment_dir / "deployment.yml"
    spec_file.write_text(DEPLOYMENT.format(conda="list.yml"))
    with pytest.raises(SpecError, match=r"environment\.conda_file: expected a conda environment"):
        load_deployment_spec(spec_file)


def test_a_missing_conda_file_is_a_spec_error(deployment_dir: Path) -> None:
    spec_file = deployment_dir / "deployment.yml"
    spec_file.write_text(DEPLOYMENT.format(conda="nope.yml"))
    with pytest.raises(SpecError, match="nope.yml' does not exist"):
        load_deployment_spec(spec_file)
