"""The small widgets the new-training wizard's pages share: wrapping labels, error and hint
labels, a tree's row by index."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QLabel,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
)

from ravelab.gui.style import ERROR_STYLE, HINT_STYLE


def item_at(tree: QTreeWidget, index: int) -> QTreeWidgetItem:
    item = tree.topLevelItem(index)
    assert item is not None
    return item


def wrapping(label: QLabel) -> QLabel:
    # A word-wrapped label otherwise asks for a narrow width and wraps after 40 characters.
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


def error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    return wrapping(label)


def hint_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(HINT_STYLE)
    return wrapping(label)
