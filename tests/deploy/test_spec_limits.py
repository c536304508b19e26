"""Spec files refused up front, in one line: too big (before parsing), a scoring script outside
its code folder, a model path or code folder that is a system folder or unreadable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deploy.errors import SpecError
from deploy.specs import MAX_SPEC_BYTES, load_deployment_spec, load_endpoint_spec
from tests.support.seed import seed_deployment_yaml


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    (tmp_path / "deployment.yml").write_text(seed_deployment_yaml())
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text("def init():\n    pass\n")
    return tmp_path


def one_line(error: pytest.ExceptionInfo[SpecError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_spec_over_the_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "huge.yml"
    # Not even valid YAML past the first line: parsing it would give a syntax error instead.
    big.write_bytes(b"name: x\n" + b"[" * MAX_SPEC_BYTES)
    with pytest.raises(SpecError) as info:
        load_endpoint_spec(big)
    message = one_line(info)
    assert message.startswith(f"{big}: ")
    assert "over the 1 MiB cap" in message


def test_a_spec_at_the_cap_loads(tmp_path: Path) -> None:
    file = tmp_path / "endpoint.yml"
    text = "name: product-recommender\nauth_mode: key\n"
    file.write_text(text + "#" * (MAX_SPEC_BYTES - len(text) - 1) + "\n")
    assert load_endpoint_spec(file).name == "product-recommender"


def test_scoring_script_outside_the_code_folder_is_refused(seed_dir: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_deployment_spec(
            seed_dir / "deployment.yml",
            overrides=["code_configuration.scoring_script=../../../../etc/passwd"],
        )
    message = one_line(info)
    assert "code_configuration.scoring_script" in message
    assert "outside the code folder" in message


@pytest.mark.parametrize("path", ["/proc", "/etc", "/", "/dev/null", "/sys/kernel"])
def test_model_path_in_a_system_folder_is_refused(seed_dir: Path, path: str) -> None:
    with pytest.raises(SpecError) as info:
        load_deployment_spec(seed_dir / "deployment.yml", overrides=[f"model={{path: {path}}}"])
    message = one_line(info)
    assert "model.path" in message and "system folder" in message


def test_code_folder_at_the_root_is_refused(seed_dir: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_deployment_spec(
            seed_dir / "deployment.yml",
            overrides=["code_configuration.code=/", "code_configuration.scoring_script=etc/hosts"],
        )
    assert "system folder" in one_line(info)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_model_path_is_refused(seed_dir: Path) -> None:
    model = seed_dir / "model.pkl"
    model.write_bytes(b"x")
    model.chmod(0)
    with pytest.raises(SpecError) as info:
        load_deployment_spec(seed_dir / "deployment.yml", overrides=[f"model={{path: {model}}}"])
    assert "not readable by you" in one_line(info)


def test_a_model_file_inside_the_project_loads(seed_dir: Path) -> None:
    (seed_dir / "model.pkl").write_bytes(b"x")
    spec = load_deployment_spec(seed_dir / "deployment.yml", overrides=["model={path: model.pkl}"])
    assert spec.model is not None and spec.model.path == str(seed_dir / "model.pkl")
