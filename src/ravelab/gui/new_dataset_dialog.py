"""``NewDatasetDialog``: a dataset from a folder of audio (``rave preprocess`` as a job).

The audio is checked first (``JobManager.check_dataset_inputs``, in a worker: it runs
ffprobe on every file); its problems block, its warnings are shown. Then
``create_dataset`` starts the job, whose progress the dialog follows to the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.errors import RavelabError
from ravelab.core.jobs.preprocess import HealthReport
from ravelab.core.rave.preprocess_defaults import DEFAULT_NUM_SIGNAL
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import DatabaseError, JobRecord, RunStatus
from ravelab.gui.job_watcher import JobWatcher, describe_progress
from ravelab.gui.style import ERROR_COLOUR, ERROR_STYLE, HINT_STYLE
from ravelab.gui.workers import TaskRunner

SAMPLE_RATES = (44_100, 48_000, 22_050, 16_000, 96_000)


def _escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class NewDatasetDialog(QDialog):
    """Check a folder of audio, then preprocess it into a new dataset.

    Args:
        manager: runs the check and the job (``manager.jobs``).
        project_id: the project the dataset belongs to.
        parent: the parent widget.

    Signals:
        checked(object): the ``HealthReport`` of the last check.
        dataset_created(int): the job ended well; the dataset (its id) is ready.
    """

    checked = Signal(object)
    dataset_created = Signal(int)

    def __init__(
        self, manager: TrainingManager, project_id: int = 1, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.manager = manager
        self.project_id = project_id
        self.report: HealthReport | None = None
        self._checked_key: tuple[Any, ...] | None = None
        self.job_id: int | None = None
        self.dataset_id: int | None = None
        self._pending_dataset: int | None = None
        self.watcher: JobWatcher | None = None
        self._runner = TaskRunner(self)
        self.setWindowTitle("New dataset from audio")
        self.setMinimumWidth(560)

        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a folder of audio files (wav, flac, mp3, ...)")
        self.browse_button = QPushButton("Browse...")
        self.browse_button.clicked.connect(self.browse)
        folder_row = QWidget()
        row = QHBoxLayout(folder_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. drums")
        self.num_signal = QSpinBox()
        self.num_signal.setRange(2048, 4_194_304)
        self.num_signal.setSingleStep(2048)
        self.num_signal.setValue(DEFAULT_NUM_SIGNAL)
        self.num_signal.setGroupSeparatorShown(True)
        self.num_signal.setToolTip(
            "--num_signal: samples per example; files shorter than 2 x num_signal are dropped"
        )
        self.channels = QSpinBox()
        self.channels.setRange(1, 64)
        self.channels.setToolTip("--channels: 1 for mono, 2 for stereo")
        self.sample_rate = QComboBox()
        for rate in SAMPLE_RATES:
            self.sample_rate.addItem(f"{rate:,} Hz", rate)
        self.lazy = QCheckBox("Lazy (read the audio while training; no copy)")
        self.lazy.setToolTip("--lazy: the dataset refers to the audio files instead of a copy")
        for signal in (
            self.folder_edit.textChanged,
            self.name_edit.textChanged,
            self.num_signal.valueChanged,
            self.channels.valueChanged,
            self.sample_rate.currentIndexChanged,
            self.lazy.toggled,
        ):
            signal.connect(self._update_buttons)
        self.folder_edit.textChanged.connect(self._suggest_name)

        self.report_label = QLabel("Choose a folder, then Check.")
        self.report_label.setWordWrap(True)
        self.report_label.setStyleSheet(HINT_STYLE)
        self.report_label.setMinimumHeight(90)
        self.report_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        for field in (self.num_signal, self.channels, self.sample_rate):
            field.setMaximumWidth(200)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.hide()

        form = QFormLayout()
        form.addRow("Audio folder:", folder_row)
        form.addRow("Name:", self.name_edit)
        form.addRow("num_signal:", self.num_signal)
        form.addRow("Channels:", self.channels)
        form.addRow("Sample rate:", self.sample_rate)
        form.addRow("", self.lazy)
        self.check_button = QPushButton("Check")
        self.check_button.setToolTip("Check the audio (what rave preprocess would drop)")
        self.check_button.clicked.connect(self.check)
        self.create_button = QPushButton("Create")
        self.create_button.setToolTip("Run rave preprocess into a new dataset")
        self.create_button.clicked.connect(self.start_preprocess)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.check_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.create_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.report_label, 1)
        layout.addWidget(buttons)
        self._update_buttons()

    # -- input ---------------------------------------------------------------------------------

    def browse(self) -> None:
        """Pick the audio folder."""
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of audio files")
        if folder:
            self.folder_edit.setText(folder)

    def _suggest_name(self, text: str) -> None:
        if not self.name_edit.isModified():
            self.name_edit.setText(Path(text).name if text else "")

    def _key(self) -> tuple[Any, ...]:
        return (
            self.folder_edit.text().strip(),
            self.num_signal.value(),
            int(self.sample_rate.currentData()),
        )

    def _update_buttons(self) -> None:
        running = self.job_id is not None and not (self.watcher and self.watcher.done)
        busy = self._runner.busy or running
        has_folder = bool(self.folder_edit.text().strip())
        self.check_button.setEnabled(has_folder and not busy)
        self.create_button.setEnabled(
            has_folder
            and bool(self.name_edit.text().strip())
            and not busy
            and self.dataset_id is None
            and self.report is not None
            and not self.report.problems
            and self._checked_key == self._key()
        )

    # -- the check (worker) --------------------------------------------------------------------

    def check(self) -> None:
        """Check the audio in a worker; ``checked`` carries the report."""
        key = self._key()
        folder, num_signal, sample_rate = key
        jobs = self.manager.jobs
        self.report_label.setStyleSheet(HINT_STYLE)
        self.report_label.setText("Checking the audio...")
        self.progress.show()

        def work() -> HealthReport:
            return jobs.check_dataset_inputs(
                [folder], num_signal=num_signal, sample_rate=sample_rate
            )

        self._runner.submit(
            work, lambda report: self._on_checked(key, report), self._on_check_failed
        )
        self._update_buttons()

    def _on_checked(self, key: tuple[Any, ...], report: HealthReport) -> None:
        self.progress.hide()
        self.report = report
        self._checked_key = key
        files = len(report.files)
        lines = [f"{files} audio file{'s' if files != 1 else ''}, {report.kept_chunks:,} chunks."]
        lines += [
            f"<span style='color:{ERROR_COLOUR}'>✗ {_escape(p)}</span>" for p in report.problems
        ]
        lines += [f"⚠ {_escape(w)}" for w in report.warnings]
        if not report.problems:
            lines.append("Ready: click Create.")
        self.report_label.setStyleSheet("")
        self.report_label.setText("<br>".join(lines))
        self._update_buttons()
        self.checked.emit(report)

    def _on_check_failed(self, error: BaseException) -> None:
        self.progress.hide()
        self._show_error(f"The audio could not be checked: {error}")
        self._update_buttons()

    def _show_error(self, text: str) -> None:
        self.report_label.setStyleSheet(ERROR_STYLE)
        self.report_label.setText(text)

    # -- the job -------------------------------------------------------------------------------

    def start_preprocess(self) -> int | None:
        """Start ``rave preprocess`` (errors are shown here); the job id, or None."""
        try:
            job_id, dataset_id, _report = self.manager.jobs.create_dataset(
                [self.folder_edit.text().strip()],
                self.name_edit.text().strip(),
                sample_rate=int(self.sample_rate.currentData()),
                channels=self.channels.value(),
                num_signal=self.num_signal.value(),
                lazy=self.lazy.isChecked(),
                project_id=self.project_id,
            )
        except (RavelabError, DatabaseError, OSError) as error:
            self._show_error(f"The dataset could not be created: {error}")
            return None
        self.job_id = job_id
        self._pending_dataset = dataset_id
        self.report_label.setStyleSheet(HINT_STYLE)
        self.report_label.setText("Preprocessing...")
        self.progress.show()
        self.watcher = JobWatcher(self.manager.jobs, job_id, parent=self)
        self.watcher.updated.connect(self._on_update)
        self.watcher.finished.connect(self._on_finished)
        self._update_buttons()
        return job_id

    def _on_update(self, job: JobRecord) -> None:
        if job.ended_at is None:
            self.report_label.setText(f"Preprocessing: {describe_progress(job)}")

    def _on_finished(self, job: JobRecord) -> None:
        self.progress.hide()
        if job.status == RunStatus.COMPLETED:
            self.dataset_id = self._pending_dataset
            self.report_label.setStyleSheet("")
            self.report_label.setText(
                f"Dataset “{_escape(self.name_edit.text().strip())}” is ready: choose it in "
                "the New Training wizard."
            )
            self.dataset_created.emit(self.dataset_id)
        else:
            self._show_error(f"Preprocessing {job.status}: {job.reason or 'see the job log'}")
        self._update_buttons()

    def done(self, result: int) -> None:
        if self.watcher is not None and not self.watcher.done:
            self.watcher.stop()  # the job goes on; the dataset appears when it ends
        self._runner.shutdown()
        super().done(result)


__all__ = ["NewDatasetDialog"]
