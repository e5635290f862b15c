"""Comparing two runs' settings (``ravelab diff``, the GUI's compare view)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Keys that always differ between two runs and say nothing about their settings.
_IGNORED = frozenset({"name"})


def diff_configs(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """The (key, first value, second value) of every setting that differs, sorted by key.

    A key missing on one side shows as None there.
    """
    keys = sorted((set(first) | set(second)) - _IGNORED)
    return [
        (key, first.get(key), second.get(key)) for key in keys if first.get(key) != second.get(key)
    ]
