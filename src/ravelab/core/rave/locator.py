"""Finding the ``rave`` executable and what it is."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ravelab.core.errors import RaveNotFoundError
from ravelab.db import Database

RAVE_ENV = "RAVELAB_RAVE"
RAVE_SETTING = "rave_executable"

INSTALL_HINT = (
    "`ravelab rave install` installs RAVE 2.3.1 in an environment of its own and uses it; "
    "or install it yourself in a Python 3.11 environment (`pip install torch==2.9.1 "
    "torchaudio==2.9.1 acids-rave==2.3.1 nn-tilde==1.5.6`) and point ravelab at it with "
    "--rave PATH, RAVELAB_RAVE, or `ravelab settings set rave PATH`"
)


def _usable(candidate: str) -> str | None:
    path = Path(candidate).expanduser()
    if path.is_file() and os.access(path, os.X_OK):
        return str(path.resolve())
    if os.sep not in candidate:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def find_rave(explicit: str | None = None, db: Database | None = None) -> str:
    """The ``rave`` executable: explicit/``RAVELAB_RAVE``, then the DB setting, then PATH.

    Raises:
        RaveNotFoundError: with what was tried and how to install RAVE.
    """
    chosen = explicit or os.environ.get(RAVE_ENV)
    if chosen:
        found = _usable(chosen)
        if found is None:
            raise RaveNotFoundError(
                f"the rave executable {chosen!r} (from --rave or {RAVE_ENV}) does not exist "
                f"or is not executable; {INSTALL_HINT}"
            )
        return found
    if db is not None:
        stored = db.get_setting(RAVE_SETTING)
        if stored:
            found = _usable(stored)
            if found is None:
                raise RaveNotFoundError(
                    f"the rave executable {stored!r} stored in the settings no longer exists; "
                    f"{INSTALL_HINT}"
                )
            return found
    found = shutil.which("rave")
    if found is None:
        raise RaveNotFoundError(f"RAVE's `rave` command was not found on PATH; {INSTALL_HINT}")
    return found


def rave_version(executable: str, timeout_s: float = 30.0) -> str | None:
    """The installed ``acids-rave`` version, asked from the Python behind ``executable``.

    ``rave`` has no ``--version``; its console script's shebang names its interpreter.
    """
    try:
        with open(executable, "rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    interpreter = first[2:].decode(errors="replace").strip().split()
    if not interpreter:
        return None
    if Path(interpreter[0]).name == "env" and len(interpreter) > 1:
        interpreter = interpreter[1:]
    code = (
        "import importlib.metadata as m\n"
        "try:\n print(m.version('acids-rave'))\n"
        "except m.PackageNotFoundError:\n print('not installed')\n"
    )
    try:
        done = subprocess.run(
            [*interpreter, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip()
    return version or None
