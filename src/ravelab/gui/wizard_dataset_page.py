"""The wizard's first page, ``DatasetSelectionPage``: the registered datasets (the project's
first), "Add dataset..." right there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from ravelab.core import dataset_catalog
from ravelab.db import DatasetRecord, DatasetStatus
from ravelab.gui import formatting
from ravelab.gui.dataset_actions import add_dataset
from ravelab.gui.wizard_widgets import error_label, hint_label, item_at

if TYPE_CHECKING:
    from ravelab.gui.new_training_wizard import NewTrainingWizard


class DatasetSelectionPage(QWizardPage):
    """Choose a registered dataset, or register one."""

    def __init__(self, wizard: NewTrainingWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Dataset")
        self.setSubTitle(
            "Choose the preprocessed dataset to train on (a folder made by `rave preprocess`)."
        )
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Name", "Channels", "Sample rate", "Duration", "Folder"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column in (1, 2, 3):
            self.tree.headerItem().setTextAlignment(
                column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
        for column in range(4):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.tree.itemDoubleClicked.connect(lambda *_: self._wizard.next())
        self.empty_label = hint_label(
            "No dataset is registered yet. Click “Add dataset...” and choose a folder made by "
            "`rave preprocess --input_path AUDIO --output_path FOLDER`."
        )
        self.reason = error_label()
        self.add_button = QPushButton("Add dataset...")
        self.add_button.setToolTip("Register a folder made by `rave preprocess`")
        self.add_button.clicked.connect(self.add_dataset)

        buttons = QHBoxLayout()
        buttons.addWidget(self.reason, 1)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)
        self._datasets: list[DatasetRecord] = []
        self.reload()

    def reload(self, select_id: int | None = None) -> None:
        """List the ready datasets again (and select one)."""
        current = self.selected_dataset()
        select_id = select_id if select_id is not None else (current.id if current else None)
        self._datasets = [
            record
            for record in dataset_catalog.list_datasets(self._wizard.db)
            if record.status == DatasetStatus.READY
        ]
        self.tree.clear()
        for record in self._datasets:
            item = QTreeWidgetItem(
                [
                    record.name,
                    str(record.channels) if record.channels else "-",
                    formatting.sample_rate(record.sample_rate),
                    formatting.seconds_of_audio(record.n_seconds),
                    record.path,
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, record.id)
            item.setToolTip(4, record.path)
            for column in (1, 2, 3):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
            self.tree.addTopLevelItem(item)
            if record.id == select_id:
                item.setSelected(True)
                self.tree.setCurrentItem(item)
        if select_id is None and len(self._datasets) == 1:
            item_at(self.tree, 0).setSelected(True)
        self.empty_label.setVisible(not self._datasets)
        self._on_selection()

    def selected_dataset(self) -> DatasetRecord | None:
        """The dataset chosen, or None."""
        items = self.tree.selectedItems()
        if not items:
            return None
        dataset_id = items[0].data(0, Qt.ItemDataRole.UserRole)
        return next((d for d in self._datasets if d.id == dataset_id), None)

    def select_dataset(self, dataset_id: int) -> None:
        """Select a dataset by id."""
        self.reload(select_id=dataset_id)

    def add_dataset(self) -> DatasetRecord | None:
        """Register a folder (picker) and select it."""
        record = add_dataset(self, self._wizard.db, self._wizard.project_id)
        if record is not None:
            self.reload(select_id=record.id)
            self._wizard.dataset_added.emit(record.id)
        return record

    def _on_selection(self) -> None:
        if self.selected_dataset() is None:
            self.reason.setText(
                "Choose a dataset to continue." if self._datasets else "Add a dataset to continue."
            )
        else:
            self.reason.setText("")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.selected_dataset() is not None
