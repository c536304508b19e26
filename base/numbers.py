"""Numbers as people read them: never in exponent notation.

``f"{x:g}"`` prints ``1e+08`` for a hundred million and ``1e-05`` for a small rate;
``format_number`` prints ``100000000`` and ``0.00001``.

    format_number(100_000_000.0)      # '100000000'
    format_number(2.50)               # '2.5'
    format_number(1234.5678, digits=2)  # '1200' (two significant digits)
    format_number(1234567.0)          # '1234567' (whole numbers exactly)
    format_number(0.000012345, digits=2)  # '0.000012'
"""

from __future__ import annotations

import math
from decimal import Decimal

__all__ = ["format_number"]


def format_number(value: float, *, digits: int = 6) -> str:
    """``value`` with at most ``digits`` significant digits (whole numbers exactly), no
    exponent, no trailing zeros."""
    if not math.isfinite(value):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    rounded = Decimal(f"{value:.{digits}g}")
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
