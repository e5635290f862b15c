"""The main window: pages, projects, the rave status, geometry, and closing with runs."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from ravelab.core.rave.locator import RAVE_SETTING
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.gui.main_window import MainWindow
from tests.gui.conftest import training_config

pytestmark = pytest.mark.gui


@pytest.fixture
def make_window(qtbot: QtBot, settings: QSettings) -> Iterator[Callable[..., MainWindow]]:
    windows: list[MainWindow] = []

    def make(manager: TrainingManager, **options: Any) -> MainWindow:
        window = MainWindow(manager, settings, **options)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.cleanup()


def test_pages_and_the_status_bar(
    qtbot: QtBot,
    manager: TrainingManager,
    db: Database,
    make_window: Callable[..., MainWindow],
    rave_double: Path,
) -> None:
    window = make_window(manager)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Training",
        "Datasets",
        "Models",
    ]
    assert str(db.path) in window.db_label.text()
    qtbot.waitUntil(lambda: window.rave_status is not None, timeout=30_000)
    assert window.rave_status.path == str(rave_double.resolve())
    assert window.rave_label.text().startswith("rave")
    assert window.rave_button.text() == "Change..."


def test_rave_not_found_offers_to_set_it(
    qtbot: QtBot,
    make_manager: Callable[..., TrainingManager],
    db: Database,
    make_window: Callable[..., MainWindow],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    window = make_window(make_manager(rave=None))
    qtbot.waitUntil(lambda: window.rave_status is not None, timeout=30_000)
    assert window.rave_label.text() == "rave not found: runs cannot start"
    assert window.rave_button.text() == "Set rave executable..."

    fake = tmp_path / "bin" / "rave"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(fake), ""))
    with qtbot.waitSignal(window.app_signals.rave_changed, timeout=30_000):
        assert window.choose_rave()
    assert db.get_setting(RAVE_SETTING) == str(fake.resolve())
    qtbot.waitUntil(
        lambda: window.rave_status is not None and window.rave_status.found, timeout=30_000
    )
    assert window.rave_button.text() == "Change..."


def test_projects_are_created_renamed_and_list_their_own_runs(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_window: Callable[..., MainWindow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager.wait(manager.start_training(training_config(dataset_id, "in-default")), timeout=60)
    window = make_window(manager)
    page = window.training_page
    assert window.projects.project_name == "Default" and page.model.rowCount() == 1

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Strings", True))
    with qtbot.waitSignal(page.experiments_loaded, timeout=30_000):
        project_id = window.projects.create_project()
    assert project_id is not None and window.projects.project_id == project_id
    assert page.project_id == project_id and page.model.rowCount() == 0

    # A new run gets the current project.
    with qtbot.waitSignal(window.app_signals.training_completed, timeout=60_000):
        experiment_id = page.start_training(
            training_config(dataset_id, "in-strings", project_id=page.project_id)
        )
    assert manager.get_experiment(experiment_id)["project_id"] == project_id
    assert page.model.experiment_ids() == [experiment_id]

    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a: warnings.append(text))
    assert not window.projects.rename_project("Default")
    assert warnings == ["A project named 'Default' exists already."]
    assert window.projects.rename_project("Strings v2")
    assert window.projects.project_name == "Strings v2"
    with qtbot.waitSignal(page.experiments_loaded, timeout=30_000):
        window.projects.select_project(1)
    assert page.model.rowCount() == 1


def test_the_geometry_is_remembered(
    qtbot: QtBot, manager: TrainingManager, settings: QSettings
) -> None:
    window = MainWindow(manager, settings)
    qtbot.addWidget(window)
    window.resize(720, 560)  # above the smallest the window can be (the Listen tab's bar)
    window.show()
    window.close()
    assert settings.value("main_window/geometry") is not None
    again = MainWindow(manager, settings)
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (720, 560)
    again.cleanup()


def test_closing_says_runs_keep_training_and_never_stops_them(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_window: Callable[..., MainWindow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    window = make_window(manager)
    experiment_id = window.training_page.start_training(
        training_config(dataset_id, "keeps-going", max_steps=300)
    )
    asked: list[str] = []

    def ask(reply: QMessageBox.StandardButton) -> Callable[..., QMessageBox.StandardButton]:
        def question(_p: Any, _t: str, text: str, *a: Any) -> QMessageBox.StandardButton:
            asked.append(text)
            return reply

        return question

    monkeypatch.setattr(QMessageBox, "question", ask(QMessageBox.StandardButton.Cancel))
    assert not window.close()
    assert window.isVisible()
    assert asked[0].startswith("1 run keeps training in the background; ravelab will re-attach")

    monkeypatch.setattr(QMessageBox, "question", ask(QMessageBox.StandardButton.Close))
    assert window.close()
    experiment = manager.get_experiment(experiment_id)
    assert experiment["status"] == "running" and experiment["ended_at"] is None
    pid = experiment["pid"]
    os.kill(pid, 0)  # the supervisor still runs (raises if not)


def test_rave_not_found_offers_to_install_it(
    qtbot: QtBot,
    make_manager: Callable[..., TrainingManager],
    db: Database,
    make_window: Callable[..., MainWindow],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import ravelab.gui.rave_install as rave_install
    from ravelab.core.rave.environment import RaveEnvironment

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    window = make_window(make_manager(rave=None))
    qtbot.waitUntil(lambda: window.rave_status is not None, timeout=30_000)
    assert window.install_button.isVisibleTo(window)
    fake = tmp_path / "env" / "bin" / "rave"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    lines: list[str] = []

    def fake_install(database: Database, progress: Callable[[str], None]) -> RaveEnvironment:
        # The real install (minutes, GBs) is covered by `ravelab rave install` and .ci/run.
        progress("$ pip install torch==2.9.1 ...")
        database.set_setting(RAVE_SETTING, str(fake))
        lines.append("done")
        return RaveEnvironment(
            str(fake.parent.parent), "python3.11", "3.11", "2.9.1", False, {}, 0.0
        )

    monkeypatch.setattr(rave_install, "install_rave", fake_install)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.app_signals.rave_changed, timeout=10_000):
        window.install_rave()
    assert lines == ["done"]
    qtbot.waitUntil(
        lambda: window.rave_status is not None and window.rave_status.found, timeout=30_000
    )
    assert not window.install_button.isVisibleTo(window)


def test_train_on_this_opens_the_wizard_on_the_dataset(
    qtbot: QtBot,
    db: Database,
    manager: TrainingManager,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
    make_window: Callable[..., MainWindow],
) -> None:
    from PySide6.QtWidgets import QDialog

    from ravelab.gui.new_training_wizard import NewTrainingWizard

    window = make_window(manager)
    page = window.datasets_page
    qtbot.waitUntil(lambda: page.loaded, timeout=30_000)
    assert not page.train_button.isEnabled()  # nothing selected yet
    page.tree.topLevelItem(0).setSelected(True)
    assert page.train_button.isEnabled()
    chosen: list[int | None] = []

    def fake_exec(wizard: NewTrainingWizard) -> int:
        selected = wizard.dataset_page.selected_dataset()
        chosen.append(selected.id if selected else None)
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(NewTrainingWizard, "exec", fake_exec)
    page.train_button.click()
    assert chosen == [dataset_id]
    assert window.tabs.currentWidget() is window.training_page
