"""Every user-facing string of the shared bottom package, in one place."""

from __future__ import annotations

# ----------------------------------------------------------------- durations
#: The grammar, as every message that asks for a duration shows it.
DURATION_GRAMMAR = "a number with units such as 90s, 5m or 1h30m (a bare number is seconds)"
DURATION_BAD = "'{text}' is not a duration ({reason}): write {grammar}"
DURATION_EMPTY = "it is empty"
DURATION_NEGATIVE = "it is negative"
DURATION_NOT_FINITE = "it is not a finite number"
DURATION_TOO_LONG = "it is too long"
DURATION_UNKNOWN_UNIT = "unknown unit '{unit}'; the units are d, h, m, s and ms"
DURATION_NO_NUMBER = "'{part}' has no number before its unit"
DURATION_ORDER = "units must come once each, largest first: 1h30m, not 30m1h"
DURATION_NOT_TEXT = "expected text or a number"
