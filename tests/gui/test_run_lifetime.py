"""A run's lifetime in the app: rename, tags, notes, archive, extend a completed run from
its named checkpoint, delete with its folder, and the table's status and duration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialog, QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import RunStatus
from ravelab.gui.experiments_model import Column, ExperimentsModel
from ravelab.gui.run_dialogs import DeleteRunDialog, NotesDialog
from ravelab.gui.training_page import TrainingPage
from tests.gui.conftest import save_screenshot, training_config
from tests.gui.records import make_record

pytestmark = pytest.mark.gui


def _completed(manager: TrainingManager, dataset_id: int, name: str) -> int:
    experiment_id = manager.start_training(training_config(dataset_id, name, max_steps=30))
    assert manager.wait(experiment_id, timeout=60)["status"] == "completed"
    return experiment_id


def _visible_names(page: TrainingPage) -> list[str]:
    return [str(page.proxy.index(row, Column.NAME).data()) for row in range(page.proxy.rowCount())]


def _answer_text(monkeypatch: pytest.MonkeyPatch, answer: str) -> list[str]:
    asked: list[str] = []

    def get_text(_parent: Any, _title: str, label: str, *_args: Any) -> tuple[str, bool]:
        asked.append(label)
        return answer, True

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    return asked


def test_rename_tags_notes_and_archive(
    qtbot: QtBot,
    page: TrainingPage,
    manager: TrainingManager,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = _completed(manager, dataset_id, "first")
    page.reload(wait=True)
    assert page.select_experiment(run)
    menu_texts = [action.text() for action in page.context_menu().actions()]
    assert {"Rename...", "Notes...", "Tags...", "Archive", "Delete..."} <= set(menu_texts)

    _answer_text(monkeypatch, "drums-v2")
    assert page.rename_selected()
    assert manager.get_record(run).name == "drums-v2"  # type: ignore[union-attr]
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a: warnings.append(text))
    _answer_text(monkeypatch, "bad name/")
    assert not page.rename_selected() and "not allowed" in warnings[-1]

    _answer_text(monkeypatch, "baseline, keep")
    assert page.edit_tags_selected()
    assert _visible_names(page) == ["drums-v2  [baseline, keep]"]
    _answer_text(monkeypatch, "keep")
    assert page.edit_tags_selected()
    assert manager.get_record(run).tags == ("keep",)  # type: ignore[union-attr]

    dialog = page.make_notes_dialog()
    assert isinstance(dialog, NotesDialog)
    dialog.editor.setPlainText("too much reverb\nnext: causal")
    monkeypatch.setattr(dialog, "exec", lambda: QDialog.DialogCode.Accepted)
    assert page.edit_notes_selected(dialog)
    assert page.details.notes.text() == "too much reverb\nnext: causal"
    assert page.details.tags_label.text() == "#keep"

    page.filter_edit.setText("reverb")
    assert _visible_names(page) == ["drums-v2  [keep]"]
    page.filter_edit.setText("tag:kee")
    assert _visible_names(page) == []
    page.filter_edit.setText("tag:keep")
    assert _visible_names(page) == ["drums-v2  [keep]"]
    page.filter_edit.clear()

    assert page.select_experiment(run)  # the filter that hid it cleared the selection
    assert page.archive_selected()
    assert _visible_names(page) == []
    assert manager.get_record(run).archived  # type: ignore[union-attr]
    page.status_combo.setCurrentIndex(page.status_combo.findData("archived"))
    assert _visible_names(page) == ["drums-v2  [keep]  (archived)"]
    assert page.select_experiment(run)
    assert page.archive_action.text() == "Unarchive"
    assert page.archive_selected()
    assert not manager.get_record(run).archived  # type: ignore[union-attr]


def test_a_completed_run_is_extended_from_its_named_checkpoint(
    qtbot: QtBot,
    page: TrainingPage,
    manager: TrainingManager,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = _completed(manager, dataset_id, "done")
    page.reload(wait=True)
    assert page.select_experiment(run)
    assert page.resume_button.isEnabled() and page.resume_button.text() == "Extend..."
    qtbot.waitUntil(lambda: not manager.processes_live(run), timeout=60_000)
    asked: list[tuple[Any, ...]] = []

    def get_int(*args: Any, **kwargs: Any) -> tuple[int, bool]:
        asked.append(args)
        return 45, True

    monkeypatch.setattr(QInputDialog, "getInt", get_int)
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=90_000) as ended:
        assert page.resume_selected()
    assert ended.args == [run, "completed"]
    label = asked[0][2]
    assert "Extend “done” from its newest checkpoint" in label and ".ckpt (version_0) at" in label
    assert asked[0][3] == 45  # 30 steps done: half as many again is offered
    record = manager.get_record(run)
    assert record is not None and record.attempts == 2
    assert record.progress.resumes == 1


def test_delete_with_its_folder_and_a_live_run_refused(
    qtbot: QtBot,
    page: TrainingPage,
    manager: TrainingManager,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = _completed(manager, dataset_id, "doomed")
    folder = Path(manager.get_record(run).run_dir)  # type: ignore[arg-type, union-attr]
    page.reload(wait=True)
    assert page.select_experiment(run) and page.delete_action.isEnabled()
    qtbot.waitUntil(lambda: not manager.processes_live(run), timeout=60_000)
    dialog = page.make_delete_dialog()
    assert isinstance(dialog, DeleteRunDialog)
    assert dialog.files_box.isEnabled() and str(folder) in dialog.folder_label.text()
    save_screenshot(dialog, "delete-run.png")
    dialog.files_box.setChecked(True)
    monkeypatch.setattr(dialog, "exec", lambda: QDialog.DialogCode.Accepted)
    with qtbot.waitSignal(page.experiments_loaded, timeout=30_000):
        assert page.delete_selected(dialog)
    assert manager.get_record(run) is None and not folder.exists()
    assert page.model.rowCount() == 0

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    live = manager.start_training(training_config(dataset_id, "live", max_steps=300))
    page.reload(wait=True)
    assert page.select_experiment(live)
    assert not page.delete_action.isEnabled()
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a: warnings.append(text))
    assert not page.delete_selected() and "stop it first" in warnings[0]
    assert manager.get_record(live) is not None


def test_a_pending_stop_at_checkpoint_and_the_trained_time_show_in_the_row() -> None:
    model = ExperimentsModel()
    running = make_record(
        1,
        "waits",
        progress={"step": 5, "stopping_at_checkpoint": True},
        attempts=2,
        attempts_seconds=3600.0,
        attempt_started_at="2999-01-01T00:00:00+00:00",  # the open attempt: not begun yet
    )
    model.set_experiments([running])
    assert model.index(0, Column.STATUS).data() == "running · stopping at checkpoint"
    assert model.index(0, Column.DURATION).data() == "1:00:00"
    assert "2 attempts" in model.index(0, Column.DURATION).data(3)  # the tooltip
    ended = make_record(
        2,
        "ended",
        status=RunStatus.STOPPED,
        ended_at="2026-01-05T00:00:00+00:00",
        attempts=2,
        attempts_seconds=5400.0,
    )
    model.set_experiments([ended])
    # Started 2026-01-01, ended 2026-01-05: it trained an hour and a half of that.
    assert model.index(0, Column.DURATION).data() == "1:30:00"
