"""Settings: the YAML config file, read once at start into typed settings, plus the environment.

The file is ``--config``, else ``$FLIGHTDECK_CONFIG``, else ``./flightdeck.yml`` when it
exists (no file: the defaults, and no access policy). Secrets never come from the
file: Slack tokens and the signing secret are read from the environment
(``SlackSecrets``), and so is ``FLIGHTDECK_DATABASE_URL`` (it may hold a password).

    settings = load_settings(args.config, os.environ)
    settings.access.deployers            # ['U0123ABCD', '@ml-platform']

Keys (every one optional)::

    backend:   {name: local, <options passed to the backend>}
    access:    {deployers: [...], approvers: [...], allow_self_approval: false}
    approvals: {expiry_minutes: 30,
                deploy_live: require,    # require | refuse | allow: /deploy onto a deployment
                                         # that takes live (or mirrored) traffic
                endpoints: {product-recommender: {deploy_live: allow}}}   # per endpoint
    specs:     {folder: specs/}          # relative to the config file
    alerts:    {...}                     # read by alerts/ (its own keys)
    loadtest:  {max_requests: 100000, max_duration: 5m, max_rate: 10000, max_concurrency: 256,
                progress_seconds: 3}     # max_duration: base.durations (a bare number: seconds)
    capacity:  {headroom: 30%, step: 10s, start_rate: 10}   # /capacity, flightdeck capacity
    pricing:   {currency: USD, Standard_DS3_v2: 0.293, ...}  # per instance and hour; over the
                                         # built-in table (capacity.DEFAULT_PRICES: its date
                                         # and source); another currency replaces it
    rollouts:  {steps: [10, 25, 50, 100], interval: 5m, min_interval: 1m, max_p99: 500,
                max_error_rate: 1, min_requests: 100, threshold: 2, tick: 5s, max_load_rate: 50}
    console:   {channel: C0CONSOLE, channel_name: flightdeck, users: [{id, name}],
                usergroups: {"@handle": [user ids]}, channels: {C0123: [user ids]}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from alerts.settings import CHANNEL_ID
from base.durations import parse_duration
from bot import messages
from bot.errors import ConfigError
from capacity import PriceTable
from rollouts import RolloutSettings

__all__ = [
    "AccessSettings",
    "ApprovalSettings",
    "BackendSettings",
    "CapacitySettings",
    "ConsoleSettings",
    "ConsoleUser",
    "DeployLive",
    "EndpointApprovals",
    "LoadTestSettings",
    "PricingSettings",
    "Settings",
    "SlackSecrets",
    "SpecsSettings",
    "load_settings",
]

CONFIG_ENV = "FLIGHTDECK_CONFIG"
DEFAULT_CONFIG = Path("flightdeck.yml")
DATABASE_ENV = "FLIGHTDECK_DATABASE_URL"
HOME_ENV = "FLIGHTDECK_HOME"

#: A policy entry: "*", a user (U/W...), a user group handle (@name) or id (S...), a channel.
ENTRY = re.compile(r"^(\*|[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|[CG][A-Z0-9]{2,}|@[a-z0-9._-]+)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _seconds(value: Any) -> float:
    return parse_duration(value).total_seconds()


#: A duration in the one grammar (``5m``, ``90s``; a bare number is seconds), kept as seconds.
Seconds = Annotated[float, BeforeValidator(_seconds)]


class BackendSettings(_Strict):
    """Which backend, and its options (every key beside ``name``)."""

    name: str = "local"
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data}
        if isinstance(data, Mapping) and "options" not in data:
            rest = {k: v for k, v in data.items() if k != "name"}
            return {"name": data.get("name", "local"), "options": rest}
        return data


class AccessSettings(_Strict):
    """Who may do what: Slack user ids, ``@handle`` user groups, channel ids (members), ``*``."""

    deployers: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    allow_self_approval: bool = False

    @field_validator("deployers", "approvers")
    @classmethod
    def _entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not ENTRY.match(entry):
                raise ValueError(messages.CONFIG_BAD_ENTRY.format(entry=entry))
        return value


#: What ``/deploy`` does onto a deployment that takes live (or mirrored) traffic: post it for
#: an approver's click (``require``), refuse it with the blue/green way (``refuse``), or
#: deploy at once (``allow``).
DeployLive = Literal["require", "refuse", "allow"]


class EndpointApprovals(_Strict):
    """One endpoint's own approval policy (unset keys: the ``approvals`` defaults)."""

    deploy_live: DeployLive | None = None


class ApprovalSettings(_Strict):
    """Approval requests expire after ``expiry_minutes``; ``deploy_live`` is the policy for a
    deploy onto a live deployment, ``endpoints`` overrides it per endpoint (names compared in
    lower case, as Azure ML compares endpoint names)."""

    expiry_minutes: float = Field(default=30, gt=0, le=7 * 24 * 60)
    deploy_live: DeployLive = "require"
    endpoints: dict[str, EndpointApprovals] = Field(default_factory=dict)

    def deploy_live_for(self, endpoint: str) -> DeployLive:
        """The policy for a deploy onto a live deployment of ``endpoint``."""
        wanted = endpoint.lower()
        for name, own in self.endpoints.items():
            if name.lower() == wanted and own.deploy_live is not None:
                return own.deploy_live
        return self.deploy_live


class SpecsSettings(_Strict):
    """The folder ``/deploy --spec`` reads deployment YAML files from."""

    folder: Path | None = None


class LoadTestSettings(_Strict):
    """Caps on every load test (``/loadtest``, ``flightdeck loadtest``), and how often
    ``/loadtest`` updates its progress message."""

    max_requests: int = Field(default=100_000, gt=0)
    max_duration: Seconds = Field(default=300.0, gt=0)
    max_rate: float = Field(default=10_000.0, gt=0)
    max_concurrency: int = Field(default=256, gt=0)
    progress_seconds: float = Field(default=3.0, gt=0)


def _percent(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        return float(value.strip().removesuffix("%")) / 100
    return value


class CapacitySettings(_Strict):
    """``/capacity`` and ``flightdeck capacity``: the headroom of a recommendation (``30%`` or
    0.3), the default step length and the ramp's first rate (req/s)."""

    headroom: Annotated[float, BeforeValidator(_percent)] = Field(default=0.3, ge=0, le=5)
    step: Seconds = Field(default=10.0, gt=0)
    start_rate: float = Field(default=10.0, gt=0)


class PricingSettings(_Strict):
    """Prices per instance and hour, over the built-in table (``capacity.DEFAULT_PRICES``,
    which states its date and source). Written flat, as in ``{Standard_DS3_v2: 0.293}``, with
    optional ``currency``, ``source`` and ``as_of``; another currency than the table's drops
    the built-in prices. Never fetched at run time."""

    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    source: str | None = None
    as_of: str | None = None
    per_hour: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "per_hour" not in data:
            named = {k: data[k] for k in ("currency", "source", "as_of") if k in data}
            rest = {k: v for k, v in data.items() if k not in named}
            return {**named, "per_hour": rest}
        return data

    def table(self) -> PriceTable:
        """The built-in table with these prices over it."""
        return PriceTable.default().with_overrides(
            self.per_hour, currency=self.currency, source=self.source, as_of=self.as_of
        )


class ConsoleUser(_Strict):
    """A user the console can act as."""

    id: str = Field(pattern=r"^[UW][A-Z0-9]{2,}$")
    name: str = Field(pattern=r"^[a-z0-9._-]+$")


class ConsoleSettings(_Strict):
    """The offline console: its channel, its users, and the directory its Slack stand-in serves."""

    channel: str = Field(default="C0CONSOLE", pattern=CHANNEL_ID.pattern)
    channel_name: str = "flightdeck"
    users: tuple[ConsoleUser, ...] = (ConsoleUser(id="U0CONSOLE", name="you"),)
    usergroups: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    channels: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class Settings(_Strict):
    """Everything the bot reads at start."""

    backend: BackendSettings = BackendSettings()
    access: AccessSettings | None = None
    approvals: ApprovalSettings = ApprovalSettings()
    specs: SpecsSettings = SpecsSettings()
    #: Read by alerts/; kept as given here.
    alerts: dict[str, Any] | None = None
    console: ConsoleSettings = ConsoleSettings()
    loadtest: LoadTestSettings = LoadTestSettings()
    capacity: CapacitySettings = CapacitySettings()
    pricing: PricingSettings = PricingSettings()
    rollouts: RolloutSettings = RolloutSettings()
    #: From the environment only.
    home: Path = Path("~/.flightdeck").expanduser()
    database_url: str | None = None
    source: Path | None = None

    def database(self) -> str:
        """The SQLAlchemy URL: ``FLIGHTDECK_DATABASE_URL``, else SQLite in the home folder."""
        return self.database_url or f"sqlite:///{self.home / 'bot.db'}"


class SlackSecrets(_Strict):
    """Slack credentials and endpoints from the environment. ``repr`` hides the secrets."""

    bot_token: str | None = Field(default=None, repr=False)
    signing_secret: str | None = Field(default=None, repr=False)
    app_token: str | None = Field(default=None, repr=False)
    api_url: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SlackSecrets:
        """``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET``, ``SLACK_APP_TOKEN``, ``SLACK_API_URL``."""
        return cls(
            bot_token=environ.get("SLACK_BOT_TOKEN") or None,
            signing_secret=environ.get("SLACK_SIGNING_SECRET") or None,
            app_token=environ.get("SLACK_APP_TOKEN") or None,
            api_url=environ.get("SLACK_API_URL") or None,
        )


def config_path(explicit: str | Path | None, environ: Mapping[str, str]) -> Path | None:
    """The file: ``--config``, ``$FLIGHTDECK_CONFIG``, or ``./flightdeck.yml`` if present."""
    if explicit:
        return Path(explicit)
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def load_settings(explicit: str | Path | None, environ: Mapping[str, str]) -> Settings:
    """Read the config file (if any) and the environment; ``ConfigError`` naming what is wrong."""
    path = config_path(explicit, environ)
    data: dict[str, Any] = {}
    if path is not None:
        data = _read(path)
        specs = data.get("specs")
        if isinstance(specs, dict) and isinstance(specs.get("folder"), str):
            specs["folder"] = str((path.resolve().parent / specs["folder"]).resolve())
    home = Path(environ.get(HOME_ENV) or "~/.flightdeck").expanduser()
    data.update(
        home=home,
        database_url=environ.get(DATABASE_ENV) or None,
        source=path.resolve() if path else None,
    )
    try:
        return Settings.model_validate(data)
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or None
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(_where(path, key) + reason) from None


def _where(path: Path | None, key: str | None) -> str:
    prefix = f"{path}: " if path else ""
    return prefix + (f"{key}: " if key else "")


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(messages.CONFIG_NOT_FOUND.format(path=path)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        what = f" ({problem})" if problem else ""
        raise ConfigError(f"{path}: {messages.CONFIG_BAD_YAML}{what}{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {messages.CONFIG_NOT_MAPPING}")
    for key in ("home", "database_url", "source"):
        if key in data:
            raise ConfigError(f"{path}: {key}: {messages.CONFIG_FROM_ENV}")
    return data
