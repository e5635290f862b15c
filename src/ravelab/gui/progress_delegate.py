"""``ProgressDelegate``: paints a run's progress as a bar with "step / max steps  NN%".

The delegate paints the style's own progress bar (no widget per row), from the
model's ``PROGRESS_ROLE``: ``(step, max_steps, percent, status)``. It is the table's
only Python code that runs at a repaint (once per visible row); the other cells are
painted by Qt's own delegate from values the model stores in C++.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from ravelab.db import RunStatus
from ravelab.gui.experiments_model import PROGRESS_ROLE
from ravelab.gui.formatting import percent_text
from ravelab.gui.style import STATUS_COLOURS, UNKNOWN_STATUS_COLOUR

#: Resolution of the painted bar (QStyleOptionProgressBar takes whole numbers).
BAR_RANGE = 1000


def status_palette(base: QPalette, status: str) -> QPalette:
    """``base`` with the bar's fill in the status's colour (running keeps the style's)."""
    palette = QPalette(base)
    if status != RunStatus.RUNNING:
        colour = QColor(STATUS_COLOURS.get(status, UNKNOWN_STATUS_COLOUR))
        palette.setColor(QPalette.ColorRole.Highlight, colour)
    return palette


def progress_label(step: int, max_steps: int, percent: float) -> str:
    """``1,234 / 20,000  6.2%`` (just the step when max steps is unknown)."""
    if not max_steps:
        return f"step {step:,}"
    return f"{step:,} / {max_steps:,}  {percent_text(percent)}"


class ProgressDelegate(QStyledItemDelegate):
    """Draws the progress column of the runs table."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        value = index.data(PROGRESS_ROLE)
        if not value:
            super().paint(painter, option, index)
            return
        step, max_steps, percent, status = value
        # The row's selection background first, so the bar sits on it.
        style = option.widget.style() if option.widget is not None else QApplication.style()
        background = QStyleOptionViewItem(option)
        self.initStyleOption(background, index)
        background.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, background, painter, option.widget)

        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 3, -3, -3)
        bar.minimum = 0
        bar.maximum = BAR_RANGE
        bar.progress = round(percent / 100 * BAR_RANGE)
        bar.text = progress_label(step, max_steps, percent)
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.palette = status_palette(option.palette, status)
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 210), max(hint.height(), 24))
