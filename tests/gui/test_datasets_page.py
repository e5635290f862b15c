"""The Datasets page lists datasets with their facts and registers new ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from ravelab.core.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.datasets_page import DatasetsPage
from tests.gui.conftest import training_config

pytestmark = pytest.mark.gui


@pytest.fixture
def page(qtbot: QtBot, db: Database) -> DatasetsPage:
    signals = AppSignals()
    page = DatasetsPage(db, signals)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.loaded, timeout=5000)
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
    with qtbot.waitSignal(page.datasets_loaded, timeout=5000):
        page.app_signals.experiments_changed.emit()
    item = page.tree.topLevelItem(0)
    assert [item.text(c) for c in range(6)] == ["synth", "1", "44.1 kHz", "0:56", "1", "ready"]
    assert page.count_label.text() == "1 dataset"


def test_add_dataset_registers_the_folder_or_says_why_not(
    qtbot: QtBot,
    page: DatasetsPage,
    dataset_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(dataset_dir))
    with qtbot.waitSignal(page.datasets_loaded, timeout=5000):
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
