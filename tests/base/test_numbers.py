"""Numbers print as people write them: never 1e+08."""

from __future__ import annotations

import pytest

from base.numbers import format_number


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (100_000_000.0, 6, "100000000"),
        (1_234_567.0, 6, "1234567"),
        (2.5, 6, "2.5"),
        (0.1, 6, "0.1"),
        (-3.0, 6, "-3"),
        (12_345_678.9, 6, "12345700"),
        (1234.5678, 2, "1200"),
        (0.000012345, 2, "0.000012"),
        (1e-7, 6, "0.0000001"),
        (0.0, 6, "0"),
    ],
)
def test_no_exponents(value: float, digits: int, shown: str) -> None:
    assert format_number(value, digits=digits) == shown
    assert f"{value:g}" != shown or "e" not in f"{value:g}"
