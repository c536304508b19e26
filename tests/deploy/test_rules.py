"""Azure's naming and traffic rules, as deploy.rules applies them."""

from __future__ import annotations

import pytest

from deploy.errors import ValidationError
from deploy.rules import parse_weights, validate_name, validate_traffic


@pytest.mark.parametrize("name", ["blue", "product-recommender", "a1b", "x" * 32, "Green-2"])
def test_valid_names(name: str) -> None:
    assert validate_name("deployment", name) == name


@pytest.mark.parametrize(
    "name", ["ab", "x" * 33, "1blue", "-blue", "blue-", "blu--e", "blue_green", "blue.1", ""]
)
def test_invalid_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(ValidationError, match="3-32 characters, start with a letter"):
        validate_name("deployment", name)


def test_parse_weights_accepts_spaces_and_commas() -> None:
    assert parse_weights("blue=90 green=10") == {"blue": 90, "green": 10}
    assert parse_weights("blue=90,green=10") == {"blue": 90, "green": 10}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("blue", "write deployment=percent"),
        ("blue=ninety", "'ninety' is not a whole number"),
        ("blue=101", "between 0 and 100"),
        ("blue=50 blue=50", "'blue' is given twice"),
    ],
)
def test_parse_weights_names_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_weights(text)


def test_traffic_must_sum_to_100_or_0() -> None:
    validate_traffic({"blue", "green"}, {"blue": 90, "green": 10}, {})
    validate_traffic({"blue", "green"}, {"blue": 0, "green": 0}, {})
    with pytest.raises(ValidationError, match="sum to 100 \\(or 0\\); these sum to 95"):
        validate_traffic({"blue", "green"}, {"blue": 90, "green": 5}, {})


def test_traffic_to_a_missing_deployment_is_refused() -> None:
    with pytest.raises(ValidationError, match="'red' does not exist.*blue, green"):
        validate_traffic({"blue", "green"}, {"blue": 90, "red": 10}, {})


def test_mirror_rules() -> None:
    validate_traffic({"blue", "green"}, {"blue": 100}, {"green": 10})
    with pytest.raises(ValidationError, match="the most is 50%"):
        validate_traffic({"blue", "green"}, {"blue": 100}, {"green": 60})
    with pytest.raises(ValidationError, match="a mirror target must take none"):
        validate_traffic({"blue", "green"}, {"blue": 90, "green": 10}, {"green": 10})
    with pytest.raises(ValidationError, match="one deployment only"):
        validate_traffic({"blue", "green", "red"}, {"blue": 100}, {"green": 10, "red": 10})
