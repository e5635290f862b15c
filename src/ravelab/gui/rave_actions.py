"""Finding ``rave`` from the GUI: where it is, which version, and choosing it by hand.

``check_rave`` runs off the GUI thread (``rave_version`` starts a Python interpreter);
``choose_rave_executable`` stores the user's choice with ``db.set_setting(RAVE_SETTING)``,
the setting the core and the CLI read too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ravelab.core.errors import RavelabError
from ravelab.core.rave.locator import RAVE_SETTING, find_rave, rave_version
from ravelab.db import Database


@dataclass(frozen=True)
class RaveStatus:
    """Whether ``rave`` was found, where, and its version (or why not)."""

    path: str | None
    version: str | None
    problem: str | None

    @property
    def found(self) -> bool:
        return self.path is not None

    def summary(self) -> str:
        """One line for the status bar."""
        if self.path is None:
            return "rave not found"
        version = self.version if self.version and self.version != "not installed" else None
        return f"rave {version}" if version else "rave (version unknown)"


def check_rave(explicit: str | None, db: Database) -> RaveStatus:
    """Find ``rave`` and ask its version (slow: call it in a worker)."""
    try:
        path = find_rave(explicit, db)
    except RavelabError as error:
        return RaveStatus(None, None, str(error))
    return RaveStatus(path, rave_version(path), None)


def choose_rave_executable(parent: QWidget | None, db: Database) -> bool:
    """Ask for the ``rave`` executable and store it; True when one was stored."""
    path, _filter = QFileDialog.getOpenFileName(
        parent,
        "Choose the rave executable (e.g. ~/rave-env/bin/rave)",
        str(Path.home()),
    )
    if not path:
        return False
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        QMessageBox.warning(
            parent,
            "Not an executable",
            f"{path} is not an executable file. Choose the `rave` command of the Python "
            "environment where acids-rave is installed (its bin/rave).",
        )
        return False
    db.set_setting(RAVE_SETTING, str(Path(path).resolve()))
    return True
