"""Reading one value of a stored JSON column defensively: the right type and range, or None.

The progress columns (``experiments.progress``, ``jobs.progress``) are JSON objects merged
key by key by several writers, and a database may have been written by an older version
or edited by hand: their readers take a value only when it has the expected type.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: The largest count kept: exact in a float64 (the JSON column, plots), as for steps.
MAX_COUNT = 2**53 - 1


def read_count(value: object) -> int | None:
    """A non-negative int up to ``MAX_COUNT``, else None (a bool is never a count)."""
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value
    return None


def read_number(value: object) -> float | None:
    """A finite number as a float, else None (a bool is not a number here)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def read_text(value: object) -> str | None:
    """A string, else None."""
    return value if isinstance(value, str) else None


__all__ = ["MAX_COUNT", "parse_json", "read_count", "read_number", "read_text"]


def parse_json(text: str | None, default: Any) -> Any:
    """The value a stored JSON text holds; ``default`` for no text or text that is not
    JSON (the caller checks the type it needs)."""
    if not text:
        return default
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return default
