"""``ModelsPage``: the exported TorchScript models (``rave export`` jobs' results).

The list (``ravelab.core.runs.run_queries.list_models`` with each model's run name) is read in
a worker when the page is created and whenever an export ends (``AppSignals.models_changed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.runs import run_queries
from ravelab.db import Database, ModelRecord
from ravelab.gui import formatting
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.style import HINT_STYLE
from ravelab.gui.workers import TaskRunner

HEADERS = ["Run", "Streaming", "Fidelity", "Step", "Size", "File", "Exported"]
PATH_COLUMN = HEADERS.index("File")


@dataclass(frozen=True)
class ModelRow:
    """One exported model and the name of the run it came from."""

    model: ModelRecord
    run_name: str


def read_models(db: Database) -> list[ModelRow]:
    """Every exported model, newest first, with its run's name (slow: call in a worker)."""
    names: dict[int, str] = {}
    result = []
    for model in run_queries.list_models(db):
        name = "-"
        if model.experiment_id is not None:
            if model.experiment_id not in names:
                record = run_queries.get_experiment(db, model.experiment_id)
                names[model.experiment_id] = record.name if record else "(deleted run)"
            name = names[model.experiment_id]
        result.append(ModelRow(model, name))
    return result


class ModelsPage(QWidget):
    """Exported models: their run, streaming, fidelity, step, size and file.

    Args:
        db: the database.
        app_signals: the application's events (``models_changed`` reloads the list).
        parent: the parent widget.

    Signals:
        models_loaded(): the list was read and shown.
    """

    models_loaded = Signal()

    def __init__(
        self, db: Database, app_signals: AppSignals, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.app_signals = app_signals
        self._runner = TaskRunner(self)
        self._rows: list[ModelRow] = []

        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Open the folder of the selected model")
        self.open_button.clicked.connect(self.open_folder)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(lambda: self.reload())
        self.count_label = QLabel()
        self.count_label.setStyleSheet(HINT_STYLE)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.count_label, 1)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(HEADERS)
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # the file name shows
        header = self.tree.header()
        header.setStretchLastSection(False)
        for column, width in enumerate((170, 80, 70, 80, 80, 420, 140)):
            header.resizeSection(column, width)
        header.setSectionResizeMode(PATH_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_folder())
        self.empty_label = QLabel(
            "No exported models yet: select a run on the Training page and choose Export..."
        )
        self.empty_label.setStyleSheet(HINT_STYLE)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty_label)
        app_signals.models_changed.connect(self.reload)
        self._update_buttons()
        self.reload()

    @property
    def rows(self) -> list[ModelRow]:
        """The models listed, newest first."""
        return list(self._rows)

    def reload(self) -> None:
        """Read the models again (in a worker)."""
        db = self.db
        self._runner.submit(lambda: read_models(db), self._on_loaded)

    def _on_loaded(self, rows: list[ModelRow]) -> None:
        selected = self.selected_path()
        self._rows = rows
        self.tree.clear()
        for row in rows:
            model = row.model
            item = QTreeWidgetItem(
                [
                    row.run_name,
                    "yes" if model.streaming else "no",
                    "-" if model.fidelity is None else f"{model.fidelity:g}",
                    formatting.steps(model.step) if model.step is not None else "-",
                    formatting.size(model.size_bytes),
                    model.path,
                    formatting.local_time(model.created_at),
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, model.path)
            item.setToolTip(PATH_COLUMN, model.path)
            for column in (2, 3, 4):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
            if model.checkpoint:
                item.setToolTip(0, f"from {model.checkpoint}")
            self.tree.addTopLevelItem(item)
            if model.path == selected:
                item.setSelected(True)
        count = len(rows)
        self.count_label.setText(f"{count} model{'s' if count != 1 else ''}" if count else "")
        self.tree.setVisible(bool(rows))
        self.empty_label.setVisible(not rows)
        self._update_buttons()
        self.models_loaded.emit()

    def selected_path(self) -> str | None:
        """The selected model's file, or None."""
        items = self.tree.selectedItems()
        return str(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else None

    def _update_buttons(self) -> None:
        self.open_button.setEnabled(self.selected_path() is not None)

    def open_folder(self) -> bool:
        """Open the selected model's folder in the file manager."""
        path = self.selected_path()
        if path is None or not Path(path).parent.is_dir():
            return False
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent))))

    def cleanup(self) -> None:
        """Stop the worker (the page is going away)."""
        self._runner.shutdown()


__all__ = ["ModelRow", "ModelsPage", "read_models"]
