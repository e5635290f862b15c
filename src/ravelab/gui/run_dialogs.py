"""Dialogs for actions on runs: ``ExportDialog`` (``rave export`` as a job, followed to its
result), ``CompareDialog`` (the settings two runs differ in), and for a run's lifetime
``NotesDialog`` and ``DeleteRunDialog`` (what goes; the folder only when ravelab made it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.errors import RavelabError
from ravelab.core.runs import run_queries
from ravelab.core.runs.compare import diff_configs
from ravelab.core.runs.lifetime import MAX_NOTES, folder_to_delete
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import DatabaseError, ExperimentRecord, JobRecord, RunStatus
from ravelab.gui import formatting
from ravelab.gui.job_watcher import JobWatcher, describe_progress
from ravelab.gui.style import ERROR_STYLE, HINT_STYLE

#: RAVE's default fidelity (``rave export --fidelity``): not passed when unchanged.
DEFAULT_FIDELITY = 0.95


def _checkpoint_label(checkpoint: dict[str, Any]) -> str:
    step = checkpoint.get("step")
    at = f", step {step:,}" if isinstance(step, int) else ""
    return f"{Path(str(checkpoint['path'])).name} (version {checkpoint.get('version')}{at})"


class ExportDialog(QDialog):
    """Export one run's checkpoint to a TorchScript model, followed to its end.

    Args:
        manager: starts the job (``manager.jobs.export_model``).
        experiment: the run's dict.
        parent: the parent widget.

    Signals:
        exported(int): the export job ended well (its id).
    """

    exported = Signal(int)

    def __init__(
        self,
        manager: TrainingManager,
        experiment: ExperimentRecord,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.manager = manager
        self.experiment_id = experiment.id
        self.job_id: int | None = None
        self.watcher: JobWatcher | None = None
        self.model_path: str | None = None
        self.setWindowTitle(f"Export “{experiment.name}”")
        self.setMinimumWidth(520)

        self.checkpoint = QComboBox()
        self.checkpoint.addItem("Best (best.ckpt, lowest validation loss)", "best")
        self.checkpoint.addItem("Latest (the newest checkpoint)", "latest")
        try:
            listed = manager.list_checkpoints(self.experiment_id)
        except (RavelabError, DatabaseError, OSError):
            listed = []
        for checkpoint in listed:
            self.checkpoint.addItem(_checkpoint_label(checkpoint), str(checkpoint["path"]))
        self.checkpoint.setToolTip("The checkpoint to export")
        self.streaming = QCheckBox("Streaming (cached convolutions; for nn~ and the VST)")
        self.streaming.setChecked(True)
        self.fidelity = QDoubleSpinBox()
        self.fidelity.setRange(0.5, 1.0)
        self.fidelity.setSingleStep(0.01)
        self.fidelity.setDecimals(2)
        self.fidelity.setValue(DEFAULT_FIDELITY)
        self.fidelity.setToolTip(
            "--fidelity: the share of the latent variance kept; it sets the latent size. "
            f"RAVE's default: {DEFAULT_FIDELITY}."
        )
        self.status = QLabel("Choose what to export, then Export.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setStyleSheet(HINT_STYLE)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.path_edit = QLineEdit()
        self.path_edit.setReadOnly(True)
        self.path_edit.setToolTip("Where the model was written")
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Open the folder of the exported model")
        self.open_button.clicked.connect(self.open_folder)
        self.result_row = QWidget()
        result_layout = QHBoxLayout(self.result_row)
        result_layout.setContentsMargins(0, 0, 0, 0)
        result_layout.addWidget(self.path_edit, 1)
        result_layout.addWidget(self.open_button)
        self.result_row.hide()

        form = QFormLayout()
        form.addRow("Checkpoint:", self.checkpoint)
        form.addRow("", self.streaming)
        form.addRow("Fidelity:", self.fidelity)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.buttons.addButton(self.export_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.clicked.connect(self.start_export)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.result_row)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

    def select_checkpoint(self, path: str) -> None:
        """Choose the checkpoint file ``path`` (added to the list if it is not in it)."""
        index = self.checkpoint.findData(path)
        if index < 0:
            self.checkpoint.addItem(Path(path).name, path)
            index = self.checkpoint.count() - 1
        self.checkpoint.setCurrentIndex(index)

    def options(self) -> dict[str, Any]:
        """The keyword arguments for ``export_model``."""
        fidelity = round(self.fidelity.value(), 2)
        return {
            "checkpoint": str(self.checkpoint.currentData()),
            "streaming": self.streaming.isChecked(),
            "fidelity": None if fidelity == DEFAULT_FIDELITY else fidelity,
        }

    def start_export(self) -> int | None:
        """Start the export job (errors are shown here); its id, or None."""
        try:
            job_id = self.manager.jobs.export_model(self.experiment_id, **self.options())
        except (RavelabError, DatabaseError, OSError) as error:
            self._show_error(f"The export could not start: {error}")
            return None
        self.job_id = job_id
        for widget in (self.checkpoint, self.streaming, self.fidelity, self.export_button):
            widget.setEnabled(False)
        self.status.setStyleSheet(HINT_STYLE)
        self.status.setText("Exporting...")
        self.progress.show()
        self.watcher = JobWatcher(self.manager.jobs, job_id, parent=self)
        self.watcher.updated.connect(self._on_update)
        self.watcher.finished.connect(self._on_finished)
        return job_id

    def _show_error(self, text: str) -> None:
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(text)

    def _on_update(self, job: JobRecord) -> None:
        if job.ended_at is None:
            self.status.setText(f"Exporting: {describe_progress(job)}")

    def _on_finished(self, job: JobRecord) -> None:
        self.progress.hide()
        if job.status == RunStatus.COMPLETED:
            models = [m for m in run_queries.list_models(self.manager.db) if m.job_id == job.id]
            self.model_path = models[0].path if models else job.options.get("expected_path")
            size = f" ({formatting.size(models[0].size_bytes)})" if models else ""
            self.status.setStyleSheet("")
            self.status.setText(f"Exported{size}: the model is listed on the Models page.")
            self.path_edit.setText(str(self.model_path or ""))
            self.path_edit.setCursorPosition(0)
            self.result_row.show()
            self.exported.emit(job.id)
        else:
            self._show_error(
                f"The export {job.status}: {job.reason or 'see the job log'}"
                if job.status != RunStatus.STOPPED
                else "The export was stopped."
            )
            self.export_button.setEnabled(True)
            for widget in (self.checkpoint, self.streaming, self.fidelity):
                widget.setEnabled(True)

    def open_folder(self) -> bool:
        """Open the exported model's folder in the file manager."""
        if not self.model_path:
            return False
        folder = Path(self.model_path).parent
        return folder.is_dir() and QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def done(self, result: int) -> None:
        if self.watcher is not None and not self.watcher.done:
            # The job goes on; its model is listed on the Models page when it ends.
            self.watcher.stop()
        super().done(result)


class CompareDialog(QDialog):
    """The settings in which two runs differ (``diff_configs``)."""

    def __init__(
        self,
        first: ExperimentRecord,
        second: ExperimentRecord,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare runs")
        self.setMinimumSize(560, 320)
        self.differences = diff_configs(first.config, second.config)
        names = [first.name, second.name]
        self.table = QTableWidget(len(self.differences), 3)
        self.table.setHorizontalHeaderLabels(["Setting", *names])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for row, (key, a, b) in enumerate(self.differences):
            for column, value in enumerate((key, _text(a), _text(b))):
                self.table.setItem(row, column, QTableWidgetItem(value))
        summary = QLabel(
            f"{len(self.differences)} setting(s) differ."
            if self.differences
            else "The two runs have the same settings."
        )
        summary.setStyleSheet(HINT_STYLE)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value) or "-"
    return str(value)


class NotesDialog(QDialog):
    """A run's notes: free text (``ravelab list --filter`` and the table's filter search it)."""

    def __init__(self, experiment: ExperimentRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Notes of {experiment.name}")
        self.setMinimumSize(460, 280)
        self.editor = QPlainTextEdit()
        self.editor.setPlainText(experiment.notes)
        self.editor.setPlaceholderText("What this run tries, what you heard, what to do next...")
        self.count = QLabel()
        self.count.setStyleSheet(HINT_STYLE)
        self.editor.textChanged.connect(self._count)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.count)
        layout.addWidget(self.buttons)
        self._count()

    def _count(self) -> None:
        length = len(self.text())
        self.count.setText(f"{length:,} / {MAX_NOTES:,} characters")
        self.count.setStyleSheet(ERROR_STYLE if length > MAX_NOTES else HINT_STYLE)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(length <= MAX_NOTES)

    def text(self) -> str:
        """The notes as written."""
        return self.editor.toPlainText()


class DeleteRunDialog(QDialog):
    """Confirms deleting a run: what goes with it, and its folder too when ravelab created
    it (else the box is off, with why)."""

    def __init__(
        self, manager: TrainingManager, experiment: ExperimentRecord, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Delete the run")
        self.setMinimumWidth(480)
        points = run_queries.count_points(manager.db, experiment.id)
        message = QLabel(
            f"Delete “{experiment.name}” and everything ravelab stored about it "
            f"({points:,} metric points, its clips, checkpoints, notes and tags)? "
            "Exported models are kept. This cannot be undone."
        )
        message.setWordWrap(True)
        self.files_box = QCheckBox("Also delete its run folder")
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setStyleSheet(HINT_STYLE)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        try:
            folder = folder_to_delete(manager.db, experiment)
        except RavelabError as error:
            self.files_box.setEnabled(False)
            self.folder_label.setText(str(error))
        else:
            self.files_box.setEnabled(folder is not None)
            self.folder_label.setText(
                str(folder) if folder is not None else "Its folder is gone already."
            )
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.delete_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.delete_button.setText("Delete")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        layout = QVBoxLayout(self)
        layout.addWidget(message)
        layout.addWidget(self.files_box)
        layout.addWidget(self.folder_label)
        layout.addWidget(buttons)

    @property
    def with_files(self) -> bool:
        """Whether the run folder goes too."""
        return self.files_box.isEnabled() and self.files_box.isChecked()


__all__ = ["CompareDialog", "DeleteRunDialog", "ExportDialog", "NotesDialog"]
