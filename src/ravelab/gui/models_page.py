"""``ModelsPage``: the exported TorchScript models (``rave export`` jobs' results).

The list (``ravelab.core.runs.run_queries.list_models`` with each model's run name) is read in
a worker when the page is created and whenever an export ends (``AppSignals.models_changed``).
Each model shows its export check (``ravelab.core.rave.model_check``: ok, problems, not
checked) with the details in a tooltip, and a warning when the torch that exported it is
newer than the libtorch inside the newest nn~ release; "Check" runs the check again in a
worker (RAVE's environment loads the model: seconds to a minute).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QDesktopServices
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

from ravelab.core.rave.model_check import CheckSummary, check_model, summarize
from ravelab.core.runs import run_queries
from ravelab.db import Database, ModelRecord
from ravelab.gui import formatting
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.style import ERROR_COLOUR, ERROR_STYLE, HINT_STYLE, WARNING_COLOUR
from ravelab.gui.workers import TaskRunner

HEADERS = ["Run", "Streaming", "Fidelity", "Step", "Size", "Check", "Torch", "File", "Exported"]
PATH_COLUMN = HEADERS.index("File")
CHECK_COLUMN = HEADERS.index("Check")
#: A check that passed with a warning (the torch version, a non-streaming export).


@dataclass(frozen=True)
class ModelRow:
    """One exported model and the name of the run it came from."""

    model: ModelRecord
    run_name: str
    check: CheckSummary | None = None


def check_text(check: CheckSummary) -> tuple[str, str]:
    """The Check cell (``ok``, ``ok, 1 warning``, ``2 problems``...) and its tooltip."""
    text = check.state
    if check.state == "problems":
        text = f"{len(check.problems)} problem{'s' if len(check.problems) != 1 else ''}"
    if check.warnings and check.state in ("ok", "not checked"):
        count = len(check.warnings)
        text += f", {count} warning{'s' if count != 1 else ''}"
    lines = [f"Export check: {check.state}"]
    lines += [f"problem: {p}" for p in check.problems]
    lines += [f"warning: {w}" for w in check.warnings]
    result = check.result
    if isinstance(result.get("params"), dict):
        lines += [f"{name}: {values}" for name, values in result["params"].items()]
    stream = result.get("stream")
    if isinstance(stream, dict):
        lines.append(
            f"stream: {stream.get('blocks')} blocks of {stream.get('block')}, "
            f"{stream.get('ms_per_block')} ms a block"
        )
    if check.state == "not checked":
        lines.append("Check runs it in RAVE's environment")
    return text, "\n".join(lines)


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
        result.append(ModelRow(model, name, summarize(model)))
    return result


class ModelsPage(QWidget):
    """Exported models: their run, streaming, fidelity, step, size and file.

    Args:
        db: the database.
        app_signals: the application's events (``models_changed`` reloads the list).
        parent: the parent widget.

    Signals:
        models_loaded(): the list was read and shown.
        checked(): a check started with "Check" ended (recorded or refused).
    """

    models_loaded = Signal()
    checked = Signal()

    def __init__(
        self, db: Database, app_signals: AppSignals, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.app_signals = app_signals
        self._runner = TaskRunner(self)
        self._rows: list[ModelRow] = []
        self._checking = False

        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Open the folder of the selected model")
        self.open_button.clicked.connect(self.open_folder)
        self.check_button = QPushButton("Check")
        self.check_button.setToolTip(
            "Load the selected model in RAVE's environment as nn~ would, and record the result"
        )
        self.check_button.clicked.connect(self.check_selected)
        self.check_label = QLabel()
        self.check_label.setStyleSheet(HINT_STYLE)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(lambda: self.reload())
        self.count_label = QLabel()
        self.count_label.setStyleSheet(HINT_STYLE)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.check_label)
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
        for column, width in enumerate((170, 80, 70, 80, 80, 130, 100, 420, 140)):
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
                    "",
                    model.torch_version or "-",
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
            if row.check is not None:
                text, tooltip = check_text(row.check)
                item.setText(CHECK_COLUMN, text)
                item.setToolTip(CHECK_COLUMN, tooltip)
                colour = (
                    ERROR_COLOUR
                    if row.check.state in ("problems", "check failed")
                    else WARNING_COLOUR
                    if row.check.warnings
                    else None
                )
                if colour:
                    item.setForeground(CHECK_COLUMN, QBrush(QColor(colour)))
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
        self.check_button.setEnabled(self.selected_id() is not None and not self._checking)

    def selected_id(self) -> int | None:
        """The selected model's id, or None."""
        path = self.selected_path()
        return next((r.model.id for r in self._rows if r.model.path == path), None)

    def check_selected(self) -> bool:
        """Run the export check of the selected model in a worker; False if none."""
        model_id = self.selected_id()
        if model_id is None or self._checking:
            return False
        db = self.db
        self._checking = True
        self.check_label.setStyleSheet(HINT_STYLE)
        self.check_label.setText(f"checking model {model_id}...")
        self._update_buttons()
        self._runner.submit(
            lambda: check_model(db, model_id), self._on_checked, self._on_check_error
        )
        return True

    def _on_checked(self, model: ModelRecord) -> None:
        self._checking = False
        self.check_label.setText(f"model {model.id}: {summarize(model).state}")
        self.checked.emit()
        self.reload()

    def _on_check_error(self, error: BaseException) -> None:
        self._checking = False
        self.check_label.setStyleSheet(ERROR_STYLE)
        self.check_label.setText(str(error))
        self._update_buttons()
        self.checked.emit()

    def open_folder(self) -> bool:
        """Open the selected model's folder in the file manager."""
        path = self.selected_path()
        if path is None or not Path(path).parent.is_dir():
            return False
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent))))

    def cleanup(self) -> None:
        """Stop the worker (the page is going away)."""
        self._runner.shutdown()


__all__ = ["ModelRow", "ModelsPage", "check_text", "read_models"]
