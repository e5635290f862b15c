"""The desktop app's entry point: ``python -m ravelab.gui`` (and ``ravelab gui``).

Creates the QApplication (light or dark as the system is, before any widget module is
imported: see :mod:`ravelab.gui.style`), opens the database, creates the ``TrainingManager`` (which
re-attaches to runs still going) and shows the ``MainWindow``. On exit it stops
following runs (``manager.shutdown()``); the runs themselves keep training.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from ravelab import __version__
from ravelab.core.paths import default_db_path
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database, DatabaseError
from ravelab.gui.interpreter import freeze_startup_heap, tune_interpreter

if TYPE_CHECKING:
    from ravelab.gui.main_window import MainWindow

logger = logging.getLogger(__name__)

APP_NAME = "ravelab"


def build_parser() -> argparse.ArgumentParser:
    """The app's command-line options."""
    parser = argparse.ArgumentParser(prog="ravelab gui", description="ravelab's desktop app")
    parser.add_argument("--db", help="the database file (default: RAVELAB_DB or the user data dir)")
    parser.add_argument(
        "--rave", help="the rave executable (default: RAVELAB_RAVE, settings, PATH)"
    )
    parser.add_argument("--runs-dir", help="where run folders go (default: next to the database)")
    parser.add_argument("--version", action="version", version=f"ravelab {__version__}")
    return parser


@dataclass
class AppSession:
    """What the app opened: close it with ``close`` (runs are left running)."""

    app: QApplication
    db: Database
    manager: TrainingManager
    window: MainWindow

    def close(self) -> None:
        """Stop following runs, close the window's workers and the database."""
        self.window.cleanup()
        self.manager.shutdown()
        self.db.close()


def start(argv: Sequence[str] | None = None) -> AppSession | int:
    """Open the database, re-attach to runs and show the main window.

    Returns:
        The session, or an exit code when the database cannot be used (the reason was
        shown in a dialog).
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    tune_interpreter()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName("ravelab")
    from ravelab.gui import style

    style.apply_scheme(app)
    # Imported once the palette is set: the widgets' colours are chosen at import.
    from ravelab.gui.main_window import MainWindow

    db_path = args.db or default_db_path()
    try:
        db = Database(db_path)
    except DatabaseError as error:
        QMessageBox.critical(None, "ravelab cannot open its database", str(error))
        return 1
    # Runs are read and parsed in follower children: the GUI thread never waits on them.
    try:
        manager = TrainingManager(
            db, rave=args.rave, runs_dir=args.runs_dir, follow_out_of_process=True
        )
    except DatabaseError as error:  # e.g. a damaged page under the experiments table
        db.close()
        QMessageBox.critical(None, "ravelab cannot use its database", str(error))
        return 1
    window = MainWindow(manager, QSettings())
    window.show()
    freeze_startup_heap()
    return AppSession(app, db, manager, window)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the desktop app until its window closes; return its exit code."""
    session = start(argv)
    if isinstance(session, int):
        return session
    # Ctrl+C in the terminal closes the window as the close button would (runs go on).
    # Python only sees the signal when it runs: a timer lets it run twice a second.
    signal.signal(signal.SIGINT, lambda _signum, _frame: session.window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(500)
    try:
        code = session.app.exec()
    finally:
        wake.stop()
        session.close()
    return int(code)


def entrypoint() -> None:
    """Console/GUI script entry point: ``sys.exit(main())``."""
    sys.exit(main())
