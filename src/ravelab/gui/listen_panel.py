"""``ListenPanel``: hear a run's validation clips by training step, input against output.

A step slider runs over the selected run's clips (one notch per validation; marks for the
checkpoints and the start of phase 2), a chooser picks one of the clip's (input,
reconstruction) pairs, and the pair is shown as waveform and spectrogram, the input above
its reconstruction, with a playhead. "Play input" and "Play reconstruction" start either;
A/B (the ``B`` key) switches between them at the same position while playing. Space plays
and pauses, Left/Right move one validation.

With several runs selected in the table, the panel compares: the same pair at the same
step (or the nearest one, said so) for every selected run, one row each, all playable on
the same position; ``1``-``9`` switch between the rows' reconstructions.

Files are read and spectrograms computed in a worker (latest request wins while the
slider is dragged); the GUI thread only paints and hands arrays to the player. A live
run's list is read again, at most every few seconds, as its details refresh, so new clips
appear as RAVE writes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QHideEvent,
    QKeySequence,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.listening import views
from ravelab.core.listening.clips import ClipEntry
from ravelab.core.listening.pairs import (
    LoadedPair,
    NearestPair,
    PairReader,
    load_nearest,
    load_pair,
)
from ravelab.core.listening.timeline import Timeline, load_timeline
from ravelab.core.listening.wav_files import Samples
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import ExperimentRecord
from ravelab.gui.audio_player import AudioPlayer
from ravelab.gui.audio_views import SignalView
from ravelab.gui.experiments_model import is_live
from ravelab.gui.latest_task import LatestTask
from ravelab.gui.listen_compare import CompareList, CompareRow
from ravelab.gui.listen_controls import ListenControls
from ravelab.gui.listen_render import RenderBar, RenderOutcome, RenderView
from ravelab.gui.style import HINT_STYLE
from ravelab.gui.workers import TaskRunner

logger = logging.getLogger(__name__)

#: A live run's clips are listed again at most this often (seconds).
LIVE_RELIST_S = 3.0
INPUT, RECONSTRUCTION = "input", "reconstruction"
#: The player's keys of a render are ``render:input`` (the original) and
#: ``render:reconstruction`` (the render), so A/B works on them as on a pair.
RENDER = "render"


def source_key(experiment_id: int | str, half: str) -> str:
    """The player's key for one half of one run's pair."""
    return f"{experiment_id}:{half}"


def clock(frames: int, rate: int) -> str:
    seconds = frames / max(rate, 1)
    return f"{int(seconds // 60)}:{seconds % 60:05.2f}"


class ListenPanel(QWidget):
    """The selected run's validation clips, to hear and compare.

    Args:
        manager: the training manager (the database is read through the core).
        player: the audio player (one is made, with ``$RAVELAB_AUDIO_BACKEND``, if not given).
        parent: the parent widget.

    Signals:
        timeline_loaded(): the run's clips were listed and the slider shows them.
        pair_loaded(): the chosen pair is in the player and on screen.
        compare_loaded(): every compared run's row shows its pair.
    """

    timeline_loaded = Signal()
    pair_loaded = Signal()
    compare_loaded = Signal()
    render_shown = Signal()

    def __init__(
        self,
        manager: TrainingManager,
        player: AudioPlayer | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.manager = manager
        self.player = player if player is not None else AudioPlayer(parent=self)
        self._runner = TaskRunner(self)
        self._timeline_task = LatestTask(self._runner)
        self._pair_task = LatestTask(self._runner)
        self._compare_task = LatestTask(self._runner)
        self._reader = PairReader()  # used by the worker only
        self._record: ExperimentRecord | None = None
        self._others: list[ExperimentRecord] = []
        self.timeline: Timeline | None = None
        self.loaded: LoadedPair | None = None
        self._timelines: dict[int, Timeline] = {}  # compared runs' (ended ones are kept)
        self._wanted_key: str | None = None
        self._dirty = False
        self._listed_at = 0.0
        self._listed_live = False
        #: A live run's clips are listed again at most this often (seconds).
        self.relist_interval_s = LIVE_RELIST_S
        self._clip_pairs = 0
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        # -- step and pair: their widgets, under the names the panel has always had --
        controls = ListenControls()
        self.controls = controls
        self.slider = controls.slider
        self.previous_button = controls.previous_button
        self.next_button = controls.next_button
        self.step_label = controls.step_label
        self.pair_combo = controls.pair_combo
        self.play_input_button = controls.play_input_button
        self.play_reconstruction_button = controls.play_reconstruction_button
        self.ab_button = controls.ab_button
        self.time_label = controls.time_label
        self.output_label = controls.output_label
        self.note_label = controls.note_label
        self.slider.valueChanged.connect(self._on_slider)
        self.previous_button.clicked.connect(lambda: self.move_step(-1))
        self.next_button.clicked.connect(lambda: self.move_step(1))
        self.pair_combo.currentIndexChanged.connect(self._on_pair)
        self.play_input_button.clicked.connect(lambda: self.play_half(INPUT))
        self.play_reconstruction_button.clicked.connect(lambda: self.play_half(RECONSTRUCTION))
        self.ab_button.clicked.connect(lambda _checked: self.toggle_ab())

        # -- what is shown: one pair, or a comparison --
        self.input_view = SignalView("A · Input")
        self.reconstruction_view = SignalView("B · Reconstruction")
        for view in (self.input_view, self.reconstruction_view):
            view.seek_requested.connect(self._seek)
        pair_page = QWidget()
        pair_layout = QVBoxLayout(pair_page)
        pair_layout.setContentsMargins(0, 0, 0, 0)
        pair_layout.setSpacing(6)
        pair_layout.addWidget(self.input_view, 1)
        pair_layout.addWidget(self.reconstruction_view, 1)
        self.compare_area = CompareList()
        self.views = QStackedWidget()
        self.views.addWidget(pair_page)
        self.views.addWidget(self.compare_area)
        self._pair_page = pair_page

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addWidget(controls)
        content_layout.addWidget(self.views, 1)
        self.empty = QLabel("Select a run to hear its validation clips.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(HINT_STYLE)
        self.render_view = RenderView()
        self.render_view.back_requested.connect(self.show_clips)
        self.render_view.play_original.clicked.connect(lambda: self._play_row(RENDER, INPUT))
        self.render_view.play_render.clicked.connect(lambda: self._play_row(RENDER, RECONSTRUCTION))
        self.render_view.ab_button.clicked.connect(self.toggle_ab)
        for view in (self.render_view.original_view, self.render_view.render_view):
            view.seek_requested.connect(self._seek)
        self._stack = QStackedWidget()
        self._stack.addWidget(self.empty)
        self._stack.addWidget(content)
        self._stack.addWidget(self.render_view)
        self._content = content
        self.render_bar = RenderBar(manager)
        self.render_bar.rendered.connect(self._on_rendered)
        self.render_bar.hide()
        self.setAcceptDrops(True)
        # In a scroll area: the panel never makes the window taller than the other tab does.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self._stack)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.render_bar)

        # -- keys (on the panel and its children) --
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        keys: list[tuple[Any, Callable[[], object]]] = [
            (Qt.Key.Key_Space, self.toggle_play),
            (Qt.Key.Key_Left, lambda: self.move_step(-1)),
            (Qt.Key.Key_Right, lambda: self.move_step(1)),
            (Qt.Key.Key_B, self.toggle_ab),
        ]
        keys += [
            (getattr(Qt.Key, f"Key_{n}"), partial(self.choose_row, n - 1)) for n in range(1, 10)
        ]
        self._shortcuts = []
        for key, slot in keys:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(context)
            shortcut.activated.connect(slot)
            self._shortcuts.append(shortcut)

        self.player.state_changed.connect(self._on_player_state)
        self.player.position_changed.connect(self._on_position)
        self.player.output_failed.connect(self._on_output_failed)
        if self.player.output_error:
            self._on_output_failed(self.player.output_error)
        self._update_controls()

    # -- what to show ------------------------------------------------------------------------

    @property
    def record(self) -> ExperimentRecord | None:
        return self._record

    @property
    def compared_ids(self) -> list[int]:
        """The runs compared with the selected one (empty: no comparison)."""
        return [r.id for r in self._others]

    def show_runs(
        self, record: ExperimentRecord | None, others: list[ExperimentRecord] | None = None
    ) -> None:
        """Show ``record``'s clips, compared with ``others`` when given."""
        others = [o for o in others or [] if record is None or o.id != record.id]
        same_run = (record.id if record else None) == (self._record.id if self._record else None)
        same_others = [o.id for o in others] == self.compared_ids
        self._record = record
        self._others = others
        if same_run and same_others:
            return
        if not same_run:
            self.player.pause()
            self.player.clear()
            self.timeline = None
            self.loaded = None
        self.compare_area.set_runs(
            [record, *others] if record and others else [], self._play_row, self._seek
        )
        if not same_run:
            self.render_bar.set_run(record, [])
            self.render_bar.setVisible(record is not None and record.run_dir is not None)
        if record is None:
            self._show_empty("Select a run to hear its validation clips.")
            return
        if same_run and self.timeline is not None:
            self._after_timeline()
            if self.loaded is not None:
                self._on_pair_loaded(self.loaded)  # the player's sources: this run's only
            return
        self._show_empty("Reading the run's validation clips…")
        self._dirty = True
        if self.isVisible():
            self._load_timeline()

    def update_experiment(self, record: ExperimentRecord) -> None:
        """The run moved on (the page's refresh): list its clips again now and then."""
        if self._record is None or record.id != self._record.id:
            return
        self._record = record
        live = is_live(record)
        ended_since = self._listed_live and not live
        due = time.monotonic() - self._listed_at >= self.relist_interval_s
        if (ended_since or (live and due)) and not self._timeline_task.busy:
            if self.isVisible():
                self._load_timeline()
            else:
                self._dirty = True

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.setFocus()  # Space, Left/Right and B work at once when the tab is opened
        if self._dirty and self._record is not None:
            self._load_timeline()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.player.pause()  # nothing keeps playing where it cannot be stopped

    @property
    def showing_render(self) -> bool:
        return self._stack.currentWidget() is self.render_view

    def _show_empty(self, text: str) -> None:
        self.empty.setText(text)
        if self.showing_render and self._record is not None:
            return  # the render stays on screen until "Back to the clips"
        self._stack.setCurrentWidget(self.empty)
        self._update_controls()

    # -- loading -------------------------------------------------------------------------------

    def _load_timeline(self) -> None:
        record = self._record
        if record is None:
            return
        self._dirty = False
        self._listed_at = time.monotonic()
        self._listed_live = is_live(record)
        db = self.manager.db
        self._timeline_task.submit(
            lambda: load_timeline(db, record), lambda timeline: self._on_timeline(timeline)
        )

    def _on_timeline(self, timeline: Timeline) -> None:
        if self._record is None or timeline.experiment_id != self._record.id:
            return
        before = self.timeline
        self.timeline = timeline
        kept = self.current_clip() if before is not None else None
        steps = timeline.steps
        self.slider.blockSignals(True)
        self.slider.set_marks(steps, timeline.phase_2_step, timeline.checkpoint_steps)
        if kept is not None and kept.step in steps:
            index = next(
                i
                for i, c in enumerate(timeline.clips)
                if c.step == kept.step and c.version == kept.version
            )
            follow = before is not None and self.slider.value() == len(before.clips) - 1
            # At the newest clip of a live run: stay at the newest as new ones arrive.
            self.slider.setValue(len(steps) - 1 if follow else index)
        else:
            self.slider.setValue(max(len(steps) - 1, 0))
        self.slider.blockSignals(False)
        self._after_timeline()
        self.timeline_loaded.emit()

    def _after_timeline(self) -> None:
        timeline = self.timeline
        record = self._record
        if timeline is None or record is None:
            return
        self.render_bar.set_run(record, timeline.checkpoint_steps)
        if not timeline.clips:
            self._show_empty(self._no_clips_text(record, timeline))
            return
        if not self.showing_render:
            self._stack.setCurrentWidget(self._content)
        self.views.setCurrentWidget(self.compare_area if self._others else self._pair_page)
        self._set_note()
        clip = self.current_clip()
        if self.loaded is None or clip is None or self.loaded.clip != clip:
            self._update_step_label()
            self._load_pair()
        elif self._others:
            self._load_compare()
        self._update_controls()

    def _no_clips_text(self, record: ExperimentRecord, timeline: Timeline) -> str:
        imported = record.config.get("imported_from")
        if timeline.problems:
            why = "\n".join(timeline.problems[:3])
            return f"None of this run's validation clips can be played:\n{why}"
        if imported:
            return (
                "This imported run has no validation clips: its TensorBoard files hold no "
                "audio_val clip (RAVE writes one at each validation)."
            )
        if is_live(record):
            every = record.config.get("val_every")
            cadence = f" (every {every:,} steps)" if isinstance(every, int) else ""
            return (
                "No validation clip yet: RAVE writes one at each validation"
                f"{cadence}. It appears here as soon as it is recorded."
            )
        return "This run has no validation clips: it ended before its first validation."

    def current_clip(self) -> ClipEntry | None:
        timeline = self.timeline
        if timeline is None or not timeline.clips:
            return None
        return timeline.clips[min(max(self.slider.value(), 0), len(timeline.clips) - 1)]

    @property
    def pair(self) -> int:
        return max(self.pair_combo.currentIndex(), 0)

    def _load_pair(self) -> None:
        clip = self.current_clip()
        record = self._record
        if clip is None or record is None:
            return
        pair = min(self.pair, max(clip.pairs - 1, 0))
        reader = self._reader
        experiment_id = record.id

        def work() -> LoadedPair | str:
            return load_pair(reader, experiment_id, clip, pair)

        self._pair_task.submit(work, self._on_pair_loaded)

    def _on_pair_loaded(self, loaded: LoadedPair | str) -> None:
        if isinstance(loaded, str):
            self.loaded = None
            self.player.clear()
            self.input_view.set_signal(None, None)
            self.reconstruction_view.set_signal(None, None)
            self._set_note(loaded)
            self._update_controls()
            self.pair_loaded.emit()
            return
        if self._record is None or loaded.experiment_id != self._record.id:
            return
        self.loaded = loaded
        if self.showing_render:
            return  # the player keeps the render's sources until "Back to the clips"
        current = self.player.current
        self._wanted_key = current
        half = current.split(":", 1)[1] if current else INPUT
        # The same half of the new pair, at the same position: stepping while listening
        # hears the same moment a few thousand steps later.
        self.player.set_sources(
            {
                source_key(loaded.experiment_id, INPUT): loaded.input,
                source_key(loaded.experiment_id, RECONSTRUCTION): loaded.reconstruction,
            },
            loaded.clip.sample_rate,
            current=source_key(loaded.experiment_id, half),
            keep_position=True,
        )
        self._sync_pairs(loaded.clip)
        self._set_note()
        self.input_view.set_signal(loaded.input, loaded.input_view)
        self.reconstruction_view.set_signal(loaded.reconstruction, loaded.reconstruction_view)
        self.input_view.set_title(f"A · Input · {views.level_db(loaded.input):.0f} dB RMS")
        self.reconstruction_view.set_title(
            f"B · Reconstruction · {views.level_db(loaded.reconstruction):.0f} dB RMS"
        )
        self._update_step_label()
        self._update_controls()
        self._on_position(self.player.position)
        self.pair_loaded.emit()
        if self._others:
            self._load_compare()

    def _set_note(self, error: str | None = None) -> None:
        """The line beside the buttons: why the pair cannot be heard, clips that could not
        be read, or a split into pairs that was worked out rather than known."""
        problems = self.timeline.problems if self.timeline is not None else []
        parts = [error] if error else []
        if problems:
            parts.append(f"{len(problems)} clip(s) could not be read")
        clip = self.loaded.clip if self.loaded is not None and not error else None
        if clip is not None and clip.layout_source == "assumed":
            parts.append(f"pairs of {clip.segment:,} samples, worked out from the clip's length")
        self.note_label.setText(" · ".join(parts))
        tips = list(problems)
        if clip is not None and clip.layout_source == "assumed":
            tips.append(
                "RAVE does not store --n_signal in the run folder: give it with "
                "`ravelab import-run --n-signal N` if the pairs sound cut in the wrong places"
            )
        self.note_label.setToolTip("\n".join(tips))

    def _sync_pairs(self, clip: ClipEntry) -> None:
        if self._clip_pairs == clip.pairs:
            return
        self._clip_pairs = clip.pairs
        chosen = self.pair
        self.pair_combo.blockSignals(True)
        self.pair_combo.clear()
        for pair in range(clip.pairs):
            self.pair_combo.addItem(f"{pair + 1} of {clip.pairs}")
        self.pair_combo.setCurrentIndex(min(chosen, clip.pairs - 1))
        self.pair_combo.blockSignals(False)

    # -- comparing -----------------------------------------------------------------------------

    def _load_compare(self) -> None:
        loaded = self.loaded
        others = list(self._others)
        if loaded is None or not others:
            return
        step = loaded.clip.step if loaded.clip.step is not None else 0
        pair = loaded.pair
        db = self.manager.db
        reader = self._reader
        cached = {r.id: t for r in others if (t := self._timelines.get(r.id)) and not is_live(r)}

        def work() -> tuple[int, dict[int, NearestPair]]:
            return step, load_nearest(db, others, step, pair, reader, cached)

        self._compare_task.submit(work, self._on_compare_loaded)

    def _on_compare_loaded(self, result: tuple[int, dict[int, NearestPair]]) -> None:
        step, out = result
        loaded = self.loaded
        if loaded is None or loaded.clip.step != step or not self.compare_area.rows:
            return
        sources: dict[str, Samples] = {
            source_key(loaded.experiment_id, INPUT): loaded.input,
            source_key(loaded.experiment_id, RECONSTRUCTION): loaded.reconstruction,
        }
        rate = loaded.clip.sample_rate
        for row in self.compare_area.rows:
            if row.experiment_id == loaded.experiment_id:
                row.show_pair(loaded, step)
                continue
            found = out.get(row.experiment_id)
            if found is None:
                row.show_pair(None, step, "not read")
                continue
            other, note = found.loaded, found.note
            self._timelines[row.experiment_id] = found.timeline
            if other is not None and other.clip.sample_rate != rate:
                note = f"at {other.clip.sample_rate:,} Hz: select it alone to hear it"
            row.show_pair(other, step, note)
            if other is not None and not note:
                sources[source_key(other.experiment_id, INPUT)] = other.input
                sources[source_key(other.experiment_id, RECONSTRUCTION)] = other.reconstruction
        wanted = self._wanted_key if self._wanted_key in sources else self.player.current
        self.player.set_sources(sources, rate, current=wanted, keep_position=True)
        self._update_controls()
        self._on_position(self.player.position)
        self.compare_loaded.emit()

    def compare_row(self, experiment_id: int) -> CompareRow | None:
        return self.compare_area.row(experiment_id)

    def _play_row(self, experiment_id: int | str, half: str) -> None:
        key = source_key(experiment_id, half)
        if self.player.current == key and self.player.playing:
            self.player.pause()
        else:
            self.player.play(key)

    def choose_row(self, index: int) -> None:
        """Hear row ``index``'s reconstruction (same half as now) at the same position."""
        rows = self.compare_area.rows
        if not 0 <= index < len(rows):
            return
        current = self.player.current
        half = current.split(":", 1)[1] if current else RECONSTRUCTION
        self.player.select(source_key(rows[index].experiment_id, half))

    # -- transport -----------------------------------------------------------------------------

    def play_half(self, half: str) -> None:
        """Play the input or the reconstruction (pause it when it is what plays)."""
        if self.showing_render:
            self._play_row(RENDER, half)
        elif self.loaded is not None:
            self._play_row(self.loaded.experiment_id, half)

    def toggle_play(self) -> None:
        """Space: play or pause whatever is chosen."""
        if self.loaded is not None or self.showing_render:
            self.player.toggle()

    def toggle_ab(self) -> None:
        """Switch between the input and the reconstruction at the same position."""
        current = self.player.current
        if current is None:
            return
        run, half = current.split(":", 1)
        self.player.select(f"{run}:{RECONSTRUCTION if half == INPUT else INPUT}")

    def move_step(self, delta: int) -> None:
        """Left/Right: the previous or next validation."""
        if self.timeline is None or not self.timeline.clips:
            return
        self.slider.setValue(min(max(self.slider.value() + delta, 0), self.slider.maximum()))

    def _seek(self, frame: int) -> None:
        self.setFocus()
        self.player.seek(frame)

    def _on_slider(self, _value: int) -> None:
        self._update_step_label()
        self._load_pair()

    def _on_pair(self, _index: int) -> None:
        self._load_pair()

    # -- showing the player's state ------------------------------------------------------------

    def _update_step_label(self) -> None:
        clip = self.current_clip()
        timeline = self.timeline
        if clip is None or timeline is None:
            self.step_label.setText("")
            return
        index = self.slider.value()
        phase = ""
        if timeline.phase_2_step is not None and clip.step is not None:
            phase = " · phase 2" if clip.step >= timeline.phase_2_step else " · phase 1"
        self.step_label.setText(
            f"<b>step {clip.step:,}</b> · clip {index + 1} of {len(timeline.clips)}{phase}"
        )
        self.step_label.setToolTip(
            f"{clip.path}\nversion_{clip.version}, validation {clip.validation}"
        )

    def _on_player_state(self) -> None:
        self._update_controls()

    def _update_controls(self) -> None:
        if self.showing_render:
            self._update_render_controls()
        current = self.player.current
        playing = self.player.playing
        loaded = self.loaded
        has_pair = loaded is not None
        for button, half, label in (
            (self.play_input_button, INPUT, "Play input"),
            (self.play_reconstruction_button, RECONSTRUCTION, "Play reconstruction"),
        ):
            key = source_key(loaded.experiment_id, half) if loaded else None
            button.setEnabled(has_pair)
            button.setText("Pause" if playing and current == key else label)
        self.ab_button.setEnabled(has_pair)
        half = current.split(":", 1)[1] if current else INPUT
        self.ab_button.blockSignals(True)
        self.ab_button.setChecked(half == RECONSTRUCTION)
        self.ab_button.blockSignals(False)
        self.ab_button.setText(f"A/B: {'reconstruction' if half == RECONSTRUCTION else 'input'}")
        timeline = self.timeline
        clips = len(timeline.clips) if timeline is not None else 0
        self.slider.setEnabled(clips > 1)
        self.previous_button.setEnabled(clips > 1 and self.slider.value() > 0)
        self.next_button.setEnabled(clips > 1 and self.slider.value() < clips - 1)
        self.pair_combo.setEnabled(has_pair and self._clip_pairs > 1)
        if loaded is not None:
            self.input_view.set_active(current == source_key(loaded.experiment_id, INPUT), playing)
            self.reconstruction_view.set_active(
                current == source_key(loaded.experiment_id, RECONSTRUCTION), playing
            )
        for row in self.compare_area.rows:
            row.view.set_active(
                current is not None and current.startswith(f"{row.experiment_id}:"), playing
            )
            for button, half_name, label in (
                (row.play_input, INPUT, "Play input"),
                (row.play_reconstruction, RECONSTRUCTION, "Play reconstruction"),
            ):
                key = source_key(row.experiment_id, half_name)
                button.setText("Pause" if playing and current == key else label)

    def _update_render_controls(self) -> None:
        current, playing = self.player.current, self.player.playing
        view = self.render_view
        for button, half, label in (
            (view.play_original, INPUT, "Play original"),
            (view.play_render, RECONSTRUCTION, "Play render"),
        ):
            button.setText("Pause" if playing and current == source_key(RENDER, half) else label)
        on_render = current == source_key(RENDER, RECONSTRUCTION)
        view.ab_button.setText(f"A/B: {'render' if on_render else 'original'}")
        view.original_view.set_active(current == source_key(RENDER, INPUT), playing)
        view.render_view.set_active(on_render, playing)

    def _on_position(self, position: int) -> None:
        duration = self.player.duration
        rate = self.player.sample_rate
        self.time_label.setText(f"{clock(position, rate)} / {clock(duration, rate)}")

        def at(frames: int) -> float | None:
            # Every source shares the position in frames; each view is as long as its own
            # signal (runs' clips and a render may differ in length).
            return min(position / frames, 1.0) if frames else None

        loaded = self.loaded
        fraction = at(len(loaded.input)) if loaded is not None else None
        for view in (self.input_view, self.reconstruction_view):
            view.set_playhead(fraction)
        for row in self.compare_area.rows:
            shown = row.loaded
            row.view.set_playhead(at(len(shown.reconstruction)) if shown is not None else None)
        pair = self.render_view.pair
        if self.showing_render and pair is not None:
            self.render_view.original_view.set_playhead(at(len(pair.original)))
            self.render_view.render_view.set_playhead(at(len(pair.render)))

    def _on_output_failed(self, reason: str) -> None:
        self.output_label.setText(f"no sound output: {reason}")
        self.output_label.setToolTip(
            "Set RAVELAB_AUDIO_BACKEND (auto, pulseaudio, alsa, jack, ...) and restart to try "
            "another sound system. Everything else here still works."
        )
        self.output_label.show()

    # -- lifetime ------------------------------------------------------------------------------

    # -- rendering -----------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_wav(event) is not None and self.render_bar.isVisible():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_wav(event)
        if path is not None and self.render_bar.isVisible():
            self.render_bar.set_source(path)
            event.acceptProposedAction()

    @staticmethod
    def _dropped_wav(event: QDragEnterEvent | QDropEvent) -> Path | None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and url.toLocalFile().lower().endswith((".wav", ".wave")):
                return Path(url.toLocalFile())
        return None

    def _on_rendered(self, outcome: RenderOutcome) -> None:
        if self._record is None:
            return
        pair = outcome.pair
        self.player.pause()
        self.player.set_sources(
            {
                source_key(RENDER, INPUT): pair.original,
                source_key(RENDER, RECONSTRUCTION): pair.render,
            },
            pair.sample_rate,
            current=source_key(RENDER, INPUT),
        )
        self.render_view.show_outcome(outcome)
        self._stack.setCurrentWidget(self.render_view)
        self._update_controls()
        self.render_shown.emit()

    def show_clips(self) -> None:
        """Leave the render: the clips (or why there are none) again."""
        if not self.showing_render:
            return
        self.player.pause()
        self.player.clear()
        self._stack.setCurrentWidget(self._content)
        if self.timeline is None or not self.timeline.clips:
            if self._record is not None and self.timeline is not None:
                self._show_empty(self._no_clips_text(self._record, self.timeline))
            else:
                self._show_empty("Select a run to hear its validation clips.")
        elif self.loaded is not None:
            self._on_pair_loaded(self.loaded)
        self._update_controls()

    def cleanup(self) -> None:
        """Stop playing and loading (the panel is going away)."""
        self.render_bar.cleanup()
        self._runner.shutdown()
        self.player.close()


__all__ = ["ListenPanel", "source_key"]
