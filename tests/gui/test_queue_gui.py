"""The queue in the app: the wizard's "Add to queue" (with what it would do on the
device), queued rows with their place in the Training list, and the context menu that
moves and removes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QWizard
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.gui.experiments_model import Column
from ravelab.gui.training_page import TrainingPage
from tests.gui.conftest import save_screenshot, training_config
from tests.helpers import wait_until

pytestmark = pytest.mark.gui


def _status(page: TrainingPage, experiment_id: int) -> str:
    row = page.model.row_of(experiment_id)
    assert row is not None
    return str(page.model.index(row, Column.STATUS).data())


def _menu_action(page: TrainingPage, text: str) -> object:
    menu = page.context_menu()
    return next(action for action in menu.actions() if action.text() == text)


def test_add_to_queue_and_the_queued_rows_in_the_training_list(
    qtbot: QtBot,
    page: TrainingPage,
    manager: TrainingManager,
    db: Database,
    dataset_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page.resize(1400, 700)
    hold = tmp_path / "hold"
    monkeypatch.setenv("FAKE_RAVE_HOLD_AT", "5")
    monkeypatch.setenv("FAKE_RAVE_HOLD_FILE", str(hold))
    busy = manager.start_training(training_config(dataset_id, "busy"))
    wait_until(lambda: Path(f"{hold}.reached").exists(), timeout=60, what="the hold")
    first = manager.queue_training(training_config(dataset_id, "next-a"))
    second = manager.queue_training(training_config(dataset_id, "next-b"))
    page.reload(wait=True)
    assert _status(page, first) == "queued (1st on cpu)"
    assert _status(page, second) == "queued (2nd on cpu)"

    wizard = page.make_wizard()
    qtbot.addWidget(wizard)
    wizard.show()
    queue_button = wizard.button(QWizard.WizardButton.CustomButton1)
    assert queue_button.text() == "Add to queue" and not queue_button.isVisible()
    wizard.next()
    wizard.config_page.set_selection("v2_small")
    wizard.next()
    params = wizard.params_page
    params.name_edit.setText("next-c")
    params.max_steps.setValue(20)
    params.gpu.setCurrentIndex(params.gpu.findData(-1))
    wizard.next()
    assert wizard.currentPage() is wizard.confirm_page
    assert queue_button.isVisible() and queue_button.isEnabled()
    assert wizard.confirm_page.queue_note.text() == (
        f"Add to queue: run {busy} 'busy' uses cpu, 2 queued before it: added to the queue, "
        "this run would be 3rd on cpu."
    )
    wizard.resize(820, 660)
    save_screenshot(wizard, "wizard_queue.png")
    assert wizard.add_to_queue() and wizard.queue_requested
    third = page.start_from_wizard(wizard)
    assert third is not None and page.selected_id == third
    assert rows.get_experiment(db, third).status == "queued"
    qtbot.waitUntil(lambda: _status(page, third) == "queued (3rd on cpu)", timeout=30_000)

    # The context menu: to the top, then the second one removed.
    assert page.stop_button.isEnabled()  # a queued run can be stopped (it ends, kept)
    _menu_action(page, "Start next (top of the queue)").trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: _status(page, third) == "queued (1st on cpu)", timeout=30_000)
    assert _status(page, first) == "queued (2nd on cpu)"
    assert _status(page, second) == "queued (3rd on cpu)"
    page.select_experiment(second)
    assert not _menu_action(page, "Move down in the queue").isEnabled()  # type: ignore[attr-defined]
    save_screenshot(page, "training_queue.png")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    _menu_action(page, "Remove from the queue...").trigger()  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: page.model.row_of(second) is None, timeout=30_000)
    assert rows.get_experiment(db, second) is None
    page.select_experiment(busy)
    assert "Remove from the queue..." not in [a.text() for a in page.context_menu().actions()]
    page.select_experiment(third)
    assert page.remove_selected_from_queue(confirm=False)
    # Stopped while queued: it ends, kept, and the question says what that means.
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda _parent, _title, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.Yes,
    )
    page.select_experiment(first)
    assert page.stop_selected()
    assert "waits in the queue and never started" in asked[0] and "RAVE" not in asked[0]
    record = rows.get_experiment(db, first)
    assert (record.status, record.reason) == ("stopped", "stopped while queued: it never started")
    assert record.ended_at is not None
