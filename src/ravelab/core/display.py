"""How times, durations and rates are shown to people: shared by the CLI and the app."""

from __future__ import annotations

import math
from datetime import UTC, datetime

#: The status shown for a run asked to stop that has not ended yet (stored as ``stopped``,
#: the original API's contract, with no ``ended_at``).
STOPPING = "stopping"


def parse_time(text: str | None) -> datetime | None:
    """An ISO time string from the database (UTC when it has no zone), or None."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def local_time(text: str | None) -> str:
    """An ISO UTC time shown in local time, to the minute; ``-`` when unknown."""
    value = parse_time(text)
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    """``3725`` -> ``1:02:05``, ``90061`` -> ``1d 1:01:01``; ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {text}" if days else text


def speed(value: object) -> str:
    """``2.4`` -> ``2.40 it/s``; rates below 1 as ``s/it``, like tqdm; ``-`` when unknown."""
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        return "-"
    return f"{value:.2f} it/s" if value >= 1 else f"{1 / value:.2f} s/it"


def human_bytes(count: float | None) -> str:
    """A size in decimal units, as the rest of ravelab shows sizes (``175.1 MB``,
    ``1.4 GB``); ``-`` when unknown."""
    if count is None or not math.isfinite(count) or count < 0:
        return "-"
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{int(count)} B"
