"""Azure's rules for names and traffic, shared by every backend and the commands.

>>> parse_weights("blue=90 green=10")
{'blue': 90, 'green': 10}
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from deploy.errors import ValidationError

__all__ = [
    "MAX_DEPLOYMENTS_PER_ENDPOINT",
    "MAX_INSTANCES_PER_DEPLOYMENT",
    "MAX_MIRROR_PERCENT",
    "parse_weights",
    "redistribute",
    "validate_name",
    "validate_traffic",
]

MAX_DEPLOYMENTS_PER_ENDPOINT = 20
MAX_INSTANCES_PER_DEPLOYMENT = 50
MAX_MIRROR_PERCENT = 50

_NAME = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*$")


def validate_name(kind: str, name: str) -> str:
    """Check an endpoint or deployment name against Azure's rules; return it.

    3-32 characters, a letter first, then letters, digits and single dashes,
    not ending with a dash.
    """
    if not 3 <= len(name) <= 32 or not _NAME.match(name):
        raise ValidationError(
            f"Invalid {kind} name '{name}': use 3-32 characters, start with a letter, "
            "then letters, digits and single dashes (not at the end)."
        )
    return name


def parse_weights(text: str, *, what: str = "traffic") -> dict[str, int]:
    """Parse ``"blue=90 green=10"`` (spaces or commas) into a mapping."""
    weights: dict[str, int] = {}
    for item in text.replace(",", " ").split():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValidationError(
                f"Invalid {what} '{item}': write deployment=percent, e.g. blue=90."
            )
        try:
            percent = int(value)
        except ValueError:
            raise ValidationError(
                f"Invalid {what} '{item}': '{value}' is not a whole number of percent."
            ) from None
        if not 0 <= percent <= 100:
            raise ValidationError(f"Invalid {what} '{item}': a percentage is between 0 and 100.")
        if name in weights:
            raise ValidationError(f"Invalid {what}: '{name}' is given twice.")
        weights[name] = percent
    return weights


def validate_traffic(
    deployments: Collection[str],
    traffic: Mapping[str, int],
    mirror_traffic: Mapping[str, int],
) -> None:
    """Raise ``ValidationError`` unless ``traffic`` and ``mirror_traffic`` follow Azure's rules."""
    for name, weight in [*traffic.items(), *mirror_traffic.items()]:
        if name not in deployments:
            known = ", ".join(sorted(deployments)) or "none"
            raise ValidationError(
                f"Deployment '{name}' does not exist on this endpoint (deployments: {known})."
            )
        if not 0 <= weight <= 100:
            raise ValidationError(f"Weight {weight} for '{name}' is not between 0 and 100.")
    total = sum(traffic.values())
    if total not in (0, 100):
        raise ValidationError(f"Traffic weights must sum to 100 (or 0); these sum to {total}.")
    mirrored = {name: pct for name, pct in mirror_traffic.items() if pct > 0}
    if len(mirrored) > 1:
        raise ValidationError("Mirror traffic can go to one deployment only.")
    for name, pct in mirrored.items():
        if pct > MAX_MIRROR_PERCENT:
            raise ValidationError(
                f"Mirror traffic to '{name}' is {pct}%; the most is {MAX_MIRROR_PERCENT}%."
            )
        if traffic.get(name, 0) > 0:
            raise ValidationError(
                f"'{name}' takes live traffic ({traffic[name]}%); a mirror target must take none."
            )


def redistribute(current: Mapping[str, int], deployment: str, percent: int) -> dict[str, int]:
    """``deployment`` at ``percent``; the rest split among the others as they split it now.

    Largest remainders keep the sum at exactly 100.

    >>> redistribute({"blue": 100}, "green", 10)
    {'blue': 90, 'green': 10}
    >>> redistribute({"blue": 60, "red": 30, "green": 10}, "green", 0)
    {'blue': 67, 'red': 33}
    """
    if not 0 <= percent <= 100:
        raise ValidationError(f"A share is between 0 and 100 percent, not {percent}.")
    others = {n: w for n, w in current.items() if n != deployment and w > 0}
    total = sum(others.values())
    remaining = 100 - percent
    if remaining and not total:
        raise ValidationError(f"No other deployment takes live traffic to share with {deployment}.")
    shares = {n: w * remaining / total for n, w in others.items()} if total else {}
    result = {n: int(share) for n, share in shares.items()}
    leftover = remaining - sum(result.values())
    by_fraction = sorted(shares, key=lambda n: (-(shares[n] - result[n]), n))
    for name in by_fraction[:leftover]:
        result[name] += 1
    result[deployment] = percent
    return {n: w for n, w in sorted(result.items()) if w > 0}
