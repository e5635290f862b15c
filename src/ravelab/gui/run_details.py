"""``RunDetails``: the selected run's progress bar, command, run folder and reason, its tags
and notes; the time it trained (its attempts summed) and a pending stop at checkpoint."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QSizePolicy,
    QStackedLayout,
    QToolButton,
    QWidget,
)

from ravelab.db import ExperimentRecord, Health, RunStatus
from ravelab.gui import formatting
from ravelab.gui.experiments_model import display_status, is_live, status_text, trained_seconds
from ravelab.gui.progress_delegate import BAR_RANGE, progress_label, status_palette
from ravelab.gui.style import ERROR_STYLE, HINT_STYLE, STATUS_COLOURS


def progress_details(experiment: ExperimentRecord) -> str:
    """``epoch 12 · phase 1 of 2 · 2.40 it/s · ETA 1:02:03`` (what is known)."""
    progress = experiment.progress
    parts = []
    if progress.epoch is not None:
        parts.append(f"epoch {progress.epoch}")
    if progress.phase is not None:
        parts.append(f"phase {progress.phase} of 2")
    if is_live(experiment):
        speed = formatting.speed(formatting.progress_speed(progress))
        if speed != "-":
            parts.append(speed)
        eta = formatting.duration(progress.eta_s)
        if eta != "-":
            parts.append(f"ETA {eta}")
    took = formatting.duration(trained_seconds(experiment))
    attempts = f" over {experiment.attempts} attempts" if experiment.attempts > 1 else ""
    parts.append(
        f"training for {took}{attempts}" if is_live(experiment) else f"trained {took}{attempts}"
    )
    return " · ".join(parts)


class RunDetails(QWidget):
    """What one run is doing and how it was started."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._experiment: ExperimentRecord | None = None
        self._bar_status: str | None = None
        self.name_label = QLabel()
        self.name_label.setStyleSheet("font-weight: 600; font-size: 11pt;")
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, BAR_RANGE)
        self.progress.setTextVisible(True)
        self.info_label = QLabel()
        self.info_label.setStyleSheet(HINT_STYLE)
        # Text that changes every update must not resize the layout (and the plot).
        self.info_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.command = QLineEdit()
        self.command.setReadOnly(True)
        self.command.setFont(fixed)
        self.command.setToolTip("The exact `rave train` command of this run")
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the command")
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.command.text())
        )
        self.folder = QLineEdit()
        self.folder.setReadOnly(True)
        self.open_button = QToolButton()
        self.open_button.setText("Open")
        self.open_button.setToolTip("Open the run folder")
        self.open_button.clicked.connect(self.open_run_folder)
        self.reason_title = QLabel("Reason:")
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tags_label = QLabel()
        self.tags_label.setStyleSheet(HINT_STYLE)
        self.notes_title = QLabel("Notes:")
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes.setMaximumHeight(self.notes.fontMetrics().lineSpacing() * 3 + 4)
        self.notes.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        details = QWidget()
        grid = QGridLayout(details)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(4)
        header = QHBoxLayout()
        header.setSpacing(10)
        header.addWidget(self.name_label)
        header.addWidget(self.status_label)
        header.addWidget(self.tags_label)
        header.addStretch(1)
        grid.addLayout(header, 0, 0, 1, 3)
        grid.addWidget(self.progress, 1, 0, 1, 3)
        grid.addWidget(self.info_label, 2, 0, 1, 3)
        grid.addWidget(QLabel("Command:"), 3, 0)
        grid.addWidget(self.command, 3, 1)
        grid.addWidget(self.copy_button, 3, 2)
        grid.addWidget(QLabel("Run folder:"), 4, 0)
        grid.addWidget(self.folder, 4, 1)
        grid.addWidget(self.open_button, 4, 2)
        grid.addWidget(self.reason_title, 5, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.reason, 5, 1, 1, 2)
        grid.addWidget(self.notes_title, 6, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.notes, 6, 1, 1, 2)
        grid.setColumnStretch(1, 1)

        self.empty = QLabel("Select a run to see its progress, command and log.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(HINT_STYLE)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.empty)
        self._stack.addWidget(details)
        self._details = details

    @property
    def experiment(self) -> ExperimentRecord | None:
        """The run shown, or None."""
        return self._experiment

    def show_experiment(self, experiment: ExperimentRecord | None) -> None:
        """Show a run (None: the empty state)."""
        self._experiment = experiment
        if experiment is None:
            self._stack.setCurrentWidget(self.empty)
            return
        self._stack.setCurrentWidget(self._details)
        self.name_label.setText(experiment.name)
        argv = experiment.argv
        command = formatting.command_line(argv) if argv else "-"
        self.command.setText(command)
        self.command.setToolTip(command)
        self.command.setCursorPosition(0)
        self.copy_button.setEnabled(bool(argv))
        run_dir = experiment.run_dir
        place = None
        if experiment.executor == "ssh":
            from ravelab.core.ssh.executor import remote_place  # only where SSH runs are

            place = remote_place(run_dir)
        # An SSH run's local folder mirrors the one on its remote: both are named.
        self.folder.setText(f"{run_dir} (mirrors {place})" if place else run_dir or "-")
        self.folder.setToolTip(
            f"This folder mirrors {place}: logs, metrics and clips come back as they are "
            "written; checkpoints stay there."
            if place
            else ""
        )
        self.folder.setCursorPosition(0)
        self.open_button.setEnabled(bool(run_dir))
        self.update_experiment(experiment)

    def update_experiment(self, experiment: ExperimentRecord) -> None:
        """Refresh status, progress and reason (the run moved on)."""
        self._experiment = experiment
        status = display_status(experiment)
        health = experiment.health
        unwell = health != Health.OK and is_live(experiment)
        shown = status_text(experiment)
        shown = f"{shown} ({health})" if unwell else shown
        colour = STATUS_COLOURS.get(status, "#424242")
        self.status_label.setText(f"<span style='color:{colour}'>● {shown}</span>")
        progress = experiment.progress
        step = progress.step
        max_steps = int(progress.max_steps or experiment.config.get("max_steps") or 0)
        percent = progress.percent
        if percent is None:
            percent = 100.0 * step / max_steps if max_steps else 0.0
        # QProgressBar.setValue repaints at once, and with it whatever the bar overlaps (here
        # the runs table, whose delegates call into Python): 30 ms and more, several times a
        # second. With updates off it only takes the value; turning them on again schedules
        # one ordinary, coalesced paint.
        self.progress.setUpdatesEnabled(False)
        try:
            self.progress.setValue(round(max(0.0, min(100.0, percent)) / 100 * BAR_RANGE))
            self.progress.setFormat(progress_label(step, max_steps, percent))
        finally:
            self.progress.setUpdatesEnabled(True)
        if status != self._bar_status:
            self._bar_status = status
            self.progress.setPalette(status_palette(self.palette(), status))
        self.info_label.setText(progress_details(experiment))
        phase_1 = progress.phase_1_duration
        self.info_label.setToolTip(
            f"RAVE's phase 1 (the autoencoder alone) lasts {phase_1:,} steps; phase 2 adds "
            "the adversarial training."
            if phase_1 is not None
            else ""
        )
        reason = experiment.reason or experiment.health_detail
        self.reason.setText(reason or "")
        self.reason.setStyleSheet(ERROR_STYLE if status == RunStatus.FAILED else "")
        self.reason_title.setVisible(bool(reason))
        self.reason.setVisible(bool(reason))
        self.name_label.setText(experiment.name)
        labels = [f"#{tag}" for tag in experiment.tags]
        if experiment.archived:
            labels.append("(archived)")
        self.tags_label.setText("  ".join(labels))
        first_lines = "\n".join(experiment.notes.splitlines()[:3])
        self.notes.setText(first_lines)
        self.notes.setToolTip(experiment.notes if experiment.notes != first_lines else "")
        self.notes_title.setVisible(bool(experiment.notes))
        self.notes.setVisible(bool(experiment.notes))

    def open_run_folder(self) -> bool:
        """Open the run folder in the desktop's file manager."""
        run_dir = self._experiment.run_dir if self._experiment is not None else None
        if not run_dir or not Path(run_dir).exists():
            return False
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(run_dir))))
