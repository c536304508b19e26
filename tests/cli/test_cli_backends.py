"""Which backend a verb uses, with which settings: flags, then the environment, then the config
file's ``backend:`` options (when it names the chosen backend)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cli.backends import backend_options, merge_settings, resolve_backend
from deploy.errors import ValidationError
from deploy.registry import create_backend
from tests.support.flightdeck_cli import run_cli

AZURE_CONFIG = """
backend:
  name: azure
  subscription_id: sub-config
  resource_group: rg-config
  workspace_name: mlw-config
  log_analytics_workspace_id: la-config
  operation_timeout: 60
"""
NO_AZURE = {
    "AZURE_SUBSCRIPTION_ID": "",
    "AZURE_RESOURCE_GROUP": "",
    "AZUREML_WORKSPACE_NAME": "",
    "AZURE_LOG_ANALYTICS_WORKSPACE_ID": "",
}


def parse(*argv: str) -> argparse.Namespace:
    """A verb built like the CLI's (``loadtest`` adds ``--config``, ``local`` adds ``--home``)."""
    parser = argparse.ArgumentParser(parents=[backend_options()])
    parser.add_argument("--config")
    parser.add_argument("--home")
    return parser.parse_args(list(argv))


@pytest.fixture
def azure_config(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "azure.yml"
    path.parent.mkdir()
    path.write_text(AZURE_CONFIG, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a folder without ./flightdeck.yml (unless a test writes one)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_flags_beat_the_environment_which_beats_the_config_file(azure_config: Path) -> None:
    environ = {"AZURE_RESOURCE_GROUP": "rg-env", "AZURE_LOG_ANALYTICS_WORKSPACE_ID": "la-env"}
    args = parse("--config", str(azure_config), "--workspace-name", "mlw-flag")
    name, settings = resolve_backend(args, environ)
    assert name == "azure"  # the config file's backend.name, as nothing else chose one
    assert settings == {
        "subscription_id": "sub-config",
        "resource_group": "rg-env",
        "workspace_name": "mlw-flag",
        "log_analytics_workspace_id": "la-env",
        "operation_timeout": 60,
    }
    every = parse(
        "--config", str(azure_config), "--subscription-id", "sub-flag",
        "--resource-group", "rg-flag", "--workspace-name", "mlw-flag",
    )  # fmt: skip
    _, settings = resolve_backend(every, {"AZURE_SUBSCRIPTION_ID": "sub-env"})
    assert (settings["subscription_id"], settings["resource_group"]) == ("sub-flag", "rg-flag")


def test_the_backend_is_chosen_by_flag_then_environment_then_config_file(
    azure_config: Path,
) -> None:
    config = ["--config", str(azure_config)]
    assert resolve_backend(parse(*config), {})[0] == "azure"
    assert resolve_backend(parse(*config), {"FLIGHTDECK_BACKEND": "local"})[0] == "local"
    flagged = parse(*config, "--backend", "local")
    assert resolve_backend(flagged, {"FLIGHTDECK_BACKEND": "azure"})[0] == "local"
    assert resolve_backend(parse(), {}) == ("local", {})


def test_config_options_of_another_backend_are_not_used(azure_config: Path) -> None:
    environ = {"FLIGHTDECK_HOME": "/srv/flightdeck"}
    name, settings = resolve_backend(
        parse("--config", str(azure_config), "--backend", "local"), environ
    )
    assert (name, settings) == ("local", {"home": "/srv/flightdeck"})
    _, flagged = resolve_backend(parse("--backend", "local", "--home", "/tmp/h"), environ)
    assert flagged == {"home": "/tmp/h"}
    # As az ml --local: the workspace flags are accepted and ignored by the local platform.
    assert resolve_backend(parse("--backend", "local", "--workspace-name", "mlw"), {}) == (
        "local",
        {},
    )


def test_the_config_file_comes_from_the_environment_or_the_working_folder(
    azure_config: Path, workdir: Path
) -> None:
    assert resolve_backend(parse(), {"FLIGHTDECK_CONFIG": str(azure_config)})[0] == "azure"
    assert resolve_backend(parse(), {})[0] == "local"
    (workdir / "flightdeck.yml").write_text(AZURE_CONFIG, encoding="utf-8")
    name, settings = resolve_backend(parse(), {})
    assert (name, settings["workspace_name"]) == ("azure", "mlw-config")


def test_merge_settings_without_a_config_file() -> None:
    assert merge_settings("azure", flags={}, environ={}) == {}
    merged = merge_settings(
        "azure",
        flags={"workspace_name": "w"},
        environ={"AZURE_SUBSCRIPTION_ID": "s", "FLIGHTDECK_HOME": "/h"},
        config_name="local",
        config_options={"home": "/config"},
    )
    assert merged == {"subscription_id": "s", "workspace_name": "w"}


def test_an_unknown_azure_setting_in_the_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "typo.yml"
    config.write_text(AZURE_CONFIG.replace("workspace_name:", "workspace:"), encoding="utf-8")
    name, settings = resolve_backend(parse("--config", str(config)), {})
    with pytest.raises(ValidationError, match="Unknown setting 'workspace'") as refused:
        create_backend(name, settings)
    assert "Did you mean 'workspace_name'?" in refused.value.message


def test_the_command_line_names_what_is_missing_or_unknown(tmp_path: Path) -> None:
    missing = run_cli(
        "online-endpoint", "list", "--backend", "azure", "--workspace-name", "mlw",
        home=tmp_path, env=NO_AZURE,
    )  # fmt: skip
    line = missing.error_line()
    assert "The azure backend needs subscription_id, resource_group" in line
    assert "AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP" in line

    config = tmp_path / "flightdeck.yml"
    config.write_text("backend:\n  name: azure\n  workspace: mlw\n", encoding="utf-8")
    typo = run_cli(
        "online-endpoint", "list", home=tmp_path, env={**NO_AZURE, "FLIGHTDECK_CONFIG": str(config)}
    )
    assert "Unknown setting 'workspace' of the azure backend" in typo.error_line()
