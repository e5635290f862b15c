"""The Listen panel's render: a WAV dropped on the panel, a checkpoint by step, the render
in a worker through RAVE's environment (the double), then the original and the render
heard A/B at one position; refusals said in words."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.gui.audio_player import BACKEND_ENV
from ravelab.gui.listen_panel import ListenPanel, source_key
from tests.core.listening.synthetic_runs import make_listen_run
from tests.core.rave.conftest import make_run, write_wav
from tests.fake_rave.env_python import write_rave_env
from tests.gui.conftest import save_screenshot

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def silent_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKEND_ENV, "null")


@pytest.fixture(scope="module")
def rave_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rave_env(tmp_path_factory.mktemp("fake-rave-env"))


@pytest.fixture
def panel(
    qtbot: QtBot, make_manager: Callable[..., TrainingManager], rave_env: Path
) -> Iterator[ListenPanel]:
    manager = make_manager(follow_out_of_process=True, rave=str(rave_env))
    made = ListenPanel(manager)
    qtbot.addWidget(made)
    made.resize(1280, 560)
    made.show()
    yield made
    made.cleanup()


def _drop(panel: ListenPanel, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    panel.dropEvent(event)


def test_drop_render_and_hear_both(
    qtbot: QtBot, db: Database, tmp_path: Path, panel: ListenPanel
) -> None:
    run = make_run(db, tmp_path, steps=(40, 80, 120))
    with qtbot.waitSignal(panel.timeline_loaded, timeout=20_000):
        panel.show_runs(run)
    assert "no validation clips" in panel.empty.text()  # rendering needs none
    bar = panel.render_bar
    assert bar.isVisible() and not bar.render_button.isEnabled()
    labels = [bar.checkpoint_combo.itemText(i) for i in range(bar.checkpoint_combo.count())]
    assert labels == ["best", "latest", "step 120", "step 80", "step 40"]
    source = write_wav(tmp_path / "take.wav", 1.0, rate=48000, channels=2)
    _drop(panel, source)
    assert bar.source == source and bar.render_button.isEnabled()
    assert bar.choose_checkpoint("80")
    with qtbot.waitSignal(panel.render_shown, timeout=60_000):
        assert bar.start_render()
        assert bar.render_button.text() == "Stop" and not bar.choose_button.isEnabled()
    assert panel.showing_render and "wrote take-step80.wav" in bar.status.text()
    assert (Path(str(run.run_dir)) / "renders" / "take-step80.wav").is_file()
    player = panel.player
    assert player.sample_rate == 44100 and player.duration == 44100
    assert player.current == source_key("render", "input")
    player.seek(22050)
    panel.toggle_ab()  # B: the render, at the same position
    assert player.current == source_key("render", "reconstruction") and player.position == 22050
    assert panel.render_view.ab_button.text() == "A/B: render"
    panel.render_view.play_original.click()
    assert player.playing and player.current == source_key("render", "input")
    qtbot.waitUntil(lambda: player.position > 22050, timeout=10_000)
    save_screenshot(panel, "listen-render.png")
    panel.render_view.back_button.click()
    assert not panel.showing_render and not player.playing and player.duration == 0
    assert "no validation clips" in panel.empty.text()


def test_a_refused_render_says_why_and_the_clips_stay(
    qtbot: QtBot, db: Database, tmp_path: Path, panel: ListenPanel
) -> None:
    experiment_id = make_listen_run(db, tmp_path, clips=2, segment=8192)
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    with qtbot.waitSignal(panel.pair_loaded, timeout=20_000):
        panel.show_runs(record)
    (tmp_path / "song.wav").write_bytes(b"not audio at all")
    _drop(panel, tmp_path / "song.wav")
    with qtbot.waitSignal(panel.render_bar.failed, timeout=60_000) as failed:
        panel.render_bar.start_render()
    assert "song.wav" in failed.args[0] and failed.args[0] in panel.render_bar.status.text()
    assert not panel.showing_render and panel.loaded is not None
    # A real file, but this synthetic run has no checkpoint yet: said before RAVE starts.
    source = write_wav(tmp_path / "ok.wav", 0.2)
    _drop(panel, source)
    with qtbot.waitSignal(panel.render_bar.failed, timeout=60_000) as failed:
        panel.render_bar.start_render()
    assert "no best checkpoint" in failed.args[0] and "train it further" in failed.args[0]
