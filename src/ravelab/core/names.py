"""Validation of the names users give to runs and datasets."""

from __future__ import annotations

import re

from ravelab.core.errors import ConfigError

#: Safe in a folder name, a RAVE ``--name`` (which becomes ``<name>_<hash>``) and a shell.
#: Used with ``fullmatch``: ``$`` would also match before a trailing newline.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_name(name: object, what: str = "name") -> str:
    """Return ``name`` when it is safe, else raise ``ConfigError`` saying what is allowed."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{what} is missing: give a name such as 'drums-v2'")
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        raise ConfigError(
            f"{what} {shown(name)} is not allowed: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return name


def suggest_name(text: str) -> str:
    """A safe name made from arbitrary text (a folder name, say)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")[:64]
    return cleaned or "dataset"


def shown(text: object, limit: int = 80) -> str:
    """``repr(text)`` for a one-line message: control characters escaped, cut to ``limit``.

    What a user typed or a file held may be megabytes long or hold newlines and NULs.
    """
    value = repr(text) if isinstance(text, str) else repr(str(text))
    return value if len(value) <= limit else value[: limit - 4] + "...'"
