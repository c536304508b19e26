"""What ``/deploy``, ``/scale`` and ``/logs`` use."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.approvals.flow import ApprovalDesk
from bot.config import ApprovalSettings
from bot.policy.access import AccessPolicy
from bot.slack_io import SlackIO
from deploy.backend import Backend
from rollouts import LockStore, RolloutStore

__all__ = ["DeploymentDeps"]


@dataclass(frozen=True, kw_only=True)
class DeploymentDeps:
    """The platform, Slack, the checks a write passes (access, lock, rollout), and the
    approvals a deploy onto a live deployment goes through."""

    backend: Backend
    slack: SlackIO
    access: AccessPolicy
    locks: LockStore
    rollout_store: RolloutStore
    #: The folder ``/deploy --spec`` reads (``None``: no specs configured).
    spec_folder: Path | None
    #: Seconds between two updates of a progress message.
    progress_interval: float
    #: Where a deploy onto a live deployment is posted for approval.
    desk: ApprovalDesk
    #: ``deploy_live_for(endpoint)``: require, refuse or allow such a deploy.
    approvals: ApprovalSettings
