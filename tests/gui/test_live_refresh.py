"""The app lives with other ravelab processes: what a CLI or another connection changes in
the database shows in the open window without a refresh (``DatabaseWatch`` polled by the
main window's timer)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from ravelab.core.runs.database_watch import DatabaseWatch
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database, RunStatus
from ravelab.db import experiments as rows
from ravelab.db import jobs as job_rows
from ravelab.gui.main_window import MainWindow

pytestmark = pytest.mark.gui

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def window(qtbot: QtBot, settings: QSettings, manager: TrainingManager) -> Iterator[MainWindow]:
    shown = MainWindow(manager, settings, confirm_close=False)
    qtbot.addWidget(shown)
    shown.show()
    yield shown
    shown.cleanup()


def _names(window: MainWindow) -> list[str]:
    model = window.training_page.model
    return [model.experiment(row).name for row in range(model.rowCount())]


def test_the_watch_sees_only_other_connections_and_only_listed_columns(db_path: Path) -> None:
    mine, other = Database(db_path), Database(db_path)
    watch = DatabaseWatch(mine)
    rows.insert_experiment(mine, name="mine", project_id=1, dataset_id=None, config={})
    assert watch.poll() == set()  # its own connection's commits: the app announces those
    run = rows.insert_experiment(other, name="other", project_id=1, dataset_id=None, config={})
    assert watch.poll() == {"runs"}
    assert watch.poll() == set()
    rows.merge_progress(other, run, {"step": 10})  # a live run's progress: its follower's
    assert watch.poll() == set()
    rows.set_notes(other, run, "a note")
    assert watch.poll() == {"runs"}
    job_rows.insert_model(
        other,
        experiment_id=run,
        job_id=None,
        path="/x.ts",
        size_bytes=1,
        streaming=True,
        fidelity=None,
        checkpoint=None,
        step=None,
    )
    assert watch.poll() == {"models"}
    mine.close()
    other.close()


def test_a_run_inserted_by_another_connection_appears(
    qtbot: QtBot, window: MainWindow, db_path: Path
) -> None:
    assert _names(window) == []
    other = Database(db_path)
    run = rows.insert_experiment(other, name="elsewhere", project_id=1, dataset_id=None, config={})
    rows.update_fields(other, run, status=RunStatus.FAILED, ended_at=rows.utc_now())
    qtbot.waitUntil(lambda: _names(window) == ["elsewhere"], timeout=30_000)
    rows.rename_experiment(other, run, "renamed-elsewhere")
    qtbot.waitUntil(lambda: _names(window) == ["renamed-elsewhere"], timeout=30_000)
    rows.delete_ended_experiment(other, run)
    qtbot.waitUntil(lambda: _names(window) == [], timeout=30_000)
    other.close()


def test_a_dataset_registered_by_another_connection_appears(
    qtbot: QtBot, window: MainWindow, db_path: Path, dataset_dir: Path
) -> None:
    from ravelab.core.datasets import register_dataset

    other = Database(db_path)
    register_dataset(other, dataset_dir, "from-cli")
    qtbot.waitUntil(lambda: window.datasets_page.dataset_names() == ["from-cli"], timeout=30_000)
    other.close()


def test_a_run_started_by_the_cli_is_listed_and_followed_to_its_end(
    qtbot: QtBot,
    window: MainWindow,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    runs_dir: Path,
) -> None:
    env: dict[str, Any] = {
        **os.environ,
        "PYTHONPATH": SRC,
        "RAVELAB_RUNS_DIR": str(runs_dir),
    }
    command = [sys.executable, "-m", "ravelab", "--db", str(db_path), "--rave", str(rave_double)]
    started = subprocess.run(
        [*command, "train", "--dataset", "synth", "--name", "from-cli", "--max-steps", "30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    qtbot.waitUntil(lambda: "from-cli" in _names(window), timeout=30_000)
    model = window.training_page.model

    def completed() -> bool:
        record = model.experiment_by_id(1)
        return record is not None and record.status == RunStatus.COMPLETED

    # Nobody else follows it (the CLI returned): the app takes it up and settles it.
    qtbot.waitUntil(completed, timeout=60_000)
    stored = window.manager.get_record(1)
    assert stored is not None and stored.progress.step > 0
    qtbot.waitUntil(
        lambda: model.experiment_by_id(1).progress.step == stored.progress.step,  # type: ignore[union-attr]
        timeout=30_000,
    )
