"""``CompareList``: several runs' reconstructions of one pair, a row each, to hear in turn.

Each row names its run and the step heard: the step chosen on the slider, or the nearest
step that run has (then said, in orange: "nearest: step N"). A row whose run has no clips,
too few pairs or a clip that cannot be read says so and cannot be played. The list only
shows; the Listen panel reads the pairs (``core.listening.pairs.load_nearest``) and owns
the player.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.listening.pairs import LoadedPair
from ravelab.db import ExperimentRecord
from ravelab.gui.audio_views import SignalView
from ravelab.gui.style import HINT_STYLE, SCHEME

#: The colour of a step that is the nearest one rather than the one asked for.
NEAREST_COLOUR = SCHEME.accent


class CompareRow(QFrame):
    """One run in the comparison: its name, the step heard, play buttons, the output."""

    def __init__(self, record: ExperimentRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.experiment_id = record.id
        self.name = record.name
        self.header = QLabel(record.name)
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.play_input = QPushButton("Play input")
        self.play_reconstruction = QPushButton("Play reconstruction")
        for button in (self.play_input, self.play_reconstruction):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setEnabled(False)
        self.view = SignalView("reconstruction")
        self.view.title.hide()
        self.view.setMinimumHeight(84)
        self.loaded: LoadedPair | None = None
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.header, 1)
        top.addWidget(self.play_input)
        top.addWidget(self.play_reconstruction)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 6)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

    def show_pair(self, loaded: LoadedPair | None, wanted_step: int, note: str = "") -> None:
        """Show ``loaded`` (None: nothing to hear, ``note`` says why)."""
        self.loaded = loaded
        if loaded is None:
            self.header.setText(f"<b>{self.name}</b> · <i>{note or 'no clips'}</i>")
            self.view.set_signal(None, None)
        else:
            step = loaded.clip.step
            where = (
                f"step {step:,}"
                if step == wanted_step
                else f"<span style='color:{NEAREST_COLOUR}'>nearest: step {step:,}</span>"
            )
            extra = f" · <i>{note}</i>" if note else ""
            self.header.setText(f"<b>{self.name}</b> · {where}{extra}")
            self.view.set_signal(loaded.reconstruction, loaded.reconstruction_view)
        playable = loaded is not None and not note
        self.play_input.setEnabled(playable)
        self.play_reconstruction.setEnabled(playable)


class CompareList(QScrollArea):
    """The rows of a comparison, the selected run first, in a scroll area."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[CompareRow] = []
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        self._layout = QVBoxLayout(inner)
        self._layout.setContentsMargins(0, 0, 0, 0)
        hint = QLabel(
            "The selected runs' reconstructions of the chosen pair, at the step above or "
            "the nearest one a run has. Keys 1-9 switch runs at the same moment; B switches "
            "to the input."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet(HINT_STYLE)
        self._layout.addWidget(hint)
        self._layout.addStretch(1)
        self.setWidget(inner)

    def set_runs(
        self,
        records: list[ExperimentRecord],
        play: Callable[[int, str], None],
        seek: Callable[[int], None],
    ) -> None:
        """One row per run (none: an empty list); ``play(run id, half)`` and ``seek``
        are called by the rows' buttons and views."""
        for row in self.rows:
            self._layout.removeWidget(row)
            row.deleteLater()
        self.rows = []
        for index, record in enumerate(records):
            row = CompareRow(record)
            if index < 9:
                row.setToolTip(f"Key {index + 1}: hear this run at the same moment")
            row.play_input.clicked.connect(lambda _c=False, i=record.id: play(i, "input"))
            row.play_reconstruction.clicked.connect(
                lambda _c=False, i=record.id: play(i, "reconstruction")
            )
            row.view.seek_requested.connect(seek)
            self._layout.insertWidget(self._layout.count() - 1, row)
            self.rows.append(row)

    def row(self, experiment_id: int) -> CompareRow | None:
        return next((r for r in self.rows if r.experiment_id == experiment_id), None)
