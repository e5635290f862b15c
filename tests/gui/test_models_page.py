"""The Models page lists exported models and reads them again when an export ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.models_page import HEADERS, ModelsPage
from ravelab.gui.training_page import TrainingPage
from tests.gui.conftest import save_screenshot, training_config

pytestmark = pytest.mark.gui


def test_an_export_from_the_training_page_is_listed(
    qtbot: QtBot, manager: TrainingManager, dataset_id: int
) -> None:
    experiment_id = manager.start_training(
        training_config(dataset_id, "to-export", max_steps=300, val_every=40, save_every=100)
    )
    manager.wait(experiment_id, timeout=60)
    signals = AppSignals()
    models = ModelsPage(manager.db, signals)
    qtbot.addWidget(models)
    page = TrainingPage(manager, signals)
    qtbot.addWidget(page)
    try:
        models.resize(1100, 320)
        models.show()
        qtbot.waitUntil(lambda: models.empty_label.isVisible(), timeout=10_000)
        assert not models.tree.isVisible()
        assert models.rows == [] and not models.open_button.isEnabled()

        page.select_experiment(experiment_id)
        dialog = page.make_export_dialog()
        assert dialog is not None
        qtbot.addWidget(dialog)
        with qtbot.waitSignal(models.models_loaded, timeout=60_000):
            dialog.start_export()
        assert len(models.rows) == 1
        row = models.rows[0]
        assert row.run_name == "to-export" and row.model.streaming
        item = models.tree.topLevelItem(0)
        texts = {HEADERS[c]: item.text(c) for c in range(len(HEADERS))}
        assert texts["Run"] == "to-export" and texts["Streaming"] == "yes"
        assert texts["Fidelity"] == "0.95"
        assert texts["File"] == row.model.path and Path(row.model.path).exists()
        assert models.count_label.text() == "1 model"
        item.setSelected(True)
        assert models.open_button.isEnabled()
        assert models.selected_path() == row.model.path
        qtbot.wait(50)
        save_screenshot(models, "models_page.png")
    finally:
        page.cleanup()
        models.cleanup()
