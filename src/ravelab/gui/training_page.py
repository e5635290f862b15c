"""``TrainingPage``: the original API's page: the runs table, their progress, start and stop, the
selected run's details, log and metrics.

Actions on the selected run (buttons above the table and the table's context menu):
Resume (a stopped or failed run, or extend a completed one, from its newest checkpoint,
named with its step), Stop (says how many steps are lost) and Stop at next checkpoint,
Clone (the wizard pre-filled), Export... (a job, followed in ``ExportDialog``), Compare
(two rows selected: ``CompareDialog``), and its lifetime (``core.runs.lifetime``):
Rename, Notes, Tags, Archive (then listed only under the status filter's "Archived") and
Delete.

Live updates come from ``RunBridge`` (core signals, coalesced to at most 10 a second);
each updates only its run's row. The list itself is read again from the database (in a
worker) only when runs start or end, or the project changes, never in a loop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.display import STOPPING
from ravelab.core.errors import RavelabError
from ravelab.core.runs import lifetime
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import LIVE, DatabaseError, ExperimentRecord, Health, RunStatus
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.experiments_model import (
    ARCHIVED_FILTER,
    EXPERIMENT_ID_ROLE,
    STATUS_FILTERS,
    VALIDATION_METRIC,
    Column,
    ExperimentsFilterProxy,
    ExperimentsModel,
    display_status,
    is_waiting_in_queue,
)
from ravelab.gui.listen_panel import ListenPanel
from ravelab.gui.log_viewer import LogViewer
from ravelab.gui.metrics_plot import MetricsPlot
from ravelab.gui.new_training_wizard import NewTrainingWizard
from ravelab.gui.progress_delegate import ProgressDelegate
from ravelab.gui.qt_bridge import RunBridge
from ravelab.gui.queue_actions import QueueActions
from ravelab.gui.remote_start import run_while_waiting
from ravelab.gui.run_details import RunDetails
from ravelab.gui.run_dialogs import CompareDialog, ExportDialog
from ravelab.gui.run_lifetime_actions import RunLifetimeActions
from ravelab.gui.workers import TaskRunner

logger = logging.getLogger(__name__)

COLUMN_WIDTHS = {
    Column.NAME: 170,
    Column.DATASET: 110,
    Column.CONFIG: 150,
    Column.STATUS: 165,  # room for "queued (2nd on cuda:0)"
    Column.PROGRESS: 230,
    Column.SPEED: 90,
    Column.ETA: 80,
    Column.BEST_VALIDATION: 110,
    Column.STARTED: 130,
    Column.DURATION: 80,
}


#: Statuses a run can be resumed from (a completed run is extended: more steps).
RESUMABLE = (RunStatus.STOPPED, RunStatus.FAILED, RunStatus.COMPLETED)


def _best_validations(manager: TrainingManager, ids: list[int]) -> dict[int, float]:
    best = {}
    for experiment_id in ids:
        values = [
            value
            for _, value in manager.get_metric_history(experiment_id, VALIDATION_METRIC)
            if math.isfinite(value)
        ]
        if values:
            best[experiment_id] = min(values)
    return best


class TrainingPage(RunLifetimeActions, QueueActions, QWidget):
    """The runs of the current project, live.

    Args:
        manager: the training manager (runs start, stop and are read through it).
        app_signals: the application's events.
        bridge: core signals on the GUI thread (one is made when not given).
        project_id: the project whose runs are listed.
        project_name: its name (for the wizard's summary).
        parent: the parent widget.

    Signals:
        experiments_loaded(): the list was (re)read from the database and shown.
        selection_changed(object): the selected run's id (or None).
    """

    experiments_loaded = Signal()
    selection_changed = Signal(object)
    #: An export job ended well (its id): the Models page lists the new model.
    model_exported = Signal(int)

    def __init__(
        self,
        manager: TrainingManager,
        app_signals: AppSignals,
        bridge: RunBridge | None = None,
        project_id: int = 1,
        project_name: str = "Default",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.manager = manager
        self.app_signals = app_signals
        self._owns_bridge = bridge is None
        self.bridge = bridge if bridge is not None else RunBridge(manager, self)
        self.project_id = project_id
        self.project_name = project_name
        self._runner = TaskRunner(self)
        self._selected_id: int | None = None
        self._select_after_load: int | None = None
        self._reload_generation = 0

        # -- toolbar --
        self.new_button = QPushButton("New Training...")
        self.new_button.setToolTip("Start a new RAVE training (a wizard)")
        self.new_button.setDefault(True)
        self.new_button.clicked.connect(self.new_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the selected run (RAVE writes no checkpoint on stop)")
        self.stop_button.clicked.connect(self.stop_selected)
        self.stop_checkpoint_button = QPushButton("Stop at checkpoint")
        self.stop_checkpoint_button.setToolTip(
            "Stop the selected run once RAVE has written its next checkpoint (nothing lost)"
        )
        self.stop_checkpoint_button.clicked.connect(self.stop_selected_at_checkpoint)
        self.resume_button = QPushButton("Resume...")
        self.resume_button.setToolTip(
            "Continue the selected stopped or failed run from its newest checkpoint, or "
            "extend a completed one with more steps"
        )
        self.resume_button.clicked.connect(self.resume_selected)
        # The less frequent actions: a "Run" menu (and the table's context menu).
        self.clone_action = QAction("Clone...", self)
        self.clone_action.setToolTip("A new run with the selected run's settings (the wizard)")
        self.clone_action.triggered.connect(self.clone_selected)
        self.export_action = QAction("Export...", self)
        self.export_action.setToolTip("Export a checkpoint of the selected run (rave export)")
        self.export_action.triggered.connect(self.export_selected)
        self.compare_action = QAction("Compare the two selected runs", self)
        self.compare_action.setToolTip(
            "Select two runs (Ctrl+click) to see how their settings differ"
        )
        self.compare_action.triggered.connect(self.compare_selected)
        self.open_action = QAction("Open run folder", self)
        self.open_action.setToolTip("Open the selected run's folder")
        self.open_action.triggered.connect(self.open_run_folder)
        # A run's lifetime: the same calls as `ravelab rename | note | tag | archive | delete`.
        self.rename_action = QAction("Rename...", self)
        self.rename_action.setToolTip("Give the run another name (its folder stays)")
        self.rename_action.triggered.connect(self.rename_selected)
        self.notes_action = QAction("Notes...", self)
        self.notes_action.setToolTip("Write what this run tries or how it sounds (searched)")
        self.notes_action.triggered.connect(self.edit_notes_selected)
        self.tags_action = QAction("Tags...", self)
        self.tags_action.setToolTip("Short labels, separated by commas (searched, tag:x)")
        self.tags_action.triggered.connect(self.edit_tags_selected)
        self.checkpoints_action = QAction("Checkpoints...", self)
        self.checkpoints_action.setToolTip(
            "How many periodic checkpoints the run keeps (best and latest always stay)"
        )
        self.checkpoints_action.triggered.connect(self.edit_checkpoints_selected)
        self.archive_action = QAction("Archive", self)
        self.archive_action.setToolTip(
            "Hide the selected runs (the status filter's “Archived” lists them)"
        )
        self.archive_action.triggered.connect(self.archive_selected)
        self.delete_action = QAction("Delete...", self)
        self.delete_action.setToolTip("Delete an ended run, and its folder if ravelab made it")
        self.delete_action.triggered.connect(self.delete_selected)
        self.run_menu = QMenu(self)
        self.run_menu.setToolTipsVisible(True)
        for action in (self.clone_action, self.export_action, self.compare_action):
            self.run_menu.addAction(action)
        self.run_menu.addSeparator()
        for action in self._lifetime_actions():
            self.run_menu.addAction(action)
        self.run_menu.addSeparator()
        self.run_menu.addAction(self.open_action)
        self.run_button = QToolButton()
        self.run_button.setText("Run")
        self.run_button.setToolTip(
            "Clone, export, compare, rename, tag, archive or delete the selected run(s)"
        )
        self.run_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.run_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.run_button.setMenu(self.run_menu)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: name, dataset, tag, notes...")
        self.filter_edit.setToolTip(
            "Runs whose name, dataset, config, tags or notes hold every word; tag:x: tag x"
        )
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(100)
        self.filter_edit.setMaximumWidth(260)
        self.status_combo = QComboBox()
        self.status_combo.addItem("All statuses", None)
        for status in STATUS_FILTERS:
            self.status_combo.addItem(status.capitalize(), str(status))
        self.status_combo.addItem("Archived", ARCHIVED_FILTER)
        self.status_combo.setItemData(
            self.status_combo.count() - 1,
            "The archived runs (hidden from the other choices)",
            Qt.ItemDataRole.ToolTipRole,
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.stop_checkpoint_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.run_button)
        buttons.addStretch(3)
        buttons.addWidget(self.filter_edit, 1)  # grows to its maximum width when room
        buttons.addWidget(self.status_combo)

        # -- table --
        self.model = ExperimentsModel(self)
        self.proxy = ExperimentsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(28)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in COLUMN_WIDTHS.items():
            header.resizeSection(column, width)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        self.table.sortByColumn(Column.STARTED, Qt.SortOrder.DescendingOrder)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.open_run_folder())
        self.filter_edit.textChanged.connect(self.proxy.set_text_filter)
        self.status_combo.currentIndexChanged.connect(
            lambda _i: self.proxy.set_status_filter(self.status_combo.currentData())
        )

        # -- the selected run --
        self.details = RunDetails()
        self.log_viewer = LogViewer()
        self.metrics_plot = MetricsPlot(manager)
        self.metrics_plot.checkpoint_action.connect(self._on_checkpoint_action)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.details)
        left_layout.addWidget(self.log_viewer, 1)
        self.bottom_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.bottom_splitter.addWidget(left)
        self.bottom_splitter.addWidget(self.metrics_plot)
        self.bottom_splitter.setStretchFactor(0, 1)
        self.bottom_splitter.setStretchFactor(1, 1)
        # The selected run: its details, log and plots, or its validation clips to hear.
        self.listen_panel = ListenPanel(manager)
        self.details_tabs = QTabWidget()
        self.details_tabs.setDocumentMode(True)
        self.details_tabs.addTab(self.bottom_splitter, "Details")
        self.details_tabs.addTab(self.listen_panel, "Listen")
        self.details_tabs.setTabToolTip(
            1, "Hear the validation clips by step; compare the selected runs"
        )
        # The run's details and log fold away, leaving the plots the whole width (a
        # 1024-pixel screen); the splitter's handle brings them back too.
        self.details_toggle = QToolButton()
        self.details_toggle.setText("Hide details")
        self.details_toggle.setCheckable(True)
        self.details_toggle.setAutoRaise(True)
        self.details_toggle.setToolTip("Fold the run's details and log away (plots full width)")
        self.details_toggle.toggled.connect(self.fold_details)
        self.bottom_splitter.splitterMoved.connect(self._on_bottom_splitter_moved)
        self.details_tabs.setCornerWidget(self.details_toggle, Qt.Corner.TopRightCorner)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.details_tabs)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.splitter, 1)

        # -- live updates --
        self.bridge.run_started.connect(self._on_run_started)
        self.bridge.progress_changed.connect(self._on_progress)
        self.bridge.metrics_changed.connect(self._on_metrics)
        self.bridge.output_arrived.connect(self._on_output)
        self.bridge.status_changed.connect(self._on_status)
        self.bridge.health_changed.connect(self._on_health)
        self.bridge.run_finished.connect(self._on_run_finished)
        self.model_exported.connect(lambda _job: self.app_signals.models_changed.emit())
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._on_clock)
        self._clock.start()
        self._update_buttons()
        self.reload(wait=True)

    # -- loading -------------------------------------------------------------------------------

    def set_project(self, project_id: int, project_name: str) -> None:
        """List another project's runs."""
        self.project_id = project_id
        self.project_name = project_name
        self.reload()

    def reload(self, wait: bool = False) -> None:
        """Read the project's runs again (in a worker; ``wait`` reads here, at startup)."""
        self._reload_generation += 1
        generation = self._reload_generation
        manager, project_id = self.manager, self.project_id

        def work() -> tuple[list[ExperimentRecord], dict[int, float]]:
            experiments = manager.list_records(project_id)
            return experiments, _best_validations(manager, [e.id for e in experiments])

        if wait:
            self._on_loaded(generation, work())
        else:
            self._runner.submit(work, lambda result: self._on_loaded(generation, result))

    def _on_loaded(
        self, generation: int, result: tuple[list[ExperimentRecord], dict[int, float]]
    ) -> None:
        if generation != self._reload_generation:
            return
        experiments, best = result
        self.model.set_experiments(experiments, best)
        if self._select_after_load is not None:
            self.select_experiment(self._select_after_load)
            self._select_after_load = None
        self._refresh_selected()
        self.experiments_loaded.emit()

    def _refresh_one(self, experiment_id: int) -> None:
        """Read one run again (after it started or ended) and update its row."""
        manager = self.manager

        def work() -> tuple[ExperimentRecord | None, dict[int, float]]:
            return manager.get_record(experiment_id), _best_validations(manager, [experiment_id])

        def done(result: tuple[ExperimentRecord | None, dict[int, float]]) -> None:
            experiment, best = result
            if experiment is None or experiment.project_id != self.project_id:
                return
            self.model.update_experiment(experiment, best.get(experiment_id))
            self._refresh_selected()
            self.experiments_loaded.emit()

        self._runner.submit(work, done)

    # -- selection -----------------------------------------------------------------------------

    @property
    def selected_id(self) -> int | None:
        """The selected run's id, or None."""
        return self._selected_id

    def selected_experiment(self) -> ExperimentRecord | None:
        """The selected run (as the table shows it), or None."""
        if self._selected_id is None:
            return None
        return self.model.experiment_by_id(self._selected_id)

    def select_experiment(self, experiment_id: int) -> bool:
        """Select a run's row (and scroll to it); False when it is not listed."""
        row = self.model.row_of(experiment_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectionModel().select(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)
        return True

    def selected_ids(self) -> list[int]:
        """The ids of every selected row (Compare takes two)."""
        rows = self.table.selectionModel().selectedRows()
        return [int(row.data(EXPERIMENT_ID_ROLE)) for row in sorted(rows, key=lambda r: r.row())]

    def _on_selection_changed(self, *_args: object) -> None:
        rows = self.table.selectionModel().selectedRows()
        current = self.table.currentIndex()
        chosen = next((r for r in rows if current.isValid() and r.row() == current.row()), None)
        if chosen is None and rows:
            chosen = rows[0]
        experiment_id = int(chosen.data(EXPERIMENT_ID_ROLE)) if chosen is not None else None
        primary = self.model.experiment_by_id(experiment_id) if experiment_id is not None else None
        others = [self.model.experiment_by_id(int(r.data(EXPERIMENT_ID_ROLE))) for r in rows]
        self.listen_panel.show_runs(primary, [o for o in others if o is not None])
        plotted = [r for r in (primary, *others) if r is not None]  # overlaid, primary first
        self.metrics_plot.show_runs([(r.id, r.name) for r in plotted])
        if experiment_id == self._selected_id:
            self._update_buttons()
            return
        self._selected_id = experiment_id
        experiment = self.selected_experiment()
        self.details.show_experiment(experiment)
        self.log_viewer.show_run(experiment)
        self._update_buttons()
        self.selection_changed.emit(experiment_id)

    def _refresh_selected(self) -> None:
        experiment = self.selected_experiment()
        if experiment is None and self._selected_id is not None:
            self._on_selection_changed()  # the selected run left the list
            return
        if experiment is not None:
            self.details.update_experiment(experiment)
            self.listen_panel.update_experiment(experiment)
        self._update_buttons()

    def _update_buttons(self) -> None:
        experiment = self.selected_experiment()
        status = display_status(experiment) if experiment else None
        at_checkpoint = experiment is not None and experiment.progress.stopping_at_checkpoint
        self.stop_button.setEnabled(status in LIVE)
        self.stop_checkpoint_button.setEnabled(status == RunStatus.RUNNING and not at_checkpoint)
        imported = experiment is not None and bool(experiment.config.get("imported_from"))
        self.resume_button.setEnabled(status in RESUMABLE and not imported)
        self.resume_button.setText(
            "Extend..." if status == RunStatus.COMPLETED and not imported else "Resume..."
        )
        self.clone_action.setEnabled(
            experiment is not None and not experiment.config.get("imported_from")
        )
        self.export_action.setEnabled(bool(experiment and experiment.run_dir))
        self.compare_action.setEnabled(len(self.table.selectionModel().selectedRows()) == 2)
        self.open_action.setEnabled(bool(experiment and experiment.run_dir))
        self.checkpoints_action.setEnabled(bool(experiment and experiment.run_dir))
        for action in (self.rename_action, self.notes_action, self.tags_action):
            action.setEnabled(experiment is not None)
        selected = self._selected_records()
        self.archive_action.setEnabled(bool(selected))
        every_archived = bool(selected) and all(record.archived for record in selected)
        self.archive_action.setText("Unarchive" if every_archived else "Archive")
        self.delete_action.setEnabled(experiment is not None and experiment.ended_at is not None)

    def _lifetime_actions(self) -> tuple[QAction, ...]:
        return (
            self.rename_action,
            self.notes_action,
            self.tags_action,
            self.checkpoints_action,
            self.archive_action,
            self.delete_action,
        )

    def _selected_records(self) -> list[ExperimentRecord]:
        found = (self.model.experiment_by_id(i) for i in self.selected_ids())
        return [record for record in found if record is not None]

    def _show_context_menu(self, position: QPoint) -> None:
        menu = self.context_menu()
        menu.exec(self.table.viewport().mapToGlobal(position))
        menu.deleteLater()

    def context_menu(self) -> QMenu:
        """The table's context menu: the toolbar's actions on the selected run(s)."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        for button in (self.stop_button, self.stop_checkpoint_button, self.resume_button):
            action = menu.addAction(button.text())
            action.setEnabled(button.isEnabled())
            action.setToolTip(button.toolTip())
            action.triggered.connect(button.click)
        menu.addSeparator()
        for action in (self.clone_action, self.export_action, self.compare_action):
            menu.addAction(action)
        menu.addSeparator()
        for action in self._lifetime_actions():
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.open_action)
        self.add_queue_actions(menu)
        return menu

    # -- live updates (from the bridge, on the GUI thread) -------------------------------------

    def _on_run_started(self, experiment_id: int) -> None:
        self.app_signals.training_started.emit(experiment_id)
        self.app_signals.experiments_changed.emit()
        if self.model.row_of(experiment_id) is None:
            self._refresh_one(experiment_id)

    def _on_progress(self, experiment_id: int, progress: Mapping[str, object]) -> None:
        updated = self.model.update_progress(experiment_id, progress)
        if updated and experiment_id == self._selected_id:
            self._refresh_selected()

    def _on_metrics(self, experiment_id: int, metrics: Mapping[str, object]) -> None:
        self.model.update_metrics(experiment_id, metrics)
        self.metrics_plot.notify_metrics(experiment_id)

    def _on_output(self, experiment_id: int) -> None:
        if experiment_id == self._selected_id:
            self.log_viewer.notify_output()

    def _on_status(self, experiment_id: int, status: str, detail: str) -> None:
        known = RunStatus.parse(status)
        updated = known is not None and self.model.update_status(
            experiment_id, known, reason=detail or None
        )
        if updated and experiment_id == self._selected_id:
            self._refresh_selected()

    def _on_health(self, experiment_id: int, health: str, detail: str) -> None:
        updated = self.model.update_health(experiment_id, Health.parse(health), detail or None)
        if updated and experiment_id == self._selected_id:
            self._refresh_selected()

    def _on_run_finished(self, experiment_id: int, status: str) -> None:
        known = RunStatus.parse(status)
        if known is not None:
            self.model.update_status(experiment_id, known)
        if experiment_id == self._selected_id:
            self.log_viewer.notify_finished()
            self.metrics_plot.notify_metrics(experiment_id)
        self._refresh_one(experiment_id)
        self.app_signals.training_completed.emit(experiment_id, status)
        self.app_signals.experiments_changed.emit()

    def _on_clock(self) -> None:
        self.model.refresh_times()
        experiment = self.selected_experiment()
        if experiment is not None and display_status(experiment) in (RunStatus.RUNNING, STOPPING):
            self.details.update_experiment(experiment)

    # -- actions -------------------------------------------------------------------------------

    def fold_details(self, folded: bool) -> None:
        """Fold the details and log pane away (the plots take the width), or bring it back."""
        sizes = self.bottom_splitter.sizes()
        total = sum(sizes) or self.bottom_splitter.width()
        if folded and sizes[0] > 0:
            self._details_width = sizes[0]
            self.bottom_splitter.setSizes([0, total])
        elif not folded and sizes[0] == 0:
            width = getattr(self, "_details_width", 0) or total // 2
            self.bottom_splitter.setSizes([width, max(total - width, 0)])
        self.details_toggle.setText("Show details" if folded else "Hide details")
        if self.details_toggle.isChecked() != folded:
            self.details_toggle.setChecked(folded)

    def _on_bottom_splitter_moved(self, _pos: int, _index: int) -> None:
        folded = self.bottom_splitter.sizes()[0] == 0
        if self.details_toggle.isChecked() != folded:
            self.details_toggle.blockSignals(True)
            self.details_toggle.setChecked(folded)
            self.details_toggle.blockSignals(False)
            self.details_toggle.setText("Show details" if folded else "Hide details")

    def make_wizard(self, dataset_id: int | None = None) -> NewTrainingWizard:
        """The wizard for a new run of the current project (on ``dataset_id`` if given)."""
        wizard = NewTrainingWizard(self.manager, self.project_id, self.project_name, self)
        wizard.dataset_added.connect(lambda _id: self.app_signals.datasets_changed.emit())
        wizard.rave_changed.connect(self.app_signals.rave_changed)
        if dataset_id is not None:
            wizard.dataset_page.select_dataset(dataset_id)
        return wizard

    def new_training(self, dataset_id: int | None = None) -> int | None:
        """Open the wizard (on ``dataset_id`` if given), then start the run it describes;
        its id, or None."""
        wizard = self.make_wizard(dataset_id)
        try:
            if wizard.exec() != QDialog.DialogCode.Accepted:
                return None
            return self.start_from_wizard(wizard)
        finally:
            wizard.deleteLater()

    def start_from_wizard(self, wizard: NewTrainingWizard) -> int | None:
        """Start (or queue: "Add to queue") the run a finished wizard describes; errors
        are shown in a dialog."""
        return self.start_training(
            wizard.get_config(),
            queue=wizard.queue_requested,
            keep_periodic=wizard.confirm_page.keep_periodic,
        )

    def start_training(
        self,
        config: Mapping[str, Any],
        *,
        queue: bool = False,
        keep_periodic: int | str | None = None,
    ) -> int | None:
        """``manager.start_training(config)`` (``queue_training`` with ``queue``), its row
        selected; None (and a dialog) on error."""
        try:
            if queue:
                experiment_id = self.manager.queue_training(config, keep_periodic=keep_periodic)
            elif config.get("executor") == "ssh":
                remote = (config.get("executor_options") or {}).get("remote")
                experiment_id = run_while_waiting(
                    self,
                    f"Sending the dataset to {remote} (only what changed) and starting "
                    "the run there...",
                    lambda say: self.manager.start_training(
                        config, keep_periodic=keep_periodic, progress=say
                    ),
                )
            else:
                experiment_id = self.manager.start_training(config, keep_periodic=keep_periodic)
        except (RavelabError, DatabaseError, OSError) as error:
            QMessageBox.critical(self, "The training could not start", str(error))
            return None
        experiment = self.manager.get_record(experiment_id)
        if experiment is not None and experiment.project_id == self.project_id:
            self.model.update_experiment(experiment)
            self.select_experiment(experiment_id)
        self.app_signals.experiments_changed.emit()
        return experiment_id

    def stop_selected(self) -> bool:
        """Ask for confirmation, then stop the selected run; True when asked to stop."""
        experiment = self.selected_experiment()
        if experiment is None or display_status(experiment) not in LIVE:
            return False
        val_every = experiment.config.get("val_every")
        cadence = f" (every {val_every:,} steps)" if isinstance(val_every, int) else ""
        experiment_id = experiment.id
        try:
            lost = self.manager.steps_since_checkpoint(experiment_id)
        except (RavelabError, DatabaseError, OSError):
            lost = None
        if lost is None:
            loss = ""
        elif lost > 0:
            loss = (
                f"\n\nStopping now loses {lost:,} step{'s' if lost != 1 else ''}. "
                "“Stop at checkpoint” waits for the next checkpoint instead."
            )
        else:
            loss = "\n\nNothing is lost now: the last checkpoint is at the current step."
        text = (
            "RAVE writes no checkpoint when it is stopped: what it trained since its last "
            f"checkpoint, saved at each validation{cadence}, is lost.{loss}"
        )
        if is_waiting_in_queue(experiment):
            text = "It waits in the queue and never started: it ends as stopped and is kept."
        answer = QMessageBox.question(
            self,
            "Stop this run?",
            f"Stop “{experiment.name}”?\n\n{text}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        try:
            stopped = self.manager.stop_training(experiment_id)
        except (RavelabError, DatabaseError, OSError) as error:
            QMessageBox.critical(self, "The run could not be stopped", str(error))
            return False
        updated = self.manager.get_record(experiment_id)
        if updated is not None:
            self.model.update_experiment(updated)
        self._refresh_selected()
        return stopped

    def stop_selected_at_checkpoint(self) -> bool:
        """Ask the selected run to stop once its next checkpoint is written."""
        experiment = self.selected_experiment()
        if experiment is None or display_status(experiment) != RunStatus.RUNNING:
            return False
        experiment_id = experiment.id
        try:
            asked = self.manager.stop_training(experiment_id, at_checkpoint=True)
        except (RavelabError, DatabaseError, OSError) as error:
            QMessageBox.critical(self, "The run could not be stopped", str(error))
            return False
        if not asked:
            QMessageBox.warning(
                self, "The run could not be stopped", "The run is not running any more."
            )
        self._reread(experiment_id)
        return asked

    def resume_selected(self) -> bool:
        """Ask for a new max steps (optional), then resume the selected run; True when
        it was resumed. Errors (no checkpoint...) are shown in a dialog, nothing changes."""
        experiment = self.selected_experiment()
        return experiment is not None and self.resume_run(experiment)

    def resume_run(
        self, experiment: ExperimentRecord, checkpoint: str | None = None, step: int | None = None
    ) -> bool:
        """Ask for a new max steps, then resume ``experiment`` from ``checkpoint`` (at
        ``step``), else from its newest checkpoint; True when it was resumed."""
        if display_status(experiment) not in RESUMABLE:
            QMessageBox.information(
                self, "The run cannot be resumed now", "Stop it first: it is still going."
            )
            return False
        experiment_id = experiment.id
        current = int(experiment.config.get("max_steps") or 1)
        step_now = experiment.progress.step
        completed = experiment.status == RunStatus.COMPLETED
        point = lifetime.resume_point(self.manager.db, experiment)
        if checkpoint is not None:
            point = lifetime.ResumePoint(Path(checkpoint), step)
        if point is None:
            start = "its newest checkpoint (none is written yet)"
        else:
            at = f"step {point.step:,}" if point.step is not None else "an unknown step"
            version = point.path.parent.parent.name
            which = "the checkpoint" if checkpoint is not None else "its newest checkpoint"
            start = f"{which} {point.path.name} ({version}) at {at}"
            if point.step is not None and point.step < step_now:
                start += f"; the {step_now - point.step:,} steps after it are trained again"
        # A completed run reached its steps: extending it offers half as many again.
        offered = current + max(1, current // 2) if completed else max(current, step_now + 1)
        max_steps, ok = QInputDialog.getInt(
            self,
            "Extend the run" if completed else "Resume the run",
            f"{'Extend' if completed else 'Resume'} “{experiment.name}” from {start}."
            "\n\nTrain until step:",
            offered,
            1,
            2_000_000_000,
            1000,
        )
        if not ok:
            return False
        try:
            self.manager.resume_training(
                experiment_id,
                checkpoint=checkpoint,
                max_steps=None if max_steps == current else max_steps,
            )
        except (RavelabError, DatabaseError, OSError) as error:
            QMessageBox.critical(self, "The run could not be resumed", str(error))
            return False
        self._reread(experiment_id)
        self.app_signals.experiments_changed.emit()
        return True

    def make_clone_wizard(self) -> NewTrainingWizard | None:
        """The wizard pre-filled with the selected run's settings (None, and a dialog,
        when they cannot be cloned)."""
        experiment = self.selected_experiment()
        if experiment is None:
            return None
        try:
            config = self.manager.clone_config(experiment.id)
        except (RavelabError, DatabaseError) as error:
            QMessageBox.critical(self, "The run cannot be cloned", str(error))
            return None
        wizard = self.make_wizard()
        wizard.setWindowTitle(f"New training like “{experiment.name}”")
        wizard.prefill(config)
        return wizard

    def clone_selected(self) -> int | None:
        """Open the wizard pre-filled from the selected run; start what it returns."""
        wizard = self.make_clone_wizard()
        if wizard is None:
            return None
        try:
            if wizard.exec() != QDialog.DialogCode.Accepted:
                return None
            return self.start_from_wizard(wizard)
        finally:
            wizard.deleteLater()

    def make_export_dialog(
        self, experiment: ExperimentRecord | None = None, checkpoint: str | None = None
    ) -> ExportDialog | None:
        """The export dialog for ``experiment`` (the selected run by default), on
        ``checkpoint`` if given (not shown yet)."""
        experiment = experiment or self.selected_experiment()
        if experiment is None or not experiment.run_dir:
            return None
        dialog = ExportDialog(self.manager, experiment, self)
        dialog.exported.connect(self.model_exported)
        if checkpoint is not None:
            dialog.select_checkpoint(checkpoint)
        return dialog

    def _on_checkpoint_action(self, experiment_id: int, checkpoint: str, action: str) -> None:
        """A checkpoint's mark on the plot: export it, or resume its run from it."""
        experiment = self.model.experiment_by_id(experiment_id)
        if experiment is None:
            return
        if action == "export":
            dialog = self.make_export_dialog(experiment, checkpoint)
            if dialog is not None:
                dialog.exec()
                dialog.deleteLater()
        elif action == "resume":
            try:
                listed = self.manager.list_checkpoints(experiment_id)
            except (RavelabError, DatabaseError, OSError):
                listed = []
            steps = [c.get("step") for c in listed if str(c.get("path")) == checkpoint]
            step = steps[0] if steps and isinstance(steps[0], int) else None
            self.resume_run(experiment, checkpoint, step)

    def export_selected(self) -> None:
        """Open the export dialog for the selected run."""
        dialog = self.make_export_dialog()
        if dialog is not None:
            dialog.exec()
            dialog.deleteLater()

    def make_compare_dialog(self) -> CompareDialog | None:
        """The settings two selected runs differ in (None unless two are selected)."""
        ids = self.selected_ids()
        if len(ids) != 2:
            return None
        first, second = (self.model.experiment_by_id(i) for i in ids)
        if first is None or second is None:
            return None
        return CompareDialog(first, second, self)

    def compare_selected(self) -> None:
        """Show how the two selected runs' settings differ."""
        dialog = self.make_compare_dialog()
        if dialog is not None:
            dialog.exec()
            dialog.deleteLater()

    def _reread(self, experiment_id: int) -> None:
        updated = self.manager.get_record(experiment_id)
        if updated is not None:
            self.model.update_experiment(updated)
        self._refresh_selected()

    def open_run_folder(self) -> bool:
        """Open the selected run's folder in the file manager."""
        experiment = self.selected_experiment()
        run_dir = experiment.run_dir if experiment else None
        if not run_dir or not Path(run_dir).exists():
            return False
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(run_dir))))

    # -- lifetime ------------------------------------------------------------------------------

    def cleanup(self) -> None:
        """Stop timers, workers and signal connections (the page is going away)."""
        self._clock.stop()
        self._runner.shutdown()
        self.log_viewer.cleanup()
        self.metrics_plot.cleanup()
        self.listen_panel.cleanup()
        if self._owns_bridge:
            self.bridge.cleanup()


__all__ = ["TrainingPage"]
