"""Everything the listeners use, built once and passed to each package's ``register``.

services = Services.create(settings=settings, backend=backend, client=client)
engine = build_engine(services)
app = build_app(services=services, rollouts=engine, signing_secret=...)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from alerts.settings import AlertSettings, parse_alert_settings
from alerts.store import AlertStore
from base.clock import utc_now
from base.db import Database
from base.migrations import upgrade
from bot.approvals.store import ApprovalStore
from bot.config import Settings
from bot.deliveries import DeliveryLog
from bot.loadtests.runs import LoadTestRuns
from bot.policy.access import AccessPolicy, Directory, SlackDirectory
from bot.policy.audit import AuditLog
from bot.policy.history import TrafficHistoryStore
from bot.slack_io import SlackIO
from bot.tasks import BackgroundTasks
from deploy.backend import Backend
from rollouts import LockStore, RolloutStore

__all__ = ["Services"]


@dataclass(frozen=True, kw_only=True)
class Services:
    """The bot's collaborators, from which ``bot.app`` builds each feature's dependencies
    (never changed once built)."""

    settings: Settings
    backend: Backend
    db: Database
    slack: SlackIO
    access: AccessPolicy
    audit: AuditLog
    approvals: ApprovalStore
    history: TrafficHistoryStore
    deliveries: DeliveryLog
    tasks: BackgroundTasks
    clock: Callable[[], datetime]
    alert_store: AlertStore
    #: ``None`` when the config has no ``alerts:`` section (alerts off).
    alert_settings: AlertSettings | None = None
    #: Seconds between two updates of a progress message.
    progress_interval: float = 1.0
    #: Load tests running now (for their Cancel buttons).
    loadtests: LoadTestRuns = field(default_factory=LoadTestRuns)
    #: Endpoint locks and rollouts, in the bot's database.
    locks: LockStore
    rollout_store: RolloutStore

    @classmethod
    def create(
        cls,
        *,
        settings: Settings,
        backend: Backend,
        client: AsyncWebClient,
        db: Database | None = None,
        clock: Callable[[], datetime] = utc_now,
        directory: Directory | None = None,
        progress_interval: float = 1.0,
    ) -> Services:
        """Wire the collaborators; the database is upgraded to the newest schema first.

        The ``alerts:`` section is read here: ``AlertConfigError`` naming the key.
        """
        alert_settings = parse_alert_settings(settings.alerts, source=settings.source)
        database = db or Database(url=settings.database())
        upgrade(database.engine)
        engine = database.engine
        alert_store = AlertStore(engine=engine, clock=clock)
        rollout_store = RolloutStore(engine=engine, clock=clock)
        deliveries = DeliveryLog(engine=engine, clock=clock)
        return cls(
            settings=settings,
            backend=backend,
            db=database,
            slack=SlackIO(client=client, once=deliveries),
            access=AccessPolicy(
                settings=settings.access, directory=directory or SlackDirectory(client=client)
            ),
            audit=AuditLog(engine=engine, clock=clock),
            approvals=ApprovalStore(engine=engine, clock=clock),
            history=TrafficHistoryStore(engine=engine, clock=clock),
            deliveries=deliveries,
            tasks=BackgroundTasks(),
            clock=clock,
            alert_store=alert_store,
            alert_settings=alert_settings,
            progress_interval=progress_interval,
            locks=LockStore(engine=engine, clock=clock),
            rollout_store=rollout_store,
        )
