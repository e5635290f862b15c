"""The Checkpoints dialog: a run's retention chosen in the app, the prune previewed before
anything is removed, and the same result as `ravelab checkpoints --keep N --prune`."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ravelab.core.operations import checkpoint_retention as retention
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.gui.checkpoints_dialog import KEEP_ALL, CheckpointsDialog
from ravelab.gui.training_page import TrainingPage
from tests.gui.conftest import save_screenshot, training_config

pytestmark = pytest.mark.gui


def test_keep_two_and_prune_from_the_dialog(
    qtbot: QtBot,
    page: TrainingPage,
    manager: TrainingManager,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = manager.start_training(
        training_config(dataset_id, "long", max_steps=40, save_every=5, val_every=10)
    )
    assert manager.wait(run, timeout=60)["status"] == "completed"
    page.reload(wait=True)
    assert page.select_experiment(run)
    assert page.checkpoints_action.isEnabled()
    assert "Checkpoints..." in [action.text() for action in page.context_menu().actions()]
    dialog = page.make_checkpoints_dialog()
    assert isinstance(dialog, CheckpointsDialog)
    qtbot.addWidget(dialog)
    assert dialog.keep_box.value() == KEEP_ALL and not dialog.prune_button.isEnabled()
    dialog.keep_box.setValue(2)
    preview = dialog.preview.toPlainText()
    assert "A prune now frees" in preview and "would remove epoch_5.ckpt" in preview
    assert dialog.prune_button.isEnabled()
    dialog.show()
    qtbot.waitExposed(dialog)
    save_screenshot(dialog, "checkpoints_dialog.png")
    folder = Path(str(manager.get_experiment(run)["run_dir"]))
    assert len([p for p in folder.rglob("epoch_*.ckpt")]) == 8
    monkeypatch.setattr(dialog, "exec", lambda: (dialog._prune_now(), dialog.result())[1])
    assert page.edit_checkpoints_selected(dialog)
    assert retention.effective_keep(manager.db, run) == 2
    assert sorted(p.name for p in folder.rglob("epoch_*.ckpt")) == [
        "epoch_35.ckpt",
        "epoch_40.ckpt",
    ]
    # A run that follows the default keeps following it when "Keep" changes nothing.
    other = manager.start_training(training_config(dataset_id, "short", max_steps=10))
    assert manager.wait(other, timeout=60)["status"] == "completed"
    manager.db.set_setting("keep_periodic_checkpoints", "5")
    page.reload(wait=True)
    assert page.select_experiment(other)
    unchanged = page.make_checkpoints_dialog()
    assert unchanged is not None and unchanged.keep == 5
    qtbot.addWidget(unchanged)
    monkeypatch.setattr(unchanged, "exec", lambda: 1)
    assert page.edit_checkpoints_selected(unchanged)
    manager.db.set_setting("keep_periodic_checkpoints", "7")
    assert retention.effective_keep(manager.db, other) == 7
