"""The Listen panel over a real SQLite file: the genuine capture imported, synthetic runs
of eight pairs, miniaudio's silent device. The slider lists the right steps, a step or
pair change loads the right samples, A/B keeps the position, keys work, a comparison
picks the nearest steps, live runs grow, empty states say why."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from pytestqt.qtbot import QtBot

from ravelab.core.jobs.importer import import_run
from ravelab.core.listening.clips import list_clips, read_pair
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database, ExperimentRecord
from ravelab.db import experiments as rows
from ravelab.gui.audio_player import BACKEND_ENV
from ravelab.gui.listen_panel import ListenPanel, source_key
from ravelab.gui.training_page import TrainingPage
from tests.core.listening.synthetic_runs import add_clips, make_listen_run, tune
from tests.core.listening.test_clips import STEPS
from tests.core.tensorboard.test_run_events import _make_run_layout
from tests.gui.conftest import save_screenshot, training_config

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def silent_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "null")


@pytest.fixture
def make_panel(qtbot: QtBot, manager: TrainingManager) -> Iterator[Callable[[], ListenPanel]]:
    panels: list[ListenPanel] = []

    def make() -> ListenPanel:
        panel = ListenPanel(manager)
        qtbot.addWidget(panel)
        panel.resize(1280, 480)
        panel.show()
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        panel.cleanup()


def _record(db: Database, experiment_id: int) -> ExperimentRecord:
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    return record


def _imported(db: Database, tmp_path: Path) -> ExperimentRecord:
    return _record(db, import_run(db, _make_run_layout(tmp_path / "outside")))


def _open(qtbot: QtBot, panel: ListenPanel, record: ExperimentRecord, **more: object) -> None:
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.show_runs(record, **more)  # type: ignore[arg-type]


def test_the_capture_s_clips_on_the_slider_and_their_samples(
    qtbot: QtBot, db: Database, tmp_path: Path, make_panel: Callable[[], ListenPanel]
) -> None:
    panel = make_panel()
    record = _imported(db, tmp_path)
    _open(qtbot, panel, record)
    assert panel.slider.steps == STEPS
    assert panel.slider.checkpoint_steps and panel.slider.phase_2_step is not None
    # The newest clip first, its only pair (--n_signal 65536, one validation example).
    assert panel.loaded is not None and panel.loaded.clip.step == 318
    assert panel.pair_combo.count() == 1 and not panel.pair_combo.isEnabled()
    # Imported without --n-signal: the split was worked out, and the panel says so.
    assert "pairs of 65,536 samples, worked out" in panel.note_label.text()
    clips = {c.step: c for c in list_clips(db, record).clips}
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.slider.setValue(2)
    heard, made = read_pair(clips[119], 0)
    assert panel.loaded.clip.step == 119
    assert np.array_equal(panel.loaded.input, heard)
    assert np.array_equal(panel.loaded.reconstruction, made)
    assert panel.player.duration == 65_536 and panel.player.sample_rate == 44_100
    assert "step 119" in panel.step_label.text() and "clip 3 of 8" in panel.step_label.text()


def test_a_pair_change_loads_that_pair(
    qtbot: QtBot, db: Database, tmp_path: Path, make_panel: Callable[[], ListenPanel]
) -> None:
    panel = make_panel()
    run = _record(db, make_listen_run(db, tmp_path, clips=4, segment=16_384))
    _open(qtbot, panel, run)
    assert panel.pair_combo.count() == 8 and panel.slider.steps == [999, 1999, 2999, 3999]
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.pair_combo.setCurrentIndex(5)
    assert panel.loaded is not None and panel.loaded.pair == 5
    assert np.allclose(panel.loaded.input[:, 0], tune(5, 16_384), atol=1 / 32_768)
    expected = read_pair(panel.loaded.clip, 5)
    assert np.array_equal(panel.loaded.reconstruction, expected[1])
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.slider.setValue(0)
    assert panel.loaded.pair == 5 and panel.loaded.clip.step == 999  # the pair is kept


def test_a_b_keeps_the_position_and_keys_work(
    qtbot: QtBot, db: Database, tmp_path: Path, make_panel: Callable[[], ListenPanel]
) -> None:
    panel = make_panel()
    run = _record(db, make_listen_run(db, tmp_path, clips=3))
    _open(qtbot, panel, run)
    panel.activateWindow()
    panel.setFocus()
    qtbot.waitUntil(panel.hasFocus, timeout=10_000)
    player = panel.player
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert player.playing and player.current == source_key(run.id, "input")
    assert panel.play_input_button.text() == "Pause"
    qtbot.waitUntil(lambda: player.position > 4410, timeout=10_000)
    before = player.position
    qtbot.keyClick(panel, Qt.Key.Key_B)
    assert player.current == source_key(run.id, "reconstruction")
    assert player.position >= before and player.playing
    assert panel.ab_button.isChecked() and panel.reconstruction_view.waveform.active
    qtbot.keyClick(panel, Qt.Key.Key_Space)
    assert not player.playing
    paused = player.position
    panel.ab_button.click()  # the button does what B does
    assert player.current == source_key(run.id, "input") and player.position == paused
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        qtbot.keyClick(panel, Qt.Key.Key_Left)
    assert panel.loaded is not None and panel.loaded.clip.step == 1999
    # Another step, the same half at the same moment.
    assert player.current == source_key(run.id, "input") and player.position == paused
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        qtbot.keyClick(panel, Qt.Key.Key_Right)
    assert panel.loaded.clip.step == 2999
    panel.input_view.waveform.seek_requested.emit(0.5)  # a click in the middle of a view
    assert player.position == player.duration // 2
    panel.play_half("reconstruction")
    assert player.playing and player.current == source_key(run.id, "reconstruction")
    panel.play_half("reconstruction")  # its button again: pause
    assert not player.playing


def test_compare_picks_the_nearest_step_of_each_run(
    qtbot: QtBot, db: Database, tmp_path: Path, make_panel: Callable[[], ListenPanel]
) -> None:
    panel = make_panel()
    first = _record(db, make_listen_run(db, tmp_path, "first", clips=4, segment=16_384))
    # Validations every 1,500 steps: 1499, 2999, 4499 (2999 is shared, 3999 is not).
    second = _record(
        db, make_listen_run(db, tmp_path, "second", clips=3, segment=16_384, val_every=1500)
    )
    empty = _record(db, make_listen_run(db, tmp_path, "empty", clips=0, segment=16_384))
    with qtbot.waitSignal(panel.compare_loaded, timeout=20_000):
        _open(qtbot, panel, first, others=[second, empty])
    assert panel.views.currentWidget() is panel.compare_area
    assert panel.compared_ids == [second.id, empty.id]
    own, other, none = (panel.compare_row(r.id) for r in (first, second, empty))
    assert own is not None and other is not None and none is not None
    assert own.loaded is not None and own.loaded.clip.step == 3999
    assert other.loaded is not None and other.loaded.clip.step == 4499
    assert "nearest: step 4,499" in other.header.text()
    assert none.loaded is None and "no validation clips" in none.header.text()
    assert not none.play_input.isEnabled() and other.play_input.isEnabled()
    with qtbot.waitSignal(panel.compare_loaded, timeout=20_000):
        panel.slider.setValue(2)
    assert other.loaded.clip.step == 2999 and "nearest" not in other.header.text()
    player = panel.player
    other.play_reconstruction.click()
    assert player.playing and player.current == source_key(second.id, "reconstruction")
    qtbot.waitUntil(lambda: player.position > 2000, timeout=10_000)
    player.pause()
    at = player.position
    panel.choose_row(0)  # key 1: the first run's reconstruction, same moment
    assert player.current == source_key(first.id, "reconstruction") and player.position == at
    panel.toggle_ab()
    assert player.current == source_key(first.id, "input") and player.position == at
    # Back to one run: the pair view again.
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.show_runs(first, [])
    assert panel.views.currentWidget() is not panel.compare_area


def test_empty_states(
    qtbot: QtBot, db: Database, tmp_path: Path, make_panel: Callable[[], ListenPanel]
) -> None:
    panel = make_panel()
    assert "Select a run" in panel.empty.text()
    live = _record(db, make_listen_run(db, tmp_path, "fresh", clips=0, live=True))
    with qtbot.waitSignal(panel.timeline_loaded, timeout=20_000):
        panel.show_runs(live)
    assert "No validation clip yet" in panel.empty.text() and "every 1,000 steps" in (
        panel.empty.text()
    )
    imported_id = rows.insert_experiment(
        db, name="old", project_id=1, dataset_id=None, config={"imported_from": "/runs/old"}
    )
    with qtbot.waitSignal(panel.timeline_loaded, timeout=20_000):
        panel.show_runs(_record(db, imported_id))
    assert "imported run has no validation clips" in panel.empty.text()
    assert not panel.play_input_button.isEnabled()
    panel.show_runs(None)
    assert "Select a run" in panel.empty.text()


def test_a_live_run_s_new_clips_appear(
    qtbot: QtBot, db: Database, tmp_path: Path, make_panel: Callable[[], ListenPanel]
) -> None:
    panel = make_panel()
    panel.relist_interval_s = 0.0
    experiment_id = make_listen_run(db, tmp_path, "live", clips=2, segment=8192, live=True)
    record = _record(db, experiment_id)
    _open(qtbot, panel, record)
    assert panel.slider.steps == [999, 1999] and panel.loaded is not None
    assert record.run_dir is not None
    inputs = [tune(k, 8192) for k in range(8)]
    add_clips(db, experiment_id, Path(record.run_dir), inputs, range(2, 4), 4)
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.update_experiment(_record(db, experiment_id))
    # At the newest clip before: it follows to the newest one.
    assert panel.slider.steps == [999, 1999, 2999, 3999]
    assert panel.loaded.clip.step == 3999


def test_a_clip_that_cannot_be_read_says_so(
    qtbot: QtBot, db: Database, tmp_path: Path, make_panel: Callable[[], ListenPanel]
) -> None:
    panel = make_panel()
    run = _record(db, make_listen_run(db, tmp_path, clips=3, segment=8192))
    clips = list_clips(db, run).clips
    Path(clips[0].path).write_bytes(b"RIFF broken")
    _open(qtbot, panel, run)
    assert panel.slider.steps == [1999, 2999]
    assert "1 clip(s) could not be read" in panel.note_label.text()
    os.truncate(clips[1].path, 0)  # damaged after it was listed
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.slider.setValue(0)
    assert panel.loaded is None and Path(clips[1].path).name in panel.note_label.text()
    assert not panel.play_input_button.isEnabled()
    assert panel.player.duration == 0


def test_the_training_page_s_listen_tab(
    qtbot: QtBot, db: Database, tmp_path: Path, manager: TrainingManager, page: TrainingPage
) -> None:
    page.resize(1280, 800)
    captured = _imported(db, tmp_path)
    synthetic = make_listen_run(db, tmp_path / "runs", "drums-v2", clips=24)
    with qtbot.waitSignal(page.experiments_loaded, timeout=20_000):
        page.reload()
    panel = page.listen_panel
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        page.details_tabs.setCurrentWidget(panel)
        page.select_experiment(synthetic)
    assert panel.record is not None and panel.record.id == synthetic
    assert len(panel.slider.steps) == 24 and panel.pair_combo.count() == 8
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.slider.setValue(9)
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.pair_combo.setCurrentIndex(2)
    panel.player.seek(panel.player.duration // 3)
    save_screenshot(page, "listen-panel.png")
    # Two rows selected: the comparison, the current row's run first.
    row = page.model.row_of(captured.id)
    assert row is not None
    index = page.proxy.mapFromSource(page.model.index(row, 0))
    with qtbot.waitSignal(panel.compare_loaded, timeout=20_000):
        page.table.selectionModel().select(
            index,
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    assert panel.compared_ids == [captured.id]
    other = panel.compare_row(captured.id)
    assert other is not None and other.loaded is None  # the capture's clips have one pair
    assert "1 pair(s)" in other.header.text()
    with qtbot.waitSignal(panel.compare_loaded, timeout=20_000):
        panel.pair_combo.setCurrentIndex(0)
    assert other.loaded is not None and other.loaded.clip.step == 318  # nearest to 9,999
    # One position in samples; each row's playhead where that sample is in its own clip.
    panel.player.seek(30_000)
    own = panel.compare_row(synthetic)
    assert own is not None and own.view.waveform.playhead == pytest.approx(30_000 / 131_072)
    assert other.view.waveform.playhead == pytest.approx(30_000 / 65_536)
    other.view.waveform.seek_requested.emit(0.5)  # a click in the capture's row
    assert panel.player.position == 32_768
    save_screenshot(page, "listen-compare.png")


@pytest.mark.slow
def test_clips_appear_while_a_run_trains(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    page: TrainingPage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The double replays the capture over about a minute; the test waits for what the
    # panel shows, then stops the run.
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.2")
    panel = page.listen_panel
    panel.relist_interval_s = 0.0
    page.details_tabs.setCurrentWidget(panel)
    experiment_id = page.start_training(training_config(dataset_id, "heard", max_steps=300))
    assert experiment_id is not None
    qtbot.waitUntil(lambda: len(panel.slider.steps) >= 1, timeout=60_000)
    first = panel.slider.steps
    assert first[0] == 39 and not panel.empty.isVisible()
    qtbot.waitUntil(lambda: len(panel.slider.steps) > len(first), timeout=60_000)
    record = manager.get_record(experiment_id)
    assert record is not None and record.ended_at is None  # all of it while the run trained
    qtbot.waitUntil(
        lambda: panel.loaded is not None and panel.loaded.clip.step == panel.slider.steps[-1],
        timeout=60_000,
    )
    manager.stop_training(experiment_id)
    qtbot.waitUntil(lambda: _row_ended(page, experiment_id), timeout=60_000)


def _row_ended(page: TrainingPage, experiment_id: int) -> bool:
    experiment = page.model.experiment_by_id(experiment_id)
    return experiment is not None and experiment.ended_at is not None


def test_without_sound_output_the_panel_says_why_and_still_works(
    qtbot: QtBot,
    db: Database,
    tmp_path: Path,
    make_panel: Callable[[], ListenPanel],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BACKEND_ENV, "wasapi")  # a Windows sound system: none here
    panel = make_panel()
    run = _record(db, make_listen_run(db, tmp_path, clips=2, segment=65_536))
    _open(qtbot, panel, run)
    with qtbot.waitSignal(panel.player.output_failed, timeout=10_000):
        panel.play_half("reconstruction")
    assert panel.output_label.text().startswith("no sound output: cannot init context")
    assert not panel.output_label.isHidden()
    # The playhead still moves, and the rest still works.
    qtbot.waitUntil(
        lambda: (panel.reconstruction_view.waveform.playhead or 0.0) > 0, timeout=10_000
    )
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.move_step(-1)
    assert panel.loaded is not None and panel.loaded.clip.step == 999
