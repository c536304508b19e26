"""Flightdeck's autoscale policy as an Azure Monitor autoscale setting on a deployment.

Managed deployments take only default scale settings, so a ``target_utilization``
policy becomes an autoscale setting (azure-mgmt-monitor) whose target is the
deployment resource:

    AutoscalePolicy                      autoscale setting (one profile, enabled)
    min_instances / max_instances    ->  capacity.minimum / capacity.maximum
    (current count, within bounds)   ->  capacity.default
    target_utilization_percentage    ->  scale out by 1 when CpuUtilizationPercentage
                                         (average over the window) > target;
                                         scale in by 1 when < target / 2
    polling_interval                 ->  time window (Azure's minimum is 5 minutes) and
                                         scale-out cooldown (at least 1 minute)
    scale_down_delay                 ->  scale-in cooldown (at least 1 minute)
    metric utilization or cpu        ->  CPU either way: Azure has no in-flight metric

The policy itself is kept in the setting's ``flightdeck-policy`` tag, so it reads
back unchanged; a setting made elsewhere (the portal) is read from its profile.

A setting that already targets the deployment (made in the portal, by a template, by
another tool) is updated, not replaced: Flightdeck changes only its own profile (the one
named ``flightdeck-target-utilization``, else the default profile, the one without a
recurrence or fixed date): its capacity, and among its rules the CPU rules on this
deployment. Notifications (emails, webhooks), recurrence and fixed-date profiles, other
rules, ``predictiveAutoscalePolicy``, the setting's name, location and tags stay as they
are (the policy tag is added).

A policy is read from the profile in force now, as Azure Monitor chooses it: a
fixed-date profile whose window holds now, else the recurrence profile that started
last, else the default profile.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from azure.mgmt.monitor.models import (
    AutoscaleProfile,
    AutoscaleSettingResource,
    MetricTrigger,
    ScaleAction,
    ScaleCapacity,
    ScaleRule,
)

from base.clock import as_utc, utc_now
from deploy.types import AutoscalePolicy, from_json, to_json

__all__ = [
    "DEPLOYMENT_NAMESPACE",
    "METRIC",
    "POLICY_TAG",
    "PROFILE_NAME",
    "autoscale_resource",
    "owned_profile",
    "policy_from_resource",
    "profile_in_force",
    "setting_name",
    "targets",
]

METRIC = "CpuUtilizationPercentage"
DEPLOYMENT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
POLICY_TAG = "flightdeck-policy"
PROFILE_NAME = "flightdeck-target-utilization"
log = logging.getLogger(__name__)
#: Windows time zone names (what the portal writes) of common zones, as IANA names.
_WINDOWS_ZONES = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "w. europe standard time": "Europe/Berlin",
    "romance standard time": "Europe/Paris",
    "central europe standard time": "Europe/Budapest",
    "central european standard time": "Europe/Warsaw",
    "e. europe standard time": "Europe/Chisinau",
    "fle standard time": "Europe/Helsinki",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver",
    "pacific standard time": "America/Los_Angeles",
    "india standard time": "Asia/Kolkata",
    "china standard time": "Asia/Shanghai",
    "tokyo standard time": "Asia/Tokyo",
    "singapore standard time": "Asia/Singapore",
    "aus eastern standard time": "Australia/Sydney",
}
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MIN_WINDOW = timedelta(minutes=5)
_MIN_COOLDOWN = timedelta(minutes=1)


def setting_name(endpoint: str, deployment: str) -> str:
    """The name Flightdeck gives a deployment's autoscale setting."""
    return f"{endpoint}-{deployment}-autoscale"


def targets(resource: AutoscaleSettingResource, deployment_id: str) -> bool:
    """True when ``resource`` scales the deployment ``deployment_id``."""
    return (resource.target_resource_uri or "").lower() == deployment_id.lower()


def autoscale_resource(
    policy: AutoscalePolicy,
    *,
    deployment_id: str,
    location: str,
    name: str,
    current: int,
    existing: AutoscaleSettingResource | None = None,
) -> AutoscaleSettingResource:
    """The autoscale setting for ``policy`` on the deployment ``deployment_id``.

    With ``existing`` (the setting that targets the deployment now), that setting with
    only Flightdeck's profile changed; everything else in it is kept.
    """
    window = max(timedelta(seconds=policy.polling_interval), _MIN_WINDOW)
    out_cooldown = max(timedelta(seconds=policy.polling_interval), _MIN_COOLDOWN)
    in_cooldown = max(timedelta(seconds=policy.scale_down_delay), _MIN_COOLDOWN)

    def rule(direction: str, operator: str, threshold: float, cooldown: timedelta) -> ScaleRule:
        return ScaleRule(
            metric_trigger=MetricTrigger(
                metric_name=METRIC,
                metric_namespace=DEPLOYMENT_NAMESPACE,
                metric_resource_uri=deployment_id,
                time_grain=timedelta(minutes=1),
                statistic="Average",
                time_window=window,
                time_aggregation="Average",
                operator=operator,
                threshold=threshold,
            ),
            scale_action=ScaleAction(
                direction=direction, type="ChangeCount", value="1", cooldown=cooldown
            ),
        )

    target = float(policy.target_utilization_percentage)
    default = min(max(current, policy.min_instances), policy.max_instances)
    capacity = ScaleCapacity(
        minimum=str(policy.min_instances),
        maximum=str(policy.max_instances),
        default=str(default),
    )
    rules = [
        rule("Increase", "GreaterThan", target, out_cooldown),
        rule("Decrease", "LessThan", target / 2, in_cooldown),
    ]
    tag = json.dumps(to_json(policy), separators=(",", ":"))
    if existing is None:
        return AutoscaleSettingResource(
            location=location,
            profiles=[AutoscaleProfile(name=PROFILE_NAME, capacity=capacity, rules=rules)],
            enabled=True,
            name_properties_name=name,
            target_resource_uri=deployment_id,
            target_resource_location=location,
            tags={POLICY_TAG: tag},
        )
    resource = copy.deepcopy(existing)
    profiles = list(resource.profiles or [])
    mine = owned_profile(profiles)
    if mine is None:
        mine = AutoscaleProfile(name=PROFILE_NAME, capacity=capacity, rules=[])
        profiles.append(mine)
    mine.capacity = capacity
    kept = [r for r in mine.rules or [] if not _ours(r, deployment_id)]
    mine.rules = [*rules, *kept]
    resource.profiles = profiles
    resource.enabled = True
    resource.name_properties_name = resource.name_properties_name or name
    resource.target_resource_uri = resource.target_resource_uri or deployment_id
    resource.tags = {**(resource.tags or {}), POLICY_TAG: tag}
    resource.location = resource.location or location
    return resource


def owned_profile(profiles: Sequence[AutoscaleProfile]) -> AutoscaleProfile | None:
    """Flightdeck's profile: the one it named, else the default one (no schedule)."""
    named = next((p for p in profiles if p.name == PROFILE_NAME), None)
    return named or next(
        (p for p in profiles if p.recurrence is None and p.fixed_date is None), None
    )


def _ours(rule: ScaleRule, deployment_id: str) -> bool:
    """A rule Flightdeck's policy sets: CPU utilization of this deployment."""
    trigger = rule.metric_trigger
    return trigger.metric_name == METRIC and (
        (trigger.metric_resource_uri or "").lower() == deployment_id.lower()
    )


def profile_in_force(
    resource: AutoscaleSettingResource, now: datetime | None = None
) -> AutoscaleProfile | None:
    """The profile Azure Monitor applies at ``now``.

    A fixed-date profile whose window holds ``now``; else, of the recurrence profiles,
    the one whose last start (within the past week) is the latest; else the default
    profile (no schedule); else the first.
    """
    profiles = list(resource.profiles or [])
    if not profiles:
        return None
    moment = as_utc(now) if now is not None else utc_now()
    for profile in profiles:
        window = profile.fixed_date
        if window is not None and window.start is not None and window.end is not None:
            zone = _zone(window.time_zone)
            start, end = _in_zone(window.start, zone), _in_zone(window.end, zone)
            if start <= moment < end:
                return profile
    started = [
        (last, index)
        for index, profile in enumerate(profiles)
        if (last := _last_start(profile, moment)) is not None
    ]
    if started:
        return profiles[max(started)[1]]
    return next((p for p in profiles if p.recurrence is None and p.fixed_date is None), profiles[0])


def _last_start(profile: AutoscaleProfile, now: datetime) -> datetime | None:
    recurrence = profile.recurrence
    if recurrence is None or recurrence.schedule is None:
        return None
    schedule = recurrence.schedule
    zone = _zone(schedule.time_zone)
    local = now.astimezone(zone)
    days = {_day(d) for d in schedule.days or []}
    latest = None
    for back in range(8):
        day = (local - timedelta(days=back)).date()
        if days and day.weekday() not in days:
            continue
        for hour in schedule.hours or [0]:
            for minute in schedule.minutes or [0]:
                start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                if start <= local and (latest is None or start > latest):
                    latest = start
    return latest


def _day(name: str) -> int:
    """Monday is 0 (Python's weekday); Azure writes names, or 0-6 from Sunday."""
    text = str(name).strip().lower()
    if text.isdigit():
        return (int(text) - 1) % 7
    return _DAYS.index(text) if text in _DAYS else -1


def _zone(name: str | None) -> ZoneInfo:
    text = (name or "UTC").strip()
    try:
        return ZoneInfo(_WINDOWS_ZONES.get(text.lower(), text))
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("Unknown time zone %r in an autoscale profile: read as UTC", text)
        return ZoneInfo("UTC")


def _in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """A fixed date's bound: a naive time is in the profile's zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def policy_from_resource(
    resource: AutoscaleSettingResource, *, now: datetime | None = None
) -> AutoscalePolicy | None:
    """The policy an autoscale setting applies now; ``None`` when it is disabled or empty.

    Read from the profile in force (``profile_in_force``); the policy tag is used only
    while that is Flightdeck's own profile with the tagged bounds.
    """
    if not resource.enabled or not resource.profiles:
        return None
    profile = profile_in_force(resource, now)
    if profile is None:
        return None
    low, high = int(profile.capacity.minimum), int(profile.capacity.maximum)
    tagged = (resource.tags or {}).get(POLICY_TAG)
    if tagged and profile is owned_profile(resource.profiles):
        try:
            policy = from_json(AutoscalePolicy, json.loads(tagged))
        except ValueError:
            policy = None
        if policy is not None and (policy.min_instances, policy.max_instances) == (low, high):
            return policy
    rules = sorted(profile.rules or [], key=lambda r: r.metric_trigger.metric_name != METRIC)
    out = next((r for r in rules if r.scale_action.direction == "Increase"), None)
    down = next((r for r in rules if r.scale_action.direction == "Decrease"), None)
    return AutoscalePolicy(
        min_instances=low,
        max_instances=high,
        target_utilization_percentage=round(out.metric_trigger.threshold) if out else 70,
        polling_interval=_seconds(out.scale_action.cooldown) if out else 60,
        scale_down_delay=_seconds(down.scale_action.cooldown) if down else 300,
        metric="cpu",
    )


def _seconds(value: timedelta | None) -> int:
    return int(value.total_seconds()) if value is not None else 0
