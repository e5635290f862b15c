"""The runs table's model, filter proxy and progress delegate."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from ravelab.db import ExperimentRecord, RunProgress, RunStatus
from ravelab.gui import formatting
from ravelab.gui.experiments_model import (
    PROGRESS_ROLE,
    STATUS_ROLE,
    Column,
    ExperimentsFilterProxy,
    ExperimentsModel,
    display_status,
)
from ravelab.gui.progress_delegate import ProgressDelegate, progress_label
from tests.gui.records import make_record

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _application(qapp: Any) -> None:
    """The model paints its status dots into pixmaps, which need a QApplication."""


def _experiment(
    experiment_id: int, name: str, status: str = "running", **extra: Any
) -> ExperimentRecord:
    fields: dict[str, Any] = {
        "dataset_name": "synth",
        "config": {"config": "v2", "modifiers": ["causal"], "max_steps": 1000},
        "status": status,
        "ended_at": None if status == "running" else "2026-01-01T11:00:00+00:00",
        "progress": {"step": 250, "max_steps": 1000, "percent": 25.0, "speed": 0.5, "eta_s": 90},
    }
    fields.update(extra)
    return make_record(experiment_id, name, **fields)


def test_cells_show_what_the_original_api_asks() -> None:
    model = ExperimentsModel()
    model.set_experiments([_experiment(1, "drums")], best={1: 0.123456})

    def cell(column: Column) -> Any:
        return model.index(0, column).data()

    assert cell(Column.NAME) == "drums"
    assert cell(Column.CONFIG) == "v2 + causal"
    assert cell(Column.STATUS) == "running"
    assert cell(Column.PROGRESS) == "250 / 1,000"
    assert model.index(0, Column.PROGRESS).data(PROGRESS_ROLE) == (250, 1000, 25.0, "running")
    assert cell(Column.SPEED) == "2.00 s/it"
    assert cell(Column.ETA) == "0:01:30"
    assert cell(Column.BEST_VALIDATION) == "0.1235"
    assert cell(Column.DURATION) != "-"


def test_updates_touch_one_row_and_merge() -> None:
    model = ExperimentsModel()
    model.set_experiments([_experiment(2, "b"), _experiment(1, "a")])
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, *_: changed.append((top.row(), bottom.row())))
    assert model.update_progress(1, {"step": 500, "percent": 50.0})
    assert changed and {row for pair in changed for row in pair} == {1}
    shown = model.experiment_by_id(1)
    assert shown is not None and shown.progress.max_steps == 1000  # merged, not replaced
    assert shown.progress.step == 500
    model.update_metrics(1, {"validation": 2.0})
    model.update_metrics(1, {"validation": 3.0})
    assert model.best_validation(1) == 2.0
    assert not model.update_progress(99, {"step": 1})


def test_reloading_keeps_the_selection() -> None:
    model = ExperimentsModel()
    proxy = ExperimentsFilterProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    view.setModel(proxy)
    model.set_experiments([_experiment(3, "c"), _experiment(2, "b"), _experiment(1, "a")])
    view.selectionModel().select(
        proxy.mapFromSource(model.index(1, 0)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    model.set_experiments([_experiment(4, "d"), _experiment(2, "b", "completed")])
    rows = view.selectionModel().selectedRows()
    assert [proxy.mapToSource(r).row() for r in rows] == [model.row_of(2)]
    assert model.experiment_ids() == [2, 4]


def test_status_shows_stopping_until_the_run_has_ended() -> None:
    assert display_status(_experiment(1, "a", "stopped", ended_at=None)) == "stopping"
    assert display_status(_experiment(1, "a", "stopped", ended_at="x")) == "stopped"
    proxy = ExperimentsFilterProxy()
    model = ExperimentsModel()
    proxy.setSourceModel(model)
    model.set_experiments([_experiment(1, "a", "stopped", ended_at=None), _experiment(2, "b")])
    proxy.set_status_filter("running")
    assert proxy.rowCount() == 2  # a stopping run still counts as running


def test_the_progress_delegate_paints(qtbot: QtBot) -> None:
    model = ExperimentsModel()
    model.set_experiments([_experiment(1, "a"), _experiment(2, "b", "failed")])
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(view))
    view.resize(1200, 200)
    view.show()
    assert not view.grab().isNull()
    assert progress_label(250, 1000, 25.0) == "250 / 1,000  25%"
    assert progress_label(3, 1000, 0.3) == "3 / 1,000  0.3%"
    assert progress_label(7, 0, 0.0) == "step 7"


def test_formatting() -> None:
    assert formatting.speed(2.4) == "2.40 it/s"
    assert formatting.speed(0.25) == "4.00 s/it"
    assert formatting.speed(None) == "-"
    assert formatting.duration(3725) == "1:02:05"
    assert formatting.duration(90061) == "1d 1:01:01"
    assert formatting.progress_speed(RunProgress(speed=2.0, step_rate=3.0)) == 3.0
    assert formatting.progress_speed(RunProgress(speed=2.0)) == 2.0
    assert formatting.command_line(["rave", "train", "--name", "a b"]) == "rave train --name 'a b'"


def test_painting_the_table_calls_no_python_but_the_progress_bars(qtbot: QtBot) -> None:
    # A repaint that calls into Python waits for the interpreter lock at every call while
    # core threads are busy: the model serves its cells from C++ instead.
    model = ExperimentsModel()
    proxy = ExperimentsFilterProxy()
    proxy.setSourceModel(model)
    model.set_experiments([_experiment(i, f"run-{i}") for i in range(1, 6)], best={1: 0.5})
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(view))
    view.setSortingEnabled(True)
    view.resize(1400, 300)
    view.show()
    entered: list[str] = []  # the Python functions Qt's C++ called during the repaint
    here = sys._getframe()

    def note(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_back is here:
            entered.append(f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}")

    # A garbage collection during the grab would call whatever gc callbacks other tests in
    # this worker installed (hypothesis installs one): not the table's doing, so none runs.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    sys.setprofile(note)
    try:
        image = view.grab()
    finally:
        sys.setprofile(None)
        if gc_was_enabled:
            gc.enable()
    assert not image.isNull()
    assert entered == ["progress_delegate.py:paint"] * 5  # one per row, nothing else


def test_only_changed_cells_are_written(qapp: Any) -> None:
    model = ExperimentsModel()
    model.set_experiments([_experiment(1, "a", "stopped")])  # ended: its duration is fixed
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(
        lambda top, bottom, *_: changed.append((top.column(), bottom.column()))
    )
    model.update_progress(1, {"step": 250})  # what is shown already
    assert changed == []
    model.update_progress(1, {"step": 300})
    assert (Column.PROGRESS, Column.PROGRESS) in changed
    assert all(first == last for first, last in changed)  # cell by cell
    assert (Column.NAME, Column.NAME) not in changed
    assert model.index(0, Column.PROGRESS).data() == "300 / 1,000"
    model.update_status(1, RunStatus.FAILED)
    status = model.index(0, Column.STATUS)
    assert status.data() == "failed"
    assert status.data(STATUS_ROLE) == "failed"
    assert model.flags(status) & Qt.ItemFlag.ItemIsEditable == Qt.ItemFlag.NoItemFlags
    assert model.headerData(Column.ETA, Qt.Orientation.Horizontal) == "ETA"
