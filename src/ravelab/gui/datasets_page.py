"""``DatasetsPage``: the registered datasets, and registering another.

The list (with how many runs use each dataset, its examples and its size on disk, which
read the folder) is read in a worker when the page is created and whenever datasets or
runs change. "Train on this..." asks the main window for the new-training wizard with
the dataset chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedLayout,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ravelab.core import dataset_catalog, dataset_facts
from ravelab.core.dataset_catalog import DatasetInUseError
from ravelab.core.dataset_facts import DatasetFacts
from ravelab.core.errors import ConfigError
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database, DatabaseError, DatasetRecord
from ravelab.gui import formatting
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.dataset_actions import add_dataset
from ravelab.gui.new_dataset_dialog import NewDatasetDialog
from ravelab.gui.style import HINT_STYLE
from ravelab.gui.workers import TaskRunner

HEADERS = [
    "Name",
    "Channels",
    "Sample rate",
    "Duration",
    "Chunks",
    "Size",
    "Runs",
    "Status",
    "Folder",
    "Added",
]
NUMBER_COLUMNS = (1, 2, 3, 4, 5, 6)
FOLDER_COLUMN = 8
STATUS_COLUMN = 7


class DatasetsPage(QWidget):
    """Registered datasets: channels, sample rate, duration, chunks, size on disk and the
    runs using each.

    Args:
        db: the database.
        app_signals: the application's events.
        project_id: the project new datasets are registered in.
        parent: the parent widget.

    Signals:
        datasets_loaded(): the list was read and shown.
        train_requested(int): "Train on this..." was clicked for this dataset id.
    """

    datasets_loaded = Signal()
    train_requested = Signal(int)

    def __init__(
        self,
        db: Database,
        app_signals: AppSignals,
        project_id: int = 1,
        parent: QWidget | None = None,
        manager: TrainingManager | None = None,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.manager = manager
        self.app_signals = app_signals
        self.project_id = project_id
        self._runner = TaskRunner(self)
        self._generation = 0
        self._records: list[DatasetRecord] = []
        self.loaded = False

        self.add_button = QPushButton("Add dataset...")
        self.add_button.setToolTip("Register a folder made by `rave preprocess`")
        self.add_button.clicked.connect(self.add_dataset)
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Open the selected dataset's folder")
        self.open_button.clicked.connect(self.open_folder)
        self.new_button = QPushButton("New dataset from audio...")
        self.new_button.setToolTip("Preprocess a folder of audio into a dataset (rave preprocess)")
        self.new_button.clicked.connect(self.new_dataset)
        self.new_button.setVisible(manager is not None)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip(
            "Forget the selected dataset (its files stay where they are); refused while runs use it"
        )
        self.remove_button.clicked.connect(self.remove_selected)
        self.train_button = QPushButton("Train on this...")
        self.train_button.setToolTip("Start a new training on the selected dataset (the wizard)")
        self.train_button.clicked.connect(self.train_on_selected)
        self.count_label = QLabel()
        self.count_label.setStyleSheet(HINT_STYLE)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.new_button)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(self.count_label)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(HEADERS)
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_folder())
        header = self.tree.header()
        for column in NUMBER_COLUMNS:  # numbers: right-aligned, headers too
            self.tree.headerItem().setTextAlignment(
                column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
        for column in range(len(HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(FOLDER_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)

        self.empty = QLabel(
            "<p style='font-size:12pt'>No datasets yet.</p>"
            "<p>Preprocess your audio with <code>rave preprocess --input_path AUDIO "
            "--output_path FOLDER</code>,<br>then click <b>Add dataset...</b> and choose "
            "that folder.</p>"
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(HINT_STYLE)
        self._stack = QStackedLayout()
        self._stack.addWidget(self.tree)
        self._stack.addWidget(self.empty)

        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(self._stack, 1)
        app_signals.datasets_changed.connect(self.reload)
        app_signals.experiments_changed.connect(self.reload)
        self._update_buttons()
        self.reload()

    def reload(self) -> None:
        """Read the datasets (and their run counts) again, in a worker."""
        self._generation += 1
        generation = self._generation
        db = self.db

        def work() -> list[tuple[DatasetRecord, int, DatasetFacts]]:
            rows = []
            for stored in dataset_catalog.list_datasets(db):
                record = dataset_facts.displayable(stored)
                runs = len(dataset_catalog.experiments_using(db, record.id))
                rows.append((record, runs, dataset_facts.facts(record)))
            return rows

        self._runner.submit(work, lambda rows: self._on_loaded(generation, rows))

    def _on_loaded(
        self, generation: int, rows: list[tuple[DatasetRecord, int, DatasetFacts]]
    ) -> None:
        if generation != self._generation:
            return
        selected = self.selected_dataset()
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        self._records = [record for record, _, _ in rows]
        for record, runs, facts in rows:
            item = _Item(
                [
                    record.name,
                    str(record.channels) if record.channels else "-",
                    formatting.sample_rate(record.sample_rate),
                    formatting.seconds_of_audio(record.n_seconds),
                    _examples(facts),
                    formatting.size(facts.size_bytes),
                    str(runs),
                    record.status,
                    record.path,
                    formatting.local_time(record.created_at),
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, record.id)
            item.set_sort_values(
                [
                    record.name.lower(),
                    record.channels or 0,
                    record.sample_rate or 0,
                    record.n_seconds or 0.0,
                    facts.examples if facts.examples is not None else -1,
                    facts.size_bytes if facts.size_bytes is not None else -1,
                    runs,
                    record.status,
                    record.path,
                    record.created_at,
                ]
            )
            for column in NUMBER_COLUMNS:
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
            item.setToolTip(4, _examples_tip(record, facts))
            item.setToolTip(FOLDER_COLUMN, record.path)
            if record.reason:
                item.setToolTip(STATUS_COLUMN, record.reason)
            self.tree.addTopLevelItem(item)
            if selected is not None and record.id == selected.id:
                item.setSelected(True)
        self.tree.setSortingEnabled(True)
        self._stack.setCurrentWidget(self.tree if rows else self.empty)
        count = len(rows)
        self.count_label.setText(f"{count} dataset{'s' if count != 1 else ''}" if count else "")
        self._update_buttons()
        self.loaded = True
        self.datasets_loaded.emit()

    @property
    def showing_empty_state(self) -> bool:
        """True while the page says there are no datasets."""
        return self._stack.currentWidget() is self.empty

    def selected_dataset(self) -> DatasetRecord | None:
        """The selected dataset, or None."""
        items = self.tree.selectedItems()
        if not items:
            return None
        dataset_id = items[0].data(0, Qt.ItemDataRole.UserRole)
        return next((r for r in self._records if r.id == dataset_id), None)

    def dataset_names(self) -> list[str]:
        """Names of the datasets listed (tests)."""
        return [_item(self.tree, i).text(0) for i in range(self.tree.topLevelItemCount())]

    def add_dataset(self, folder: str | None = None) -> DatasetRecord | None:
        """Pick a folder (unless given) and register it; errors go to a dialog."""
        record = add_dataset(self, self.db, self.project_id, folder)
        if record is not None:
            self.app_signals.datasets_changed.emit()
        return record

    def open_folder(self) -> bool:
        """Open the selected dataset's folder."""
        record = self.selected_dataset()
        if record is None or not Path(record.path).exists():
            return False
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(record.path)))

    def make_new_dataset_dialog(self) -> NewDatasetDialog | None:
        """The "New dataset from audio" dialog (not shown yet); None without a manager."""
        if self.manager is None:
            return None
        dialog = NewDatasetDialog(self.manager, self.project_id, self)
        dialog.dataset_created.connect(lambda _id: self.app_signals.datasets_changed.emit())
        return dialog

    def new_dataset(self) -> None:
        """Open the "New dataset from audio" dialog."""
        dialog = self.make_new_dataset_dialog()
        if dialog is not None:
            dialog.exec()
            dialog.deleteLater()
            self.reload()  # a job still running shows as "preprocessing"

    def remove_selected(self) -> bool:
        """Forget the selected dataset after a confirmation (never its files); refused, with
        a dialog, while runs use it. True when it was removed."""
        record = self.selected_dataset()
        if record is None:
            return False
        if not self._removable(record):
            return False
        answer = QMessageBox.question(
            self,
            "Remove this dataset?",
            f"Remove “{record.name}” from ravelab?\n\nIts folder {record.path} and the audio "
            "are not deleted: add it again at any time.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        try:
            # Checked again with the delete, in one transaction (a run may have been
            # started on it while the question was open).
            dataset_catalog.remove_dataset(self.db, record.id)
        except DatasetInUseError as error:
            self._in_use(record, error)
            return False
        except (ConfigError, DatabaseError) as error:
            QMessageBox.critical(self, "The dataset cannot be removed", str(error))
            return False
        self.app_signals.datasets_changed.emit()
        return True

    def _removable(self, record: DatasetRecord) -> bool:
        """Whether the core lets ``record`` be removed now; a dialog says why not."""
        try:
            dataset_catalog.check_removable(self.db, record)
        except DatasetInUseError as error:
            self._in_use(record, error)
            return False
        except (ConfigError, DatabaseError) as error:
            QMessageBox.critical(self, "The dataset cannot be removed", str(error))
            return False
        return True

    def _in_use(self, record: DatasetRecord, error: DatasetInUseError) -> None:
        count = len(error.experiments)
        QMessageBox.warning(
            self,
            "The dataset is in use",
            f"“{record.name}” is used by {count} run{'s' if count != 1 else ''}: it "
            "cannot be removed while they exist.",
        )

    def train_on_selected(self) -> bool:
        """Ask for a new training on the selected dataset (if it is ready)."""
        record = self.selected_dataset()
        if record is None or record.status != "ready":
            return False
        self.train_requested.emit(record.id)
        return True

    def _update_buttons(self) -> None:
        selected = self.selected_dataset()
        self.open_button.setEnabled(selected is not None)
        self.remove_button.setEnabled(selected is not None)
        self.train_button.setEnabled(selected is not None and selected.status == "ready")
        self.train_button.setVisible(self.manager is not None)

    def cleanup(self) -> None:
        """Stop the worker (the page is going away)."""
        self._runner.shutdown()


def _examples(facts: DatasetFacts) -> str:
    if facts.examples is None:
        return "-"
    return f"{facts.examples:,}" if facts.examples_exact else f"~{facts.examples:,}"


def _examples_tip(record: DatasetRecord, facts: DatasetFacts) -> str:
    unit = "audio files (a lazy dataset)" if record.lazy else "chunks"
    if facts.examples is None:
        return f"The number of {unit} cannot be read from data.mdb"
    if not facts.examples_exact:
        return f"{facts.examples:,} {unit}, estimated from the duration (data.mdb unreadable)"
    return f"{facts.examples:,} {unit} in data.mdb"


def _item(tree: QTreeWidget, index: int) -> QTreeWidgetItem:
    item = tree.topLevelItem(index)
    assert item is not None
    return item


class _Item(QTreeWidgetItem):
    """A row that sorts numbers as numbers."""

    def set_sort_values(self, values: list[Any]) -> None:
        self._sort_values = values

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() else 0
        mine = getattr(self, "_sort_values", None)
        theirs = getattr(other, "_sort_values", None)
        if mine is not None and theirs is not None:
            return bool(mine[column] < theirs[column])
        return super().__lt__(other)
