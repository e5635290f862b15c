"""The ranges a number read from a trainer's output or files must lie in to be stored.

A trainer's stdout, its TensorBoard event files and the names of its checkpoints are
untrusted input: a line ``step: 99999999999999999999`` overflows the int64 columns a point
is stored in, a NaN wall time makes a date out of nothing, and ``int()`` refuses strings of
more than 4,300 digits. Every such number passes one of these checks before it is kept; a
value that fails is skipped (the callers warn once), never stored and never raised.
"""

from __future__ import annotations

#: The largest step kept: 2**53 - 1 is exact in a float64 (plots, JSON) and far above any
#: real run (a million steps a second for 285 years).
MAX_STEP = 2**53 - 1
#: Wall times (Unix seconds) outside [0, year 9999] are not times (``datetime`` refuses
#: them), so a point or clip that carries one is skipped.
MAX_WALL_TIME = 253_402_300_799.0
#: Digit strings longer than this are refused before ``int()`` sees them: no step, epoch
#: or count needs more, and parsing a long one costs time (and raises past 4,300 digits).
MAX_DIGITS = 18


def digits_value(text: str, limit: int = MAX_STEP) -> int | None:
    """The value of a string of ASCII digits if it is at most ``limit``, else None."""
    if not text or len(text) > MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= limit else None


def is_step(value: object) -> bool:
    """Whether ``value`` is an int step in ``[0, MAX_STEP]`` (not a bool)."""
    return type(value) is int and 0 <= value <= MAX_STEP
