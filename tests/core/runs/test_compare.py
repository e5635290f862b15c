"""Two runs' settings compared: every differing key once, sorted, a missing key as None,
and the name (always different) left out."""

from __future__ import annotations

from ravelab.core.runs.compare import diff_configs


def test_only_the_settings_that_differ_are_listed_by_key() -> None:
    first = {"name": "a", "batch_size": 4, "modifiers": [], "gpu": 0, "config": "v2"}
    second = {"name": "b", "batch_size": 8, "modifiers": ["causal"], "gpu": 0, "seed": 3}
    assert diff_configs(first, second) == [
        ("batch_size", 4, 8),
        ("config", "v2", None),
        ("modifiers", [], ["causal"]),
        ("seed", None, 3),
    ]


def test_the_same_settings_under_other_names_do_not_differ() -> None:
    assert diff_configs({"name": "a", "gpu": 0}, {"name": "b", "gpu": 0}) == []
