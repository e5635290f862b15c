"""Where ravelab keeps its files by default (the platform's user data dir)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "ravelab"
DB_ENV = "RAVELAB_DB"
RUNS_ENV = "RAVELAB_RUNS_DIR"


def user_data_dir() -> Path:
    """The per-user data folder (e.g. ``~/.local/share/ravelab`` on Linux)."""
    import platformdirs  # only when no path is given

    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_db_path() -> Path:
    """``$RAVELAB_DB``, else ``ravelab.db`` in the user data dir."""
    env = os.environ.get(DB_ENV)
    return Path(env).expanduser() if env else user_data_dir() / "ravelab.db"
