"""Numbers, times and durations as the app shows them (Qt-free helpers)."""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

# The times, durations and rates the CLI shows too.
from ravelab.core.display import duration, local_time, parse_time, speed
from ravelab.db import RunProgress


def progress_speed(progress: RunProgress) -> float | None:
    """A run's steps per second: the measured ``step_rate`` the ETA uses, else the rate
    Lightning's progress bar printed (``speed``)."""
    rate = progress.step_rate
    return rate if rate is not None and rate > 0 else progress.speed


def number(value: object, digits: int = 4) -> str:
    """A metric value: ``0.01234`` -> ``0.01234``, ``1.2e-05``; ``-`` when missing."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def steps(value: object) -> str:
    """``6000000`` -> ``6,000,000``."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    return f"{int(value):,}"


def percent_text(percent: float) -> str:
    """``0.42`` -> ``0.4%``, ``42.0`` -> ``42%``: one decimal only where it matters."""
    return f"{percent:.1f}%" if 0 < percent < 10 else f"{percent:.0f}%"


def seconds_of_audio(seconds: object) -> str:
    """A dataset's length: ``56.5`` -> ``0:56``, ``3725`` -> ``1:02:05``."""
    if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0:
        return "-"  # a stored inf or NaN (an older version) shows as unknown
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def sample_rate(value: object) -> str:
    """``44100`` -> ``44.1 kHz``."""
    if not isinstance(value, int | float) or value <= 0:
        return "-"
    return f"{value / 1000:g} kHz"


def config_text(config: Mapping[str, Any]) -> str:
    """A run's RAVE config and modifiers: ``v2 + causal + wasserstein``."""
    base = str(config.get("config") or "v2")
    modifiers = [str(m) for m in config.get("modifiers") or []]
    return " + ".join([base, *modifiers])


def command_line(argv: Sequence[str]) -> str:
    """An argv as a shell command a user can paste."""
    return shlex.join([str(part) for part in argv])


def size(n_bytes: object) -> str:
    """A file size: "512 B", "3.4 MB", "1.2 GB"."""
    if not isinstance(n_bytes, int | float):
        return "-"
    value = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


__all__ = [
    "command_line",
    "config_text",
    "duration",
    "local_time",
    "number",
    "parse_time",
    "percent_text",
    "progress_speed",
    "sample_rate",
    "seconds_of_audio",
    "size",
    "speed",
    "steps",
]
