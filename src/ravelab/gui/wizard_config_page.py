"""The wizard's second page, ``ConfigSelectionPage``: RAVE's base configs, modifiers and
augmentations, with what RAVE refuses refused here (``ravelab.core.rave.configs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from ravelab.core.rave import configs as rave_configs
from ravelab.gui.wizard_widgets import error_label, hint_label, item_at

if TYPE_CHECKING:
    from ravelab.gui.new_training_wizard import NewTrainingWizard


class ConfigSelectionPage(QWizardPage):
    """Choose RAVE's base config, modifiers and augmentations."""

    def __init__(self, wizard: NewTrainingWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("RAVE configuration")
        self.setSubTitle(
            "A base config, plus modifiers (each an extra `--config`) and augmentations. "
            "GPU memory is what RAVE's README gives."
        )
        self.base_tree = self._tree(["Base config", "GPU memory", "Description"])
        for info in rave_configs.BASE_CONFIGS.values():
            item = self._item(info)
            self.base_tree.addTopLevelItem(item)
            if info.name == "v2":
                self.base_tree.setCurrentItem(item)
                item.setSelected(True)
        self.base_tree.itemSelectionChanged.connect(self._on_changed)

        self.modifier_tree = self._tree(["Modifier", "GPU memory", "Description"])
        self.modifier_tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for info in rave_configs.MODIFIERS.values():
            item = self._item(info)
            item.setCheckState(0, Qt.CheckState.Unchecked)
            self.modifier_tree.addTopLevelItem(item)
        for info in rave_configs.AUGMENTATIONS.values():
            item = self._item(info, augmentation=True)
            item.setCheckState(0, Qt.CheckState.Unchecked)
            self.modifier_tree.addTopLevelItem(item)
        self.modifier_tree.itemChanged.connect(lambda *_: self._on_changed())

        self.reason = error_label()
        self.phase_label = hint_label("")
        layout = QVBoxLayout(self)
        layout.addWidget(self.base_tree, 5)
        layout.addWidget(self.modifier_tree, 6)
        layout.addWidget(self.phase_label)
        layout.addWidget(self.reason)
        self._on_changed()

    @staticmethod
    def _tree(headers: list[str]) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setHeaderLabels(headers)
        tree.setRootIsDecorated(False)
        tree.setAlternatingRowColors(True)
        tree.setUniformRowHeights(True)
        header = tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        return tree

    @staticmethod
    def _item(info: rave_configs.ConfigInfo, augmentation: bool = False) -> QTreeWidgetItem:
        name = f"{info.name} (augmentation)" if augmentation else info.name
        item = QTreeWidgetItem([name, info.gpu_memory or "-", info.description])
        item.setData(0, Qt.ItemDataRole.UserRole, info.name)
        item.setData(1, Qt.ItemDataRole.UserRole, "augment" if augmentation else "config")
        item.setToolTip(2, info.description)
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignCenter)
        return item

    def base_config(self) -> str:
        """The chosen base config (``v2`` by default)."""
        items = self.base_tree.selectedItems()
        return str(items[0].data(0, Qt.ItemDataRole.UserRole)) if items else ""

    def _checked(self, kind: str) -> list[str]:
        names = []
        for index in range(self.modifier_tree.topLevelItemCount()):
            item = item_at(self.modifier_tree, index)
            if (
                item.data(1, Qt.ItemDataRole.UserRole) == kind
                and item.checkState(0) == Qt.CheckState.Checked
            ):
                names.append(str(item.data(0, Qt.ItemDataRole.UserRole)))
        return names

    def modifiers(self) -> list[str]:
        """The checked modifiers, in RAVE's listing order."""
        return self._checked("config")

    def augmentations(self) -> list[str]:
        """The checked augmentations."""
        return self._checked("augment")

    def set_selection(
        self, base: str, modifiers: list[str] | None = None, augment: list[str] | None = None
    ) -> None:
        """Choose a base config, modifiers and augmentations (tests, presets)."""
        for index in range(self.base_tree.topLevelItemCount()):
            item = item_at(self.base_tree, index)
            item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) == base)
        wanted = {("config", m) for m in modifiers or []}
        wanted |= {("augment", a) for a in augment or []}
        for index in range(self.modifier_tree.topLevelItemCount()):
            item = item_at(self.modifier_tree, index)
            key = (item.data(1, Qt.ItemDataRole.UserRole), item.data(0, Qt.ItemDataRole.UserRole))
            item.setCheckState(
                0, Qt.CheckState.Checked if key in wanted else Qt.CheckState.Unchecked
            )
        self._on_changed()

    def problem(self) -> str | None:
        """Why RAVE would refuse this combination, or None."""
        base = self.base_config()
        if not base:
            return "Choose a base config."
        needs_v2 = [m for m in self.modifiers() if m in rave_configs.V2_ONLY_MODIFIERS]
        if needs_v2 and base not in rave_configs.V2_FAMILY:
            family = ", ".join(sorted(rave_configs.V2_FAMILY))
            return (
                f"{' and '.join(needs_v2)} need{'s' if len(needs_v2) == 1 else ''} a v2-family "
                f"base config ({family}), not {base}."
            )
        return None

    def phase_1_duration(self) -> int:
        """RAVE's phase-1 length for the chosen configs (and the overrides given)."""
        return rave_configs.phase_1_duration(
            self.base_config() or "v2", self.modifiers(), self._wizard.overrides()
        )

    def _on_changed(self) -> None:
        problem = self.problem()
        self.reason.setText(problem or "")
        self.phase_label.setText(
            f"With this configuration RAVE's phase 1 (the autoencoder alone) lasts "
            f"{self.phase_1_duration():,} steps; the adversarial phase 2 follows."
        )
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.problem() is None
