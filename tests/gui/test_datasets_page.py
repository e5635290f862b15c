"""The Datasets page lists datasets with their facts and registers new ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.datasets_page import DatasetsPage
from tests.core.jobs.test_preprocess import fake_ffmpeg
from tests.gui.conftest import save_screenshot, training_config

__all__ = ["fake_ffmpeg"]

pytestmark = pytest.mark.gui


@pytest.fixture
def page(qtbot: QtBot, db: Database) -> DatasetsPage:
    signals = AppSignals()
    page = DatasetsPage(db, signals)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.loaded, timeout=30_000)
    yield page
    page.cleanup()


def test_an_empty_list_says_what_to_do(qtbot: QtBot, page: DatasetsPage) -> None:
    assert page.showing_empty_state
    assert "rave preprocess" in page.empty.text()
    assert not page.open_button.isEnabled()


def test_datasets_are_listed_with_their_facts_and_runs(
    qtbot: QtBot,
    db: Database,
    manager: TrainingManager,
    dataset_id: int,
    page: DatasetsPage,
) -> None:
    manager.wait(manager.start_training(training_config(dataset_id, "uses-it")), timeout=60)
    with qtbot.waitSignal(page.datasets_loaded, timeout=30_000):
        page.app_signals.experiments_changed.emit()
    item = page.tree.topLevelItem(0)
    assert [item.text(c) for c in range(5)] == ["synth", "1", "44.1 kHz", "0:56", "20"]
    assert item.text(5).endswith(" KB") and item.toolTip(4) == "20 chunks in data.mdb"
    assert [item.text(c) for c in (6, 7)] == ["1", "ready"]
    assert page.count_label.text() == "1 dataset"
    save_screenshot(page, "datasets_page.png")


def test_add_dataset_registers_the_folder_or_says_why_not(
    qtbot: QtBot,
    page: DatasetsPage,
    dataset_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(dataset_dir))
    with qtbot.waitSignal(page.datasets_loaded, timeout=30_000):
        record = page.add_dataset()
    assert record is not None and page.dataset_names() == ["synth"]

    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a: warnings.append(text))
    assert page.add_dataset() is None  # the same folder again
    assert "is registered already as dataset" in warnings[-1]
    empty = tmp_path / "empty-dataset"
    empty.mkdir()
    (empty / "metadata.yaml").write_text("channels: 1\nsr: 44100\nn_seconds: 0\n")
    (empty / "data.mdb").write_bytes(b"")
    assert page.add_dataset(str(empty)) is None
    assert "is empty" in warnings[-1]
    assert page.dataset_names() == ["synth"]


def test_remove_is_refused_while_runs_use_it_and_never_deletes_files(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    dataset_dir: Path,
    page: DatasetsPage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.core.datasets import register_dataset

    spare = dataset_dir.parent / "spare"
    spare.mkdir()
    for name in ("metadata.yaml", "data.mdb"):
        (spare / name).write_bytes((dataset_dir / name).read_bytes())
    register_dataset(manager.db, spare, "spare")
    manager.wait(manager.start_training(training_config(dataset_id, "uses-it")), timeout=60)
    with qtbot.waitSignal(page.datasets_loaded, timeout=30_000):
        page.reload()
    assert page.dataset_names() == ["spare", "synth"]

    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a: warnings.append(text))
    questions: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda _p, _t, text, *a: questions.append(text) or QMessageBox.StandardButton.Yes,
    )
    page.tree.setCurrentItem(page.tree.topLevelItem(1))  # synth: used by a run
    assert page.remove_button.isEnabled()
    assert not page.remove_selected()
    assert "is used by 1 run" in warnings[0] and not questions

    page.tree.setCurrentItem(page.tree.topLevelItem(0))  # spare: unused
    with qtbot.waitSignal(page.datasets_loaded, timeout=30_000):
        assert page.remove_selected()
    assert "are not deleted" in questions[0]
    assert page.dataset_names() == ["synth"]
    assert (spare / "data.mdb").exists() and (spare / "metadata.yaml").exists()


@pytest.mark.usefixtures("fake_ffmpeg")
def test_new_dataset_from_audio_checks_then_preprocesses(
    qtbot: QtBot,
    manager: TrainingManager,
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.core.jobs.test_preprocess import write_wav

    audio = tmp_path / "audio"
    for index in range(20):
        write_wav(audio / f"clip_{index:02d}.wav", 5.0)
    (tmp_path / "short").mkdir()
    write_wav(tmp_path / "short" / "tiny.wav", 0.5)
    signals = AppSignals()
    page = DatasetsPage(db, signals, manager=manager)
    qtbot.addWidget(page)
    try:
        page.show()
        assert page.new_button.isVisible()
        dialog = page.make_new_dataset_dialog()
        assert dialog is not None
        qtbot.addWidget(dialog)
        dialog.show()
        assert not dialog.check_button.isEnabled() and not dialog.create_button.isEnabled()

        # Blocking problems are shown and keep Create disabled.
        monkeypatch.setattr(
            QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "short")
        )
        dialog.browse()
        assert dialog.name_edit.text() == "short"
        with qtbot.waitSignal(dialog.checked, timeout=30_000) as checked:
            dialog.check()
        assert checked.args[0].problems
        assert "✗" in dialog.report_label.text() and not dialog.create_button.isEnabled()

        dialog.folder_edit.setText(str(audio))
        dialog.name_edit.setText("clips")
        dialog.num_signal.setValue(65536)
        assert not dialog.create_button.isEnabled()  # not checked with these settings
        with qtbot.waitSignal(dialog.checked, timeout=30_000) as checked:
            dialog.check()
        assert not checked.args[0].problems and checked.args[0].kept_chunks == 20
        assert dialog.create_button.isEnabled()
        save_screenshot(dialog, "new_dataset_dialog.png")

        monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
        with qtbot.waitSignal(dialog.dataset_created, timeout=60_000) as created:
            assert dialog.start_preprocess() is not None
            assert not dialog.create_button.isEnabled()
        qtbot.waitUntil(lambda: "clips" in page.dataset_names(), timeout=10_000)
        assert "is ready" in dialog.report_label.text()
        assert created.args == [dialog.dataset_id]
        dialog.close()
    finally:
        page.cleanup()
