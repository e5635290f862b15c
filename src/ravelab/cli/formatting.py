"""Text output for people: tables, durations, progress bars."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

from ravelab.core.display import duration, local_time, parse_time, speed

__all__ = [
    "duration",
    "local_time",
    "parse_time",
    "print_json",
    "progress_bar",
    "run_duration",
    "speed",
    "table",
]


#: Control characters shown escaped in a table cell: a name or path holding a newline
#: (folders may) must stay on its row.
_CONTROL = {code: repr(chr(code))[1:-1] for code in (*range(32), 127)}


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned text table; control characters in cells are shown escaped."""
    cells = [[str(h) for h in headers]] + [
        ["" if c is None else str(c).translate(_CONTROL) for c in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_duration(started: str | None, ended: str | None) -> float | None:
    """Seconds between start and end (or now)."""
    start = parse_time(started)
    if start is None:
        return None
    end = parse_time(ended) or datetime.now(UTC)
    return (end - start).total_seconds()


def progress_bar(step: object, total: object, width: int = 24) -> str:
    """``[#########.......] 40%``; ``step N`` when the total is unknown.

    Both come from stored progress (untrusted: an older version or a bad line may have
    left text, a negative number or inf there), so anything but a finite number counts
    as unknown rather than raising.
    """
    done = _finite(step)
    whole = _finite(total)
    if not whole or whole <= 0:
        return f"step {int(done) if done is not None else 0}"
    fraction = max(0.0, min(1.0, (done or 0.0) / whole))
    filled = int(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}%"


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def print_json(data: object, out: TextIO) -> None:
    """JSON for scripts (NaN kept as JSON's non-standard token, like Python's json)."""
    out.write(json.dumps(data, indent=2, default=str) + "\n")
