"""Installing RAVE from the app, where ``rave`` was not found (``ravelab rave install``).

The install (a virtual environment, several GB of wheels, a check) takes minutes, so it
runs in a thread; pip's lines reach a progress dialog through a queued Qt signal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from ravelab.core.errors import RavelabError
from ravelab.core.rave.environment import DEFAULT_TORCH, RAVE_VERSION, install_rave
from ravelab.db import Database


class RaveInstaller(QObject):
    """Runs ``install_rave`` in a thread.

    Signals:
        line(str): a line of the install's output.
        finished(bool, str): success, and the rave path or the reason it failed.
    """

    line = Signal(str)
    finished = Signal(bool, str)

    def __init__(self, db: Database, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self._worker: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._worker = threading.Thread(target=self._run, name="rave-install", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        try:
            env = install_rave(self.db, progress=self.line.emit)
        except RavelabError as error:
            self.finished.emit(False, str(error))
        except Exception as error:  # never a traceback in the app: say what failed
            self.finished.emit(False, f"{type(error).__name__}: {error}")
        else:
            self.finished.emit(True, env.rave)


def ask_and_install(
    parent: QWidget, db: Database, on_finished: Callable[[bool, str], None]
) -> RaveInstaller | None:
    """Ask first (it downloads several GB), then install with a progress dialog;
    ``on_finished(ok, message)`` runs on the GUI thread at the end."""
    answer = QMessageBox.question(
        parent,
        "Install RAVE",
        f"Install RAVE {RAVE_VERSION} (acids-rave) with torch {DEFAULT_TORCH} in an environment "
        "of its own in ravelab's data folder?\n\nIt downloads several GB and takes a few "
        "minutes; ravelab keeps working meanwhile. A failed install changes nothing.",
    )
    if answer != QMessageBox.StandardButton.Yes:
        return None
    installer = RaveInstaller(db, parent)
    dialog = QProgressDialog("Installing RAVE...", "", 0, 0, parent)
    dialog.setWindowTitle("Installing RAVE")
    dialog.setCancelButton(None)
    dialog.setMinimumWidth(520)
    dialog.setWindowModality(Qt.WindowModality.NonModal)
    installer.line.connect(lambda text: dialog.setLabelText(text[-200:]))
    installer.finished.connect(lambda ok, message: dialog.close())
    installer.finished.connect(on_finished)  # before start: a fast end must not be missed
    dialog.show()
    installer.start()
    return installer
