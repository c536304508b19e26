"""The config file and the environment, read once into typed settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import SlackSecrets, load_settings
from bot.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flightdeck.yml"
    path.write_text(text)
    return path


def test_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
backend: {name: azure, subscription_id: sub, resource_group: rg, workspace: ws}
access:
  deployers: [U0123ABCD, "@ml-platform", C0456EFGH]
  approvers: [U0456EFGH, S0789]
  allow_self_approval: true
approvals: {expiry_minutes: 10}
specs: {folder: specs}
alerts: {poll_interval: 60}
loadtest: {max_duration: 2m}
""",
    )
    env = {"FLIGHTDECK_HOME": str(tmp_path / "home"), "FLIGHTDECK_DATABASE_URL": "sqlite://"}
    settings = load_settings(path, env)
    assert settings.backend.name == "azure"
    assert settings.backend.options == {
        "subscription_id": "sub",
        "resource_group": "rg",
        "workspace": "ws",
    }
    assert settings.access is not None
    assert settings.access.deployers == ("U0123ABCD", "@ml-platform", "C0456EFGH")
    assert settings.access.allow_self_approval is True
    assert settings.approvals.expiry_minutes == 10
    assert settings.specs.folder == (tmp_path / "specs").resolve()
    assert settings.alerts == {"poll_interval": 60}
    assert settings.loadtest.max_duration == 120.0  # seconds, read in the one duration grammar
    assert settings.database() == "sqlite://"
    assert settings.home == tmp_path / "home"


def test_no_file_means_defaults_and_no_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {"FLIGHTDECK_HOME": str(tmp_path)})
    assert settings.access is None
    assert settings.backend.name == "local"
    assert settings.approvals.expiry_minutes == 30
    assert settings.database() == f"sqlite:///{tmp_path / 'bot.db'}"


def test_file_from_the_environment_then_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.yml"
    other.write_text("approvals: {expiry_minutes: 5}\n")
    write(tmp_path, "approvals: {expiry_minutes: 7}\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings(None, {"FLIGHTDECK_CONFIG": str(other)}).approvals.expiry_minutes == 5
    assert load_settings(None, {}).approvals.expiry_minutes == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("access: {deployers: [alice]}", "access.deployers: 'alice' is not a Slack user ID"),
        ("access: {approvers: U0123}", "access.approvers"),
        ("approvals: {expiry_minutes: 0}", "approvals.expiry_minutes"),
        ("loadtest: {max_duration: 5 mins}", "loadtest.max_duration: '5 mins' is not a duration"),
        ("loadtest: {max_duration: 0s}", "loadtest.max_duration: Input should be greater than 0"),
        ("acess: {deployers: []}", "acess: Extra inputs are not permitted"),
        ("database_url: postgresql://u:p@h/db", "database_url: is read from the environment"),
        ("access: [", "invalid YAML ("),
        ("- just a list", "expected a mapping"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yml", {})


def test_secrets_come_from_the_environment_and_stay_out_of_repr() -> None:
    secrets = SlackSecrets.from_environ(
        {
            "SLACK_BOT_TOKEN": "xoxb-secret-1",
            "SLACK_SIGNING_SECRET": "signing-secret-2",
            "SLACK_APP_TOKEN": "xapp-secret-3",
            "SLACK_API_URL": "http://127.0.0.1:1/api/",
        }
    )
    assert secrets.bot_token == "xoxb-secret-1"
    assert secrets.api_url == "http://127.0.0.1:1/api/"
    shown = repr(secrets)
    assert "secret-1" not in shown and "secret-2" not in shown and "secret-3" not in shown
