"""Read-only tables of the dialogs: rows picked whole, nothing edited in place."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget


def read_only_table(
    columns: Sequence[str],
    *,
    selectable: bool = True,
    stretch: int | None = None,
    min_height: int = 110,
) -> QTableWidget:
    """An empty table with ``columns``: no row numbers, columns sized to their contents
    (``stretch``: this one takes the room left, else the last), one row selectable at a
    time (or none)."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    if selectable:
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    else:
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    if stretch is not None:
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    header.setStretchLastSection(True)
    table.setMinimumHeight(min_height)
    return table
