"""Numbers that come from outside (command lines, config dicts, files a program wrote):
ASCII digits only, finite, in range.

``str.isdigit`` is true for superscripts and other Unicode digits (``'²'``, ``'٣'``) that
``int()`` refuses or reads as something else, and ``float()`` takes ``'nan'``, ``'inf'`` and
``'1e999'``. So no outside text is tested with ``isdigit`` or turned into a number with a
bare ``int()``/``float()``: it goes through one of these functions.
"""

from __future__ import annotations

import math
import re

from ravelab.core.errors import ConfigError

_UNSIGNED = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"-?[0-9]+")
#: The largest id SQLite can store (a signed 64-bit INTEGER PRIMARY KEY).
MAX_ID = 2**63 - 1
#: Longer digit strings are refused before ``int()`` sees them (Python limits int parsing
#: to 4,300 digits and a long string costs time): no value ravelab takes needs more.
_MAX_DIGITS = 30


def is_ascii_integer(text: object, *, signed: bool = False) -> bool:
    """Whether ``text`` is a string of ASCII digits (``-`` first allowed when ``signed``)."""
    if not isinstance(text, str) or len(text) > _MAX_DIGITS:
        return False
    return (_SIGNED if signed else _UNSIGNED).fullmatch(text) is not None


def parse_id(ref: object) -> int | None:
    """The row id ``ref`` spells (1 to 2**63-1, ASCII digits), or None when it is not one.

    An int (not a bool) is taken as it is when in range. Callers fall back to a name
    lookup on None, so ``'²'`` is looked up as a name, never turned into a number.
    """
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        number = ref
    elif is_ascii_integer(ref):
        number = int(str(ref))
    else:
        return None
    return number if 1 <= number <= MAX_ID else None


def parse_int(text: str, *, signed: bool = True) -> int:
    """``int(text)`` for ASCII digits only; ValueError naming the text otherwise."""
    if not is_ascii_integer(text, signed=signed):
        raise ValueError(f"{text!r} is not a whole number written with the digits 0-9")
    return int(text)


def whole_number(value: object, what: str, low: int, high: int) -> int:
    """A whole number from a config value (int, integral float, or ASCII digits) in
    ``[low, high]``.

    Raises:
        ConfigError: a bool, NaN, an infinity, a fraction, a non-number, or out of range,
            naming ``what`` and the value.
    """
    number: int
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a whole number, not {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ConfigError(f"{what} must be a whole number, not {value!r}")
        number = int(value)
    elif isinstance(value, str) and is_ascii_integer(value.strip(), signed=True):
        number = int(value.strip())
    else:
        raise ConfigError(f"{what} must be a whole number, not {brief(value)}")
    if not low <= number <= high:
        raise ConfigError(f"{what} = {brief(value)} is out of range: use {low:,} to {high:,}")
    return number


def finite_number(value: object, what: str, low: float, high: float) -> float:
    """A real number (int or float, not a bool, not text) that is finite and in range.

    Raises:
        ConfigError: naming ``what`` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{what} must be a number, not {brief(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ConfigError(f"{what} must be a finite number, not {brief(value)}")
    if not low <= number <= high:
        raise ConfigError(f"{what} = {brief(value)} is out of range: use {low:,} to {high:,}")
    return number


def brief(value: object) -> str:
    """``repr(value)`` cut to a length that fits in a one-line message."""
    if isinstance(value, int) and value.bit_length() > 128:
        # repr() of an int over 4,300 digits raises: say its size instead.
        return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
