"""The Listen panel's render: a user's WAV through one of the run's checkpoints, heard A/B.

``RenderBar`` chooses the file and the checkpoint and renders; ``RenderView`` shows the
original above the render (waveform and spectrogram, a playhead) with play buttons.

The file is dropped on the Listen panel or chosen here; the checkpoint is ``best``,
``latest`` or one of the recorded checkpoints by step. The render itself is
``ravelab.core.listening.rendering.render_for_listening`` (``ravelab render`` into the
run's ``renders/`` folder) in a thread of the bar's own, never the GUI thread; RAVE's
progress messages cross to the GUI thread through a queued signal, and Stop ends the render
at its next message (RAVE's process is ended then).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.errors import RavelabError
from ravelab.core.listening import views
from ravelab.core.listening.rendering import RenderCancelled, RenderedPair, render_for_listening
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import DatabaseError, ExperimentRecord
from ravelab.gui.audio_views import SignalView
from ravelab.gui.style import ERROR_STYLE, HINT_STYLE
from ravelab.gui.workers import TaskRunner


@dataclass(frozen=True)
class RenderOutcome:
    """A render read back, with the pictures of both signals (computed in the worker)."""

    pair: RenderedPair
    original_view: views.Spectrogram
    render_view: views.Spectrogram


class _Relay(QObject):
    """RAVE's messages, from the render's thread to the GUI thread (queued)."""

    message = Signal(object)


class RenderBar(QWidget):
    """Choose a WAV and a checkpoint, render, then hear it against the original.

    Signals:
        rendered(object): a ``RenderOutcome`` (the render is done and read back).
        failed(str): the render was refused, failed or stopped, in words.
    """

    rendered = Signal(object)
    failed = Signal(str)

    def __init__(self, manager: TrainingManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self._runner = TaskRunner(self)
        self._relay = _Relay(self)
        self._relay.message.connect(self._on_message)
        self._cancel: threading.Event | None = None
        self._record: ExperimentRecord | None = None
        self.source: Path | None = None
        self.choose_button = QPushButton("Your audio…")
        self.choose_button.setToolTip("Choose a WAV file to render (or drop one on the panel)")
        self.choose_button.clicked.connect(self.choose_file)
        self.source_label = QLabel("drop a WAV here")
        self.source_label.setStyleSheet(HINT_STYLE)
        self.source_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.setToolTip("The checkpoint to render with")
        self.checkpoint_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.render_button = QPushButton("Render")
        self.render_button.setToolTip(
            "Encode and decode your audio with this checkpoint in RAVE's environment, "
            "then hear the original and the render in turn (A/B)"
        )
        self.render_button.clicked.connect(self.toggle_render)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(140)
        self.progress.hide()
        self.status = QLabel()
        self.status.setStyleSheet(HINT_STYLE)
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for widget in (self.choose_button, self.checkpoint_combo, self.render_button):
            widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Render"))
        layout.addWidget(self.choose_button)
        layout.addWidget(self.source_label, 1)
        layout.addWidget(QLabel("with"))
        layout.addWidget(self.checkpoint_combo)
        layout.addWidget(self.render_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status, 2)
        self._update()

    @property
    def busy(self) -> bool:
        return self._cancel is not None

    def set_run(self, record: ExperimentRecord | None, checkpoint_steps: list[int]) -> None:
        """The run to render with and its checkpoints' steps."""
        changed = (record.id if record else None) != (self._record.id if self._record else None)
        self._record = record
        chosen = self.checkpoint_combo.currentData()
        self.checkpoint_combo.clear()
        self.checkpoint_combo.addItem("best", "best")
        self.checkpoint_combo.addItem("latest", "latest")
        for step in sorted(set(checkpoint_steps), reverse=True):
            self.checkpoint_combo.addItem(f"step {step:,}", str(step))
        index = self.checkpoint_combo.findData(chosen) if not changed else 0
        self.checkpoint_combo.setCurrentIndex(max(index, 0))
        if changed and not self.busy:
            self.status.setText("")
        self._update()

    def set_source(self, path: Path) -> None:
        """The WAV to render (from a drop or the file dialog)."""
        self.source = path
        self.source_label.setText(path.name)
        self.source_label.setToolTip(str(path))
        self.source_label.setStyleSheet("")
        self._update()

    def choose_file(self) -> None:
        name, _filter = QFileDialog.getOpenFileName(
            self,
            "Audio to render",
            str(self.source.parent if self.source else Path.home()),
            "WAV files (*.wav *.wave);;All files (*)",
        )
        if name:
            self.set_source(Path(name))

    def choose_checkpoint(self, value: str) -> bool:
        """Pick ``best``, ``latest`` or a step (as the combo lists it); False if absent."""
        index = self.checkpoint_combo.findData(value)
        if index >= 0:
            self.checkpoint_combo.setCurrentIndex(index)
        return index >= 0

    def toggle_render(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.status.setText("stopping at RAVE's next message…")
            return
        self.start_render()

    def start_render(self) -> bool:
        """Render the chosen file with the chosen checkpoint (in a worker); False if not
        ready or already rendering."""
        record, source = self._record, self.source
        if record is None or source is None or self._cancel is not None:
            return False
        checkpoint = str(self.checkpoint_combo.currentData() or "best")
        cancel = threading.Event()
        self._cancel = cancel
        db, rave = self.manager.db, self.manager.rave
        relay = self._relay

        def work() -> RenderOutcome | str:
            try:
                pair = render_for_listening(
                    db,
                    record,
                    source,
                    checkpoint,
                    rave=rave,
                    on_message=relay.message.emit,
                    cancel=cancel,
                )
                return RenderOutcome(
                    pair,
                    views.spectrogram(pair.original, pair.sample_rate),
                    views.spectrogram(pair.render, pair.sample_rate),
                )
            except RenderCancelled:
                return "render stopped"
            except (RavelabError, DatabaseError, OSError) as error:
                return str(error)

        self.progress.setValue(0)
        self.progress.show()
        self.status.setStyleSheet(HINT_STYLE)
        self.status.setText(f"rendering {source.name} with {self.checkpoint_combo.currentText()}…")
        self._runner.submit(work, self._on_done)
        self._update()
        return True

    def _on_message(self, message: Any) -> None:
        if self._cancel is None or not isinstance(message, dict):
            return
        if message.get("event") == "progress":
            fraction = message.get("fraction")
            if isinstance(fraction, int | float) and not isinstance(fraction, bool):
                self.progress.setValue(round(min(max(float(fraction), 0.0), 1.0) * 1000))
            if message.get("stage") == "loading":
                self.status.setText("loading the model in RAVE's environment…")
            elif message.get("stage") == "rendering":
                self.status.setText("rendering…")
        elif message.get("event") == "note" and isinstance(message.get("message"), str):
            self.status.setText(str(message["message"]))

    def _on_done(self, outcome: RenderOutcome | str) -> None:
        self._cancel = None
        self.progress.hide()
        if isinstance(outcome, str):
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText(outcome)
            self.failed.emit(outcome)
        else:
            pair = outcome.pair
            step = f", step {pair.step:,}" if pair.step is not None else ""
            self.status.setStyleSheet(HINT_STYLE)
            self.status.setText(f"wrote {pair.output.name} ({pair.checkpoint.name}{step})")
            self.status.setToolTip("\n".join([str(pair.output), *pair.notes]))
            self.rendered.emit(outcome)
        self._update()

    def _update(self) -> None:
        busy = self._cancel is not None
        ready = self._record is not None and self._record.run_dir is not None
        self.render_button.setText("Stop" if busy else "Render")
        self.render_button.setEnabled(busy or (ready and self.source is not None))
        self.choose_button.setEnabled(not busy)
        self.checkpoint_combo.setEnabled(not busy and ready)

    def cleanup(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
        self._runner.shutdown()


class RenderView(QWidget):
    """The original above its render, with play buttons, A/B and a way back to the clips."""

    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pair: RenderedPair | None = None
        self.title = QLabel()
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.play_original = QPushButton("Play original")
        self.play_render = QPushButton("Play render")
        self.ab_button = QPushButton("A/B")
        self.ab_button.setToolTip(
            "Switch between the original and the render at the same position (B)"
        )
        self.back_button = QPushButton("Back to the clips")
        for button in (self.play_original, self.play_render, self.ab_button, self.back_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.back_button.clicked.connect(self.back_requested)
        self.original_view = SignalView("A · Original")
        self.render_view = SignalView("B · Render")
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.play_original)
        top.addWidget(self.play_render)
        top.addWidget(self.ab_button)
        top.addWidget(self.back_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.original_view, 1)
        layout.addWidget(self.render_view, 1)

    def show_outcome(self, outcome: RenderOutcome) -> None:
        pair = outcome.pair
        self.pair = pair
        step = f" (step {pair.step:,})" if pair.step is not None else ""
        self.title.setText(
            f"<b>{pair.output.name}</b> · {pair.checkpoint.name}{step} · {pair.sample_rate:,} Hz"
        )
        self.title.setToolTip("\n".join([str(pair.output), *pair.notes]))
        self.original_view.set_signal(pair.original, outcome.original_view)
        self.render_view.set_signal(pair.render, outcome.render_view)
        self.original_view.set_title(f"A · Original · {views.level_db(pair.original):.0f} dB RMS")
        self.render_view.set_title(f"B · Render · {views.level_db(pair.render):.0f} dB RMS")
