"""One value of a stored JSON column read defensively: a count, a finite number or a
text, else None; a stored JSON text decoded."""

from __future__ import annotations

import math

import pytest

from ravelab.db.json_values import MAX_COUNT, parse_json, read_count, read_number, read_text


def test_a_count_is_a_non_negative_int_that_a_float_holds_exactly() -> None:
    assert [read_count(v) for v in (0, 7, MAX_COUNT)] == [0, 7, MAX_COUNT]
    for value in (-1, MAX_COUNT + 1, True, 3.0, "3", None, [3]):
        assert read_count(value) is None, value


def test_a_number_is_finite_and_read_as_a_float() -> None:
    assert read_number(2) == 2.0 and isinstance(read_number(2), float)
    assert read_number(-0.5) == -0.5
    for value in (math.nan, math.inf, -math.inf, False, "1.5", None):
        assert read_number(value) is None, value


def test_a_text_is_a_string() -> None:
    assert read_text("") == "" and read_text("done") == "done"
    assert read_text(b"done") is None and read_text(1) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, "default"), ("", "default"), ("{not json", "default"), ("[1, 2]", [1, 2]), ("3", 3)],
)
def test_parse_json_gives_the_default_for_no_text_or_damaged_text(
    text: str | None, expected: object
) -> None:
    assert parse_json(text, "default") == expected
