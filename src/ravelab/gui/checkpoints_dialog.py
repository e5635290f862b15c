"""The Checkpoints dialog: how many periodic checkpoints a run keeps, and pruning now.

The same calls as ``ravelab checkpoints ID --keep N [--prune]``: the choice is stored with
the run (the warden applies it as checkpoints appear), and the list shows, before anything
is removed, which files a prune would take and which stay protected, with why.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.display import human_bytes
from ravelab.core.operations import checkpoint_retention as retention
from ravelab.core.operations import disk_space
from ravelab.core.rave.checkpoints import find_checkpoints
from ravelab.db import Database, ExperimentRecord
from ravelab.gui.style import HINT_STYLE

#: The spin box's value that stands for "keep every periodic checkpoint".
KEEP_ALL = -1


class CheckpointsDialog(QDialog):
    """Shows a run's checkpoints and sets its retention; ``prune_requested`` after
    "Keep and prune now"."""

    def __init__(self, db: Database, experiment: ExperimentRecord, parent: QWidget | None = None):
        super().__init__(parent)
        self.db = db
        self.experiment = experiment
        self.prune_requested = False
        self.setWindowTitle(f"Checkpoints of “{experiment.name}”")
        self.setMinimumWidth(560)
        found = find_checkpoints(Path(experiment.run_dir)) if experiment.run_dir else []
        total = sum(c.size_bytes for c in found)
        free = disk_space.free_bytes(experiment.run_dir) if experiment.run_dir else None
        summary = QLabel(
            f"{len(found)} checkpoint(s), {human_bytes(total)} on disk; "
            f"{human_bytes(free)} free there."
        )
        explain = QLabel(
            "RAVE keeps every --save_every checkpoint. best.ckpt and the latest one are "
            "always kept; choose how many periodic ones to keep. ravelab applies it as new "
            "ones appear."
        )
        explain.setWordWrap(True)
        explain.setStyleSheet(HINT_STYLE)
        self.keep_box = QSpinBox()
        self.keep_box.setRange(KEEP_ALL, retention.MAX_KEEP)
        self.keep_box.setSpecialValueText("every one")
        keep = retention.effective_keep(db, experiment.id)
        self.keep_box.setValue(KEEP_ALL if keep is None else keep)
        self._shown = self.keep_box.value()
        self.keep_box.setAccessibleName("Periodic checkpoints to keep")
        keep_row = QHBoxLayout()
        keep_row.addWidget(QLabel("Periodic checkpoints to keep:"))
        keep_row.addWidget(self.keep_box)
        keep_row.addStretch(1)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.preview.setMinimumHeight(140)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.keep_button = buttons.addButton("Keep", QDialogButtonBox.ButtonRole.AcceptRole)
        self.prune_button = buttons.addButton(
            "Keep and prune now", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.keep_button.clicked.connect(self.accept)
        self.prune_button.clicked.connect(self._prune_now)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(explain)
        layout.addLayout(keep_row)
        layout.addWidget(self.preview)
        layout.addWidget(buttons)
        self.keep_box.valueChanged.connect(self._show_plan)
        self._show_plan()

    @property
    def keep(self) -> int | None:
        """The chosen retention (None: every periodic checkpoint)."""
        value = self.keep_box.value()
        return None if value == KEEP_ALL else value

    @property
    def changed(self) -> bool:
        """Whether the choice differs from the retention shown at first (an unchanged
        choice is not stored: a run that follows the default keeps following it)."""
        return self.keep_box.value() != self._shown

    def _show_plan(self) -> None:
        plan = retention.plan_prune(self.db, self.experiment, self.keep)
        lines = [f"would remove {c.path.name} ({human_bytes(c.size_bytes)})" for c in plan.remove]
        lines += [f"kept: {c.path.name} ({why})" for c, why in plan.protected]
        if not plan.remove:
            lines.insert(0, "Nothing to remove under this choice.")
        else:
            lines.insert(0, f"A prune now frees {human_bytes(plan.reclaim_bytes)}:")
        self.preview.setPlainText("\n".join(lines))
        self.prune_button.setEnabled(bool(plan.remove))

    def _prune_now(self) -> None:
        self.prune_requested = True
        self.accept()


__all__ = ["CheckpointsDialog"]
