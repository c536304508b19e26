"""The environment of a no-code MLflow model: ``mlflow`` becomes ``mlflow-skinny``, and the
data packages full mlflow brings (numpy, pandas) are added where the model does not list
them, as azureml-examples' ncd sample's conda.yaml (only ``mlflow``, no pandas) needs."""

from __future__ import annotations

from pathlib import Path

from deploy.local.environments.mlflow_model import model_environment


def _pip(env_dependencies: list[object]) -> list[str]:
    (pip,) = (entry["pip"] for entry in env_dependencies if isinstance(entry, dict))
    return list(pip)


def test_a_conda_yaml_with_only_mlflow_gets_numpy_and_pandas(tmp_path: Path) -> None:
    (tmp_path / "conda.yaml").write_text(
        "dependencies:\n- python=3.12\n- pip\n- pip:\n  - mlflow\n  - scikit-learn==1.7.0\n"
        "  - numpy==2.3.1\n"
    )
    conda = model_environment(tmp_path).conda_file
    assert isinstance(conda, dict)
    assert _pip(conda["dependencies"]) == [
        "mlflow-skinny",
        "scikit-learn==1.7.0",
        "numpy==2.3.1",  # the model's pin holds
        "pandas<3",
    ]


def test_a_conda_package_counts_as_listed(tmp_path: Path) -> None:
    (tmp_path / "conda.yaml").write_text(
        "dependencies:\n- pandas=1.5.3\n- pip:\n  - mlflow==2.9.2\n"
    )
    conda = model_environment(tmp_path).conda_file
    assert isinstance(conda, dict)
    assert _pip(conda["dependencies"]) == ["mlflow-skinny==2.9.2", "numpy<3"]


def test_requirements_txt_gets_them_and_no_mlflow_gets_nothing(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("mlflow==2.9.2\npandas==2.1.4\n")
    conda = model_environment(tmp_path).conda_file
    assert isinstance(conda, dict)
    assert _pip(conda["dependencies"]) == ["mlflow-skinny==2.9.2", "pandas==2.1.4", "numpy<3"]
    (tmp_path / "requirements.txt").write_text("scikit-learn\n")
    conda = model_environment(tmp_path).conda_file
    assert isinstance(conda, dict)
    assert _pip(conda["dependencies"]) == ["scikit-learn"]
