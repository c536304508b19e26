"""Durations: the one grammar every flag and config key of Flightdeck reads.

    parse_duration("1h30m")        # timedelta(seconds=5400)
    parse_duration("90s") == parse_duration(90) == parse_duration("90")
    parse_duration("500ms")        # timedelta(milliseconds=500)
    format_duration(timedelta(seconds=5400))   # '1h30m'

The grammar: numbers with units, largest unit first, each unit at most once: ``d``
(days), ``h``, ``m``, ``s``, ``ms``; e.g. ``90s``, ``5m``, ``1h30m``, ``0.5s``, ``2d``.
Spaces between the parts are allowed (``1h 30m``). **A bare number is seconds**,
everywhere (``90``, ``"90"``, ``1.5``). Negative, empty, non-finite and unknown units are
refused with a ``DurationError`` (a ``ValueError``) naming the text; callers wrap it in
their own error naming the flag or key, and check their own bounds.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from base import messages

__all__ = ["DurationError", "format_duration", "parse_duration"]

#: Units from the largest down, with their length.
_UNITS: dict[str, timedelta] = {
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
}
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)?\s*([a-zA-Zµ]+)\s*")


class DurationError(ValueError):
    """A text that is not a duration. ``text`` is what was given, ``reason`` what is wrong."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(
            messages.DURATION_BAD.format(
                text=text, reason=reason, grammar=messages.DURATION_GRAMMAR
            )
        )
        self.text = text
        self.reason = reason


def parse_duration(value: Any) -> timedelta:
    """``value`` as a ``timedelta``: ``90s``, ``5m``, ``1h30m``, ``500ms``, ``2d``; a bare
    number (``int``, ``float`` or numeric text) is seconds; a ``timedelta`` passes through.

    ``DurationError`` (a ``ValueError``) when it is empty, negative, not finite, or has
    an unknown unit or units out of order.
    """
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise DurationError(str(value), messages.DURATION_NEGATIVE)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DurationError(str(value), messages.DURATION_NOT_TEXT)
    if isinstance(value, int | float):
        return _seconds(float(value), str(value))
    text = value.strip()
    if not text:
        raise DurationError(value, messages.DURATION_EMPTY)
    if text.startswith("-"):
        raise DurationError(value, messages.DURATION_NEGATIVE)
    if _NUMBER.fullmatch(text):
        return _seconds(float(text), value)
    return _with_units(text, value)


def _seconds(seconds: float, shown: str) -> timedelta:
    if not math.isfinite(seconds):
        raise DurationError(shown, messages.DURATION_NOT_FINITE)
    if seconds < 0:
        raise DurationError(shown, messages.DURATION_NEGATIVE)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationError(shown, messages.DURATION_TOO_LONG) from None


def _with_units(text: str, shown: str) -> timedelta:
    total, position, last = timedelta(0), 0, -1
    order = list(_UNITS)
    while position < len(text):
        match = _PART.match(text, position)
        if match is None:
            raise DurationError(shown, messages.DURATION_UNKNOWN_UNIT.format(unit=text[position:]))
        number, unit = match.groups()
        if unit not in _UNITS:
            raise DurationError(shown, messages.DURATION_UNKNOWN_UNIT.format(unit=unit))
        if number is None:
            raise DurationError(shown, messages.DURATION_NO_NUMBER.format(part=unit))
        rank = order.index(unit)
        if rank <= last:
            raise DurationError(shown, messages.DURATION_ORDER)
        last, position = rank, match.end()
        try:
            total += _UNITS[unit] * float(number)
        except OverflowError:
            raise DurationError(shown, messages.DURATION_TOO_LONG) from None
    return total


def format_duration(value: timedelta) -> str:
    """``value`` in the grammar ``parse_duration`` reads: 90 s -> ``'1m30s'``,
    5400 s -> ``'1h30m'``, 1.5 s -> ``'1.5s'``, 0.05 s -> ``'50ms'``, zero -> ``'0s'``.

    Whole days, hours and minutes, then the seconds left (with their fraction), or
    milliseconds when under a second is left. ``parse_duration(format_duration(d)) == d``
    for any ``d >= 0``.
    """
    if value < timedelta(0):
        return "-" + format_duration(-value)
    if not value:
        return "0s"
    parts: list[str] = []
    rest = value
    for unit in ("d", "h", "m"):
        count, rest = divmod(rest, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    if rest >= _UNITS["s"]:
        parts.append(_decimal(rest // timedelta(microseconds=1), 1_000_000) + "s")
    elif rest:
        parts.append(_decimal(rest // timedelta(microseconds=1), 1_000) + "ms")
    return "".join(parts)


def _decimal(micros: int, per_unit: int) -> str:
    whole, fraction = divmod(micros, per_unit)
    if not fraction:
        return str(whole)
    digits = len(str(per_unit)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")
