"""``ListenControls``: the Listen panel's two rows of controls, without their behaviour.

The step row (previous, the step slider with its phase-2 and checkpoint marks, next, the
step's description, a legend) and the play row (pair chooser, Play input, Play
reconstruction, A/B, the time, a note or an output error). The panel connects them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ravelab.gui.step_slider import CHECKPOINT_COLOUR, PHASE_2_COLOUR, StepSlider
from ravelab.gui.style import ERROR_STYLE, HINT_STYLE


class ListenControls(QWidget):
    """The widgets; keys and focus are the panel's (buttons never take the focus)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = StepSlider()
        self.previous_button = QToolButton()
        self.previous_button.setText("◀")
        self.previous_button.setToolTip("The previous validation (Left)")
        self.next_button = QToolButton()
        self.next_button.setText("▶")
        self.next_button.setToolTip("The next validation (Right)")
        self.step_label = QLabel()
        self.step_label.setMinimumWidth(230)
        legend = QLabel(
            f"<span style='color:{PHASE_2_COLOUR.name()}'>▌</span> phase 2  "
            f"<span style='color:{CHECKPOINT_COLOUR.name()}'>▌</span> checkpoints"
        )
        legend.setStyleSheet(HINT_STYLE)
        self.pair_combo = QComboBox()
        self.pair_combo.setToolTip("Which validation example of the clip (RAVE keeps up to 8)")
        self.pair_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.play_input_button = QPushButton("Play input")
        self.play_input_button.setToolTip("Play what RAVE was given (Space: play/pause)")
        self.play_reconstruction_button = QPushButton("Play reconstruction")
        self.play_reconstruction_button.setToolTip("Play what the model made of it")
        self.ab_button = QPushButton("A/B")
        self.ab_button.setCheckable(True)
        self.ab_button.setToolTip(
            "Switch between the input (A) and the reconstruction (B) at the same position (B)"
        )
        for button in (
            self.play_input_button,
            self.play_reconstruction_button,
            self.ab_button,
            self.previous_button,
            self.next_button,
        ):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.pair_combo.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.time_label = QLabel("0:00.00 / 0:00.00")
        self.output_label = QLabel()
        self.output_label.setStyleSheet(ERROR_STYLE)
        self.output_label.setWordWrap(True)
        self.output_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.output_label.hide()
        self.note_label = QLabel()
        self.note_label.setStyleSheet(HINT_STYLE)
        self.note_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        step_row = QHBoxLayout()
        step_row.addWidget(QLabel("Step"))
        step_row.addWidget(self.previous_button)
        step_row.addWidget(self.slider, 1)
        step_row.addWidget(self.next_button)
        step_row.addWidget(self.step_label)
        step_row.addWidget(legend)
        play_row = QHBoxLayout()
        play_row.addWidget(QLabel("Pair"))
        play_row.addWidget(self.pair_combo)
        play_row.addSpacing(12)
        play_row.addWidget(self.play_input_button)
        play_row.addWidget(self.play_reconstruction_button)
        play_row.addWidget(self.ab_button)
        play_row.addSpacing(12)
        play_row.addWidget(self.time_label)
        play_row.addSpacing(12)
        play_row.addWidget(self.output_label, 1)
        play_row.addWidget(self.note_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(step_row)
        layout.addLayout(play_row)
