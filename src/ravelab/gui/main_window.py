"""``MainWindow``: the Training and Datasets pages, the project toolbar and the status bar.

The window owns the ``AppSignals`` and the ``RunBridge`` and hands them to its pages.
Closing it never stops a run: runs are detached, and the next start re-attaches to them.

Other processes (a CLI in a terminal, another app window) change the same database: a
timer asks a ``DatabaseWatch`` (in a worker) about twice a second, and the pages whose
lists changed read them again; runs started elsewhere are followed here too.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QToolBar,
    QWidget,
)

from ravelab.core.runs.database_watch import DatabaseWatch
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.datasets_page import DatasetsPage
from ravelab.gui.gpu_gauge import GpuGauge
from ravelab.gui.models_page import ModelsPage
from ravelab.gui.notification_tray import NotificationTray
from ravelab.gui.project_selector import ProjectSelector
from ravelab.gui.qt_bridge import RunBridge
from ravelab.gui.rave_actions import RaveStatus, check_rave, choose_rave_executable
from ravelab.gui.rave_install import RaveInstaller, ask_and_install
from ravelab.gui.style import ERROR_STYLE
from ravelab.gui.training_page import TrainingPage
from ravelab.gui.workers import TaskRunner

logger = logging.getLogger(__name__)

GEOMETRY_KEY = "main_window/geometry"

#: How often the database is asked whether another process changed it (milliseconds):
#: a change made elsewhere shows within about a second.
WATCH_INTERVAL_MS = 500


class MainWindow(QMainWindow):
    """ravelab's main window.

    Args:
        manager: the training manager (it re-attached to live runs when created).
        settings: where the window geometry is kept (QSettings; geometry only).
        confirm_close: ask before closing while runs train (off in some tests).
        parent: the parent widget.
    """

    def __init__(
        self,
        manager: TrainingManager,
        settings: QSettings | None = None,
        confirm_close: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.manager = manager
        self.db = manager.db
        self.settings = settings
        self.confirm_close = confirm_close
        self._cleaned_up = False
        self.rave_status: RaveStatus | None = None
        self.setWindowTitle("ravelab")
        self.app_signals = AppSignals(self)
        self.bridge = RunBridge(manager, self)
        self._runner = TaskRunner(self)

        self.projects = ProjectSelector(self.db)
        toolbar = QToolBar("Project")
        toolbar.setObjectName("project_toolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(self.projects)
        self.addToolBar(toolbar)

        self.training_page = TrainingPage(
            manager,
            self.app_signals,
            self.bridge,
            self.projects.project_id,
            self.projects.project_name,
        )
        self.datasets_page = DatasetsPage(
            self.db, self.app_signals, self.projects.project_id, manager=manager
        )
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.training_page, "Training")
        self.models_page = ModelsPage(self.db, self.app_signals)
        self.tabs.addTab(self.datasets_page, "Datasets")
        self.tabs.addTab(self.models_page, "Models")
        self.setCentralWidget(self.tabs)
        self.datasets_page.train_requested.connect(self.train_on_dataset)

        self.db_label = QLabel(f"Database: {self.db.path}")
        self.db_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rave_label = QLabel("rave: looking...")
        self.rave_button = QPushButton("Set rave executable...")
        self.rave_button.setFlat(True)
        self.rave_button.setToolTip("Choose the `rave` command of your RAVE installation")
        self.rave_button.clicked.connect(self.choose_rave)
        self.statusBar().addWidget(self.db_label, 1)
        self.install_button = QPushButton("Install RAVE...")
        self.install_button.setFlat(True)
        self.install_button.setToolTip(
            "Install acids-rave 2.3.1 with the versions that work, in its own environment"
        )
        self.install_button.clicked.connect(self.install_rave)
        self.install_button.hide()
        self.installer: RaveInstaller | None = None
        self.gpu_gauge = GpuGauge(self)
        self.statusBar().addPermanentWidget(self.gpu_gauge)
        self.statusBar().addPermanentWidget(self.rave_label)
        self.statusBar().addPermanentWidget(self.install_button)
        self.statusBar().addPermanentWidget(self.rave_button)

        self.projects.project_changed.connect(self._on_project_changed)
        self.projects.projects_changed.connect(self.app_signals.projects_changed)
        self.app_signals.rave_changed.connect(self.check_rave)
        self.app_signals.training_completed.connect(self._on_training_completed)
        self._watch = DatabaseWatch(self.db)
        self._watch_problem = ""
        self._watch_runner = TaskRunner(self)
        self._watch_timer = QTimer(self)
        self._watch_timer.setInterval(WATCH_INTERVAL_MS)
        self._watch_timer.timeout.connect(self.poll_database)
        self._watch_timer.start()
        settings_menu = self.menuBar().addMenu("&Settings")
        self.notifications_action = settings_menu.addAction("&Notifications...")
        self.notifications_action.triggered.connect(self.open_notifications)
        self.remotes_action = settings_menu.addAction("&Remotes...")
        self.remotes_action.triggered.connect(self.open_remotes)
        self.tray = NotificationTray(self.db, self)
        self.tray.event_shown.connect(self._show_event)
        self.tray.settings_requested.connect(self.open_notifications)
        self.resize(1400, 900)
        self._restore_geometry()
        self.check_rave()
        live = len(manager.active_processes)
        if live:
            self.statusBar().showMessage(
                f"Re-attached to {live} run{'s' if live != 1 else ''} still training.", 10_000
            )

    # -- projects ------------------------------------------------------------------------------

    def _on_project_changed(self, project_id: int, name: str) -> None:
        self.training_page.set_project(project_id, name)
        self.datasets_page.project_id = project_id
        self.app_signals.project_changed.emit(project_id)

    def _on_training_completed(self, experiment_id: int, status: str) -> None:
        experiment = self.training_page.model.experiment_by_id(experiment_id)
        name = experiment.name if experiment else experiment_id
        self.statusBar().showMessage(f"Run {name} ended: {status}.", 15_000)

    # -- changes made by other processes -------------------------------------------------------

    def poll_database(self) -> None:
        """Ask (in a worker) what other processes changed; one question at a time."""
        if self._watch_runner.busy:
            return
        watch, manager = self._watch, self.manager

        def work() -> tuple[set[str], list[int]]:
            changed = watch.poll()
            # A run started or resumed elsewhere is followed here too (its progress live).
            taken = manager.follow_new_runs() if "runs" in changed else []
            return changed, taken

        self._watch_runner.submit(work, self._on_database_changed, self._on_watch_error)

    def _on_database_changed(self, result: tuple[set[str], list[int]]) -> None:
        changed, taken = result
        if taken:
            self.bridge.follow_active()
        if "runs" in changed:
            self.training_page.reload()
            self.app_signals.experiments_changed.emit()
        if changed & {"datasets", "jobs"}:
            self.app_signals.datasets_changed.emit()
        if changed & {"models", "jobs"}:
            self.app_signals.models_changed.emit()

    def _on_watch_error(self, error: BaseException) -> None:
        # A busy or damaged file: said once in the log (not at every tick); the next tick
        # asks again.
        if str(error) != self._watch_problem:
            self._watch_problem = str(error)
            logger.warning("watching the database for other processes' changes: %s", error)

    # -- rave ----------------------------------------------------------------------------------

    def train_on_dataset(self, dataset_id: int) -> int | None:
        """Show the Training page and its wizard with ``dataset_id`` chosen; the new run's
        id, or None."""
        self.tabs.setCurrentWidget(self.training_page)
        return self.training_page.new_training(dataset_id)

    def _show_event(self, text: str) -> None:
        self.statusBar().showMessage(text, 15_000)

    def open_notifications(self) -> None:
        """The notification channels dialog (modal)."""
        from ravelab.gui.notifications_dialog import NotificationsDialog

        NotificationsDialog(self.db, self).exec()

    def open_remotes(self) -> None:
        """The SSH remotes dialog (modal)."""
        from ravelab.gui.remotes_dialog import RemotesDialog

        RemotesDialog(self.db, self).exec()

    def check_rave(self) -> None:
        """Find ``rave`` and its version in a worker; show the result in the status bar."""
        self.rave_label.setText("rave: looking...")
        explicit, db = self.manager.rave, self.db
        self._runner.submit(lambda: check_rave(explicit, db), self._on_rave_checked)

    def _on_rave_checked(self, status: RaveStatus) -> None:
        self.rave_status = status
        if status.found:
            self.rave_label.setText(status.summary())
            self.rave_label.setStyleSheet("")
            self.rave_label.setToolTip(str(status.path))
            self.rave_button.setText("Change...")
            self.install_button.hide()
        else:
            self.rave_label.setText("rave not found: runs cannot start")
            self.rave_label.setStyleSheet(f"{ERROR_STYLE} font-weight: 600;")
            self.rave_label.setToolTip(status.problem or "")
            self.rave_button.setText("Set rave executable...")
            self.install_button.setVisible(self.installer is None or not self.installer.running)

    def install_rave(self) -> None:
        """Install RAVE in a managed environment (after asking), then use it."""
        installer = ask_and_install(self, self.db, self._on_rave_installed)
        if installer is None:
            return
        self.installer = installer
        self.install_button.hide()
        self.rave_label.setText("rave: installing...")

    def _on_rave_installed(self, ok: bool, message: str) -> None:
        if ok:
            self.statusBar().showMessage(f"RAVE installed: {message}", 15_000)
        else:
            QMessageBox.warning(self, "RAVE was not installed", message)
        self.app_signals.rave_changed.emit()

    def choose_rave(self) -> bool:
        """Let the user pick the ``rave`` executable (stored in the DB settings)."""
        if choose_rave_executable(self, self.db):
            self.app_signals.rave_changed.emit()
            return True
        return False

    # -- geometry and closing ------------------------------------------------------------------

    def _restore_geometry(self) -> None:
        if self.settings is None:
            return
        geometry = self.settings.value(GEOMETRY_KEY)
        if geometry is not None:
            self.restoreGeometry(geometry)

    def _save_geometry(self) -> None:
        if self.settings is None:
            return
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        running = self.manager.running_count()
        if running and self.confirm_close:
            plural = "runs keep" if running != 1 else "run keeps"
            answer = QMessageBox.question(
                self,
                "Close ravelab?",
                f"{running} {plural} training in the background; ravelab will re-attach "
                "next time.\n\nClosing ravelab never stops a run (use Stop for that).",
                QMessageBox.StandardButton.Close | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Close,
            )
            if answer != QMessageBox.StandardButton.Close:
                event.ignore()
                return
        self._save_geometry()
        self.cleanup()
        event.accept()

    def cleanup(self) -> None:
        """Stop workers, timers and signal connections (runs are not touched)."""
        if self._cleaned_up:
            return
        self._cleaned_up = True
        self._watch_timer.stop()
        self._watch_runner.shutdown()
        self.tray.cleanup()
        self._runner.shutdown()
        self.gpu_gauge.cleanup()
        self.training_page.cleanup()
        self.datasets_page.cleanup()
        self.models_page.cleanup()
        self.bridge.cleanup()
