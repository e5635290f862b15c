"""Names users give to runs and datasets: safe in a folder, RAVE's ``--name`` and a shell."""

from __future__ import annotations

import pytest

from ravelab.core.errors import ConfigError
from ravelab.core.names import check_name, shown, suggest_name


@pytest.mark.parametrize("name", ["drums-v2", "a", "A.b_c-1", "9" * 64])
def test_safe_names_are_kept(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["-lead", ".hidden", "a/b", "a b", "a..b", "x" * 65, "run\n", "ü", "a;rm -rf"],
)
def test_unsafe_names_are_refused_saying_what_is_allowed(name: str) -> None:
    with pytest.raises(ConfigError, match="is not allowed: use 1-64 letters"):
        check_name(name, "run name")


@pytest.mark.parametrize("name", [None, "", "   ", 3])
def test_a_missing_name_asks_for_one(name: object) -> None:
    with pytest.raises(ConfigError, match="run name is missing"):
        check_name(name, "run name")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("My Drums (2024)", "My-Drums-2024"), ("--..", "dataset"), ("a" * 100, "a" * 64)],
)
def test_suggest_name_makes_a_safe_name(text: str, expected: str) -> None:
    assert suggest_name(text) == expected
    check_name(suggest_name(text))


def test_shown_is_one_line_and_bounded() -> None:
    assert shown("a\nb") == "'a\\nb'"
    assert shown(5) == "'5'"
    long = shown("x" * 1000)
    assert len(long) == 80 and long.endswith("...'")
