"""``StepSlider``: a slider over a run's validation clips, marked with what happened when.

Its values are clip indices (one notch per validation, so Left/Right move one validation);
beneath the groove it marks each checkpoint's step (short green ticks) and the start of
RAVE's phase 2 (a taller orange line). Steps between two clips are placed by linear
interpolation between their notches.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSlider, QStyle, QStyleOptionSlider, QWidget

from ravelab.gui.style import SCHEME

CHECKPOINT_COLOUR = QColor(SCHEME.checkpoint_mark)
PHASE_2_COLOUR = QColor(SCHEME.phase_mark)
_MARK_ROOM = 10  # pixels under the groove for the marks


class StepSlider(QSlider):
    """One notch per clip; marks for checkpoints and the phase-2 start."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self._steps: list[int] = []
        self.phase_2_step: int | None = None
        self.checkpoint_steps: list[int] = []
        self.setRange(0, 0)
        self.setSingleStep(1)
        self.setPageStep(10)
        self.setTracking(True)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), hint.height() + _MARK_ROOM)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(hint.width(), hint.height() + _MARK_ROOM)

    @property
    def steps(self) -> list[int]:
        return list(self._steps)

    def set_marks(
        self, steps: list[int], phase_2_step: int | None, checkpoint_steps: list[int]
    ) -> None:
        """The clips' steps (one notch each) and the steps to mark."""
        self._steps = list(steps)
        self.phase_2_step = phase_2_step
        self.checkpoint_steps = list(checkpoint_steps)
        self.setRange(0, max(len(steps) - 1, 0))
        self.setToolTip(self._describe())
        self.update()

    def position_of(self, step: float) -> float | None:
        """Where ``step`` falls, as a fractional notch (None outside the clips' steps)."""
        if not self._steps or not self._steps[0] <= step <= self._steps[-1]:
            return None
        if len(self._steps) == 1:
            return 0.0
        return float(np.interp(step, self._steps, np.arange(len(self._steps))))

    def _describe(self) -> str:
        parts = ["One notch per validation clip (Left/Right: the previous/next one)."]
        if self.phase_2_step is not None:
            parts.append(f"Orange: phase 2 starts at step {self.phase_2_step:,}.")
        if self.checkpoint_steps:
            parts.append(f"Green: the {len(self.checkpoint_steps)} checkpoint(s).")
        return "\n".join(parts)

    def _x_of(self, notch: float, option: QStyleOptionSlider) -> float:
        style = self.style()
        groove = style.subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderGroove, self
        )
        handle = style.subControlRect(
            QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self
        )
        span = max(groove.width() - handle.width(), 1)
        top = max(self.maximum(), 1)
        return groove.x() + handle.width() / 2 + notch / top * span

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._steps:
            return
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        painter = QPainter(self)
        bottom = self.height() - 1
        for step in self.checkpoint_steps:
            notch = self.position_of(step)
            if notch is not None:
                x = round(self._x_of(notch, option))
                painter.setPen(QPen(CHECKPOINT_COLOUR, 2))
                painter.drawLine(x, bottom - 5, x, bottom)
        if self.phase_2_step is not None:
            notch = self.position_of(self.phase_2_step)
            if notch is not None:
                x = round(self._x_of(notch, option))
                painter.setPen(QPen(PHASE_2_COLOUR, 3))
                painter.drawLine(x, bottom - _MARK_ROOM - 4, x, bottom)
        painter.end()
