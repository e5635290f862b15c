"""The Training page over the real core and the `rave` double: start from the wizard,
live rows and progress, stop, logs, plots and re-attaching."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ravelab.core.training_manager import TrainingManager
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.experiments_model import PROGRESS_ROLE, Column, display_status
from ravelab.gui.new_training_wizard import NewTrainingWizard
from ravelab.gui.training_page import TrainingPage
from tests.gui.conftest import training_config

pytestmark = pytest.mark.gui


@pytest.fixture
def make_page(qtbot: QtBot) -> Iterator[Callable[[TrainingManager], TrainingPage]]:
    pages: list[TrainingPage] = []

    def make(manager: TrainingManager) -> TrainingPage:
        page = TrainingPage(manager, AppSignals())
        qtbot.addWidget(page)
        page.resize(1400, 900)
        page.show()
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.cleanup()


def _row(page: TrainingPage, experiment_id: int) -> dict[str, Any]:
    experiment = page.model.experiment_by_id(experiment_id)
    assert experiment is not None
    return experiment


def _progress_cell(page: TrainingPage, experiment_id: int) -> tuple[int, int, float, str]:
    row = page.model.row_of(experiment_id)
    assert row is not None
    value = page.model.index(row, Column.PROGRESS).data(PROGRESS_ROLE)
    return tuple(value)  # type: ignore[return-value]


def test_a_run_started_from_the_wizard_shows_live_and_completes(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
) -> None:
    page = make_page(manager)
    wizard = page.make_wizard()
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    wizard.config_page.set_selection("v2_small")
    wizard.next()
    params = wizard.params_page
    params.name_edit.setText("from-wizard")
    params.max_steps.setValue(20)
    params.batch_size.setValue(4)
    params.val_every.setValue(8)
    params.save_every.setValue(12)
    params.n_signal.setValue(65536)
    params.gpu.setCurrentIndex(params.gpu.findData(-1))
    wizard.next()
    assert wizard.currentPage() is wizard.confirm_page and wizard.confirm_page.isComplete()

    seen_steps: list[int] = []
    page.model.dataChanged.connect(
        lambda *_: (
            seen_steps.append(_progress_cell(page, experiment_id)[0])
            if page.model.row_of(experiment_id) is not None
            else None
        )
    )
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=60_000) as completed:
        experiment_id = page.start_from_wizard(wizard)
        assert experiment_id is not None
        assert page.selected_id == experiment_id  # the new run is selected
        assert display_status(_row(page, experiment_id)) == "running"
        assert page.stop_button.isEnabled()
    assert completed.args == [experiment_id, "completed"]

    qtbot.waitUntil(lambda: _row(page, experiment_id).get("ended_at") is not None, timeout=10_000)
    step, max_steps, percent, status = _progress_cell(page, experiment_id)
    assert (step, max_steps, percent, status) == (20, 20, 100, "completed")
    assert any(0 < s < 20 for s in seen_steps) or 20 in seen_steps
    assert not page.stop_button.isEnabled()
    assert page.details.status_label.text().endswith("completed</span>")
    assert page.details.progress.value() == page.details.progress.maximum()
    assert page.details.command.text().startswith(str(manager.rave))
    qtbot.waitUntil(
        lambda: "train set: 19 examples" in page.log_viewer.line_texts(), timeout=10_000
    )


def test_progress_updates_only_the_changed_row(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = manager.start_training(training_config(dataset_id, "first", max_steps=20))
    manager.wait(first, timeout=60)
    page = make_page(manager)
    page.select_experiment(first)
    scroll = page.table.verticalScrollBar().value()
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.01")
    changed_rows: set[int] = set()
    page.model.dataChanged.connect(
        lambda top, bottom, *_: changed_rows.update(range(top.row(), bottom.row() + 1))
    )
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=60_000):
        second = manager.start_training(training_config(dataset_id, "second", max_steps=40))
    qtbot.waitUntil(lambda: _row(page, second).get("ended_at") is not None, timeout=10_000)
    assert changed_rows and changed_rows <= {page.model.row_of(second)}
    assert page.selected_id == first  # selection kept through inserts and updates
    assert page.table.verticalScrollBar().value() == scroll
    assert _progress_cell(page, second)[:3] == (40, 40, 100)


def test_stop_asks_first_and_ends_the_run_as_stopped(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    page = make_page(manager)
    experiment_id = page.start_training(training_config(dataset_id, "to-stop", max_steps=300))
    assert experiment_id is not None and page.stop_button.isEnabled()

    questions: list[str] = []

    def answer(reply: QMessageBox.StandardButton) -> Callable[..., QMessageBox.StandardButton]:
        def ask(_parent: Any, _title: str, text: str, *args: Any) -> QMessageBox.StandardButton:
            questions.append(text)
            return reply

        return ask

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    assert not page.stop_selected()
    assert _row(page, experiment_id)["status"] == "running"
    assert "RAVE writes no checkpoint when it is stopped" in questions[0]
    assert "every 8 steps" in questions[0]

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=60_000) as ended:
        assert page.stop_selected()
        assert display_status(_row(page, experiment_id)) == "stopping"
        assert not page.stop_button.isEnabled()
    assert ended.args == [experiment_id, "stopped"]
    qtbot.waitUntil(lambda: _row(page, experiment_id).get("ended_at") is not None, timeout=10_000)
    assert display_status(_row(page, experiment_id)) == "stopped"
    assert manager.get_experiment(experiment_id)["status"] == "stopped"


def test_plots_receive_points_while_the_run_trains(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.01")
    page = make_page(manager)
    plot = page.metrics_plot
    experiment_id = page.start_training(training_config(dataset_id, "plotted", max_steps=300))
    assert experiment_id is not None and plot.experiment_id == experiment_id

    def points(name: str) -> int:
        line = plot.line(name)
        return 0 if line is None else len(line.get_xdata())

    qtbot.waitUntil(lambda: points("validation") >= 1, timeout=30_000)
    first = points("validation")
    qtbot.waitUntil(lambda: points("validation") > first, timeout=30_000)
    qtbot.waitUntil(lambda: points("lr") >= 2, timeout=30_000)
    assert {"fullband_spectral_distance", "validation"} <= set(plot.shown_metrics)
    assert plot.canvas.frames > 0
    best = page.model.best_validation(experiment_id)
    assert best is not None
    assert page.model.index(page.model.row_of(experiment_id), Column.BEST_VALIDATION).data() != "-"
    manager.stop_training(experiment_id)
    qtbot.waitUntil(lambda: _row(page, experiment_id).get("ended_at") is not None, timeout=60_000)


def test_filters_by_text_and_status(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
) -> None:
    for name in ("drums-a", "voice-b"):
        manager.wait(manager.start_training(training_config(dataset_id, name)), timeout=60)
    page = make_page(manager)
    assert page.proxy.rowCount() == 2
    page.filter_edit.setText("VOICE")
    assert page.proxy.rowCount() == 1
    assert page.proxy.index(0, Column.NAME).data() == "voice-b"
    page.filter_edit.setText("")
    page.status_combo.setCurrentIndex(page.status_combo.findData("failed"))
    assert page.proxy.rowCount() == 0
    page.status_combo.setCurrentIndex(page.status_combo.findData("completed"))
    assert page.proxy.rowCount() == 2


def test_a_refused_start_is_shown_in_a_dialog(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = make_page(manager)
    errors: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a: errors.append(text))
    assert page.start_training(training_config(dataset_id, "bad name!")) is None
    assert "is not allowed" in errors[0]
    assert page.model.rowCount() == 0


def test_new_training_opens_the_wizard_and_starts_what_it_returns(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = make_page(manager)
    monkeypatch.setattr(NewTrainingWizard, "exec", lambda self: 0)  # cancelled
    assert page.new_training() is None
    config = training_config(dataset_id, "accepted")
    monkeypatch.setattr(NewTrainingWizard, "exec", lambda self: 1)
    monkeypatch.setattr(NewTrainingWizard, "get_config", lambda self: config)
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=60_000):
        experiment_id = page.new_training()
    assert experiment_id is not None and page.selected_id == experiment_id


def test_runs_reattached_at_start_show_live(
    qtbot: QtBot,
    make_manager: Callable[..., TrainingManager],
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.01")
    first = make_manager()
    experiment_id = first.start_training(training_config(dataset_id, "detached", max_steps=300))
    first.shutdown()  # the app that started it closes: the run goes on

    second = make_manager()  # a new app start: re-attaches
    assert experiment_id in second.active_processes
    page = make_page(second)
    assert display_status(_row(page, experiment_id)) == "running"
    page.select_experiment(experiment_id)
    start = _progress_cell(page, experiment_id)[0]
    qtbot.waitUntil(lambda: _progress_cell(page, experiment_id)[0] > start, timeout=30_000)
    qtbot.waitUntil(lambda: len(page.log_viewer.line_texts()) > 5, timeout=30_000)
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=90_000) as ended:
        pass
    assert ended.args == [experiment_id, "completed"]
