"""core/numbers: ids and config numbers from outside are ASCII digits, finite, in range."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ravelab.core.errors import ConfigError
from ravelab.core.numbers import (
    MAX_ID,
    brief,
    finite_number,
    is_ascii_integer,
    parse_id,
    parse_int,
    whole_number,
)


@pytest.mark.parametrize(
    "text",
    ["²", "³", "¹²", "٣", "３", "①", "1_000", " 1", "1 ", "+1", "", "1.0", "0x10", "1e3", "9" * 31],
)
def test_unicode_digits_and_other_spellings_are_not_ids(text: str) -> None:
    # "²".isdigit() is True and int("３") == 3: neither may pass for an id.
    assert not is_ascii_integer(text)
    assert parse_id(text) is None


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("1", 1), ("007", 7), (12, 12), (str(MAX_ID), MAX_ID), ("0", None), (0, None)],
)
def test_ids_in_range(ref: object, expected: int | None) -> None:
    assert parse_id(ref) == expected


@pytest.mark.parametrize("ref", [True, False, -1, MAX_ID + 1, 10**400, 1.0, None, b"1", [1]])
def test_values_that_are_not_ids(ref: object) -> None:
    assert parse_id(ref) is None


def test_parse_int_refuses_what_int_accepts() -> None:
    assert parse_int("-12") == -12
    for text in ("３", "1_0", " 1", "²"):
        with pytest.raises(ValueError, match="digits 0-9"):
            parse_int(text)
    with pytest.raises(ValueError, match="digits 0-9"):
        parse_int("-1", signed=False)


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 2.5, True, "nan", "inf", "1e3", "²", "3 steps", None, [1]],
)
def test_whole_number_refuses_with_the_name(value: object) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        whole_number(value, "batch_size", 1, 4096)


@pytest.mark.parametrize("value", [0, -1, 4097, 10**23, 10**400, 1e300])
def test_whole_number_out_of_range(value: object) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        whole_number(value, "batch_size", 1, 4096)


def test_whole_number_accepts_ints_integral_floats_and_digit_strings() -> None:
    assert whole_number(8, "b", 1, 10) == 8
    assert whole_number(8.0, "b", 1, 10) == 8
    assert whole_number(" 8 ", "b", 1, 10) == 8
    assert whole_number("-1", "gpu", -1, 10) == -1


@pytest.mark.parametrize("value", [math.nan, math.inf, 10**400, True, "0.1", None])
def test_finite_number_refuses(value: object) -> None:
    with pytest.raises(ConfigError, match="rate"):
        finite_number(value, "rate", 0.0, 1.0)


def test_brief_never_raises_on_huge_values() -> None:
    # repr() of an int over 4,300 digits raises ValueError: brief names its size instead.
    assert "digits" in brief(10**5000)
    assert len(brief("x" * 10_000)) <= 60


@given(st.text(max_size=40))
def test_any_text_either_is_an_ascii_id_or_none(text: str) -> None:
    result = parse_id(text)
    if result is not None:
        assert text.isascii() and str(result) == text.lstrip("0")
