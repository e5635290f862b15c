"""Text output for people: tables, durations, progress bars."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def duration(seconds: float | None) -> str:
    """``3725`` -> ``1:02:05``; None -> ``-``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {text}" if days else text


def parse_time(text: str | None) -> datetime | None:
    """An ISO time string from the database."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run_duration(started: str | None, ended: str | None) -> float | None:
    """Seconds between start and end (or now)."""
    start = parse_time(started)
    if start is None:
        return None
    end = parse_time(ended) or datetime.now(UTC)
    return (end - start).total_seconds()


def local_time(text: str | None) -> str:
    """An ISO UTC time shown in local time, to the minute."""
    value = parse_time(text)
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M")


def speed(value: Any) -> str:
    """``2.4`` -> ``2.40 it/s``; slow rates as ``s/it`` like tqdm."""
    if not isinstance(value, int | float) or value <= 0:
        return "-"
    return f"{value:.2f} it/s" if value >= 1 else f"{1 / value:.2f} s/it"


def progress_bar(step: int, total: int | None, width: int = 24) -> str:
    """``[#########.......] 40%``."""
    if not total:
        return f"step {step}"
    fraction = max(0.0, min(1.0, step / total))
    filled = int(fraction * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}%"


def print_json(data: Any, out: TextIO) -> None:
    """JSON for scripts (NaN kept as JSON's non-standard token, like Python's json)."""
    out.write(json.dumps(data, indent=2, default=str) + "\n")
