"""The Training page over the real core and the `rave` double: start from the wizard,
live rows and progress, stop, logs, plots and re-attaching."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import ExperimentRecord
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.experiments_model import PROGRESS_ROLE, Column, display_status
from ravelab.gui.new_training_wizard import NewTrainingWizard
from ravelab.gui.training_page import TrainingPage
from tests.gui.conftest import save_screenshot, training_config

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def no_unexpected_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message box a test did not expect fails it at once with the box's text (a modal
    box would otherwise wait forever for a click offscreen); tests that expect one
    replace these again."""

    def unexpected(kind: str) -> Callable[..., Any]:
        def show(_parent: Any, title: str, text: str, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"unexpected {kind} dialog: {title}: {text}")

        return show

    for kind in ("critical", "warning", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, unexpected(kind))


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


def _row(page: TrainingPage, experiment_id: int) -> ExperimentRecord:
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

    qtbot.waitUntil(lambda: _row(page, experiment_id).ended_at is not None, timeout=60_000)
    step, max_steps, percent, status = _progress_cell(page, experiment_id)
    assert (step, max_steps, percent, status) == (20, 20, 100, "completed")
    assert any(0 < s < 20 for s in seen_steps) or 20 in seen_steps
    assert not page.stop_button.isEnabled()
    assert page.details.status_label.text().endswith("completed</span>")
    assert page.details.progress.value() == page.details.progress.maximum()
    assert page.details.command.text().startswith(str(manager.rave))
    qtbot.waitUntil(
        lambda: "train set: 19 examples" in page.log_viewer.line_texts(), timeout=60_000
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
    qtbot.waitUntil(lambda: _row(page, second).ended_at is not None, timeout=60_000)
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
    assert _row(page, experiment_id).status == "running"
    assert "RAVE writes no checkpoint when it is stopped" in questions[0]
    assert "every 8 steps" in questions[0]

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=60_000) as ended:
        assert page.stop_selected()
        assert display_status(_row(page, experiment_id)) == "stopping"
        assert not page.stop_button.isEnabled()
    assert ended.args == [experiment_id, "stopped"]
    qtbot.waitUntil(lambda: _row(page, experiment_id).ended_at is not None, timeout=60_000)
    assert display_status(_row(page, experiment_id)) == "stopped"
    assert manager.get_experiment(experiment_id)["status"] == "stopped"


def _drawn_steps(page: TrainingPage, name: str) -> list[float]:
    line = page.metrics_plot.line(name)
    return [] if line is None else [float(x) for x in line.get_xdata()]


def _stored_steps(manager: TrainingManager, experiment_id: int, name: str) -> list[float]:
    """The steps of a metric's points in the database that a plot can draw (finite)."""
    history = manager.get_metric_history(experiment_id, name)
    return [float(step) for step, value in history if math.isfinite(value)]


def _plot_shows_all_points(page: TrainingPage, stored: dict[str, list[float]]) -> bool:
    """The plot has drawn exactly ``stored`` (metric -> steps), and painted it."""
    canvas = page.metrics_plot.canvas
    return canvas.settled and all(_drawn_steps(page, n) == steps for n, steps in stored.items())


@pytest.mark.slow
def test_plots_receive_points_while_the_run_trains(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A run of about a minute (its second validation comes about a quarter of the way
    # in), stopped as soon as the plot has shown it growing: the test waits for what the
    # plot shows, not for a count of frames within the run's length.
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.2")
    page = make_page(manager)
    plot = page.metrics_plot
    experiment_id = page.start_training(training_config(dataset_id, "plotted", max_steps=300))
    assert experiment_id is not None and plot.experiment_id == experiment_id

    def running() -> bool:
        return manager.get_experiment(experiment_id)["ended_at"] is None

    qtbot.waitUntil(lambda: len(_drawn_steps(page, "validation")) >= 1, timeout=60_000)
    first = _drawn_steps(page, "validation")
    qtbot.waitUntil(lambda: len(_drawn_steps(page, "validation")) > len(first), timeout=60_000)
    qtbot.waitUntil(lambda: len(_drawn_steps(page, "lr")) >= 1, timeout=60_000)
    assert running()  # all of the above happened while the run trained
    assert {"fullband_spectral_distance", "validation"} <= set(plot.shown_metrics)
    best = page.model.best_validation(experiment_id)
    assert best is not None
    assert page.model.index(page.model.row_of(experiment_id), Column.BEST_VALIDATION).data() != "-"

    manager.stop_training(experiment_id)
    qtbot.waitUntil(lambda: _row(page, experiment_id).ended_at is not None, timeout=60_000)
    # Once the run has ended the plot catches up with every stored point, none twice.
    stored = {
        name: _stored_steps(manager, experiment_id, name)
        for name in ("validation", "fullband_spectral_distance", "lr")
    }
    assert all(stored.values())
    qtbot.waitUntil(lambda: _plot_shows_all_points(page, stored), timeout=60_000)


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
    tmp_path: Path,
    make_manager: Callable[..., TrainingManager],
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A run of about a minute: still training when the new app's page shows it, however
    # long that app takes to start; stopped once it has been seen live (not awaited: its
    # end could otherwise come before the test listens for it).
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.2")
    # The trainer holds at step 3 until the new page shows it: however loaded the
    # machine, it is still training then.
    hold = tmp_path / "hold"
    monkeypatch.setenv("FAKE_RAVE_HOLD_AT", "3")
    monkeypatch.setenv("FAKE_RAVE_HOLD_FILE", str(hold))
    first = make_manager()
    experiment_id = first.start_training(training_config(dataset_id, "detached", max_steps=300))
    first.shutdown()  # the app that started it closes: the run goes on
    qtbot.waitUntil(lambda: Path(f"{hold}.reached").exists(), timeout=60_000)

    second = make_manager()  # a new app start: re-attaches
    assert experiment_id in second.active_processes
    page = make_page(second)
    assert display_status(_row(page, experiment_id)) == "running"
    hold.touch()
    page.select_experiment(experiment_id)
    start = _progress_cell(page, experiment_id)[0]
    qtbot.waitUntil(lambda: _progress_cell(page, experiment_id)[0] > start, timeout=60_000)
    qtbot.waitUntil(lambda: len(page.log_viewer.line_texts()) > 5, timeout=60_000)
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=90_000) as ended:
        second.stop_training(experiment_id)
    assert ended.args == [experiment_id, "stopped"]
    qtbot.waitUntil(lambda: _row(page, experiment_id).ended_at is not None, timeout=60_000)
    assert display_status(_row(page, experiment_id)) == "stopped"


# -- actions on runs: stop at checkpoint, resume, clone, export, compare ---------------------


def _resumable_config(dataset_id: int, name: str, **extra: Any) -> dict[str, Any]:
    return training_config(
        dataset_id,
        name,
        max_steps=300,
        val_every=40,
        save_every=100,
        workers=0,
        overrides=["PHASE_1_DURATION=150"],
        **extra,
    )


@pytest.mark.slow
def test_stop_at_checkpoint_then_resume_with_new_max_steps(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.05")
    page = make_page(manager)
    experiment_id = page.start_training(_resumable_config(dataset_id, "resumable"))
    assert experiment_id is not None
    assert page.stop_checkpoint_button.isEnabled() and not page.resume_button.isEnabled()
    qtbot.waitUntil(lambda: _progress_cell(page, experiment_id)[0] >= 2, timeout=60_000)

    # The plain Stop says how much it would lose (cancelled here). Asked just as a
    # checkpoint is written it loses nothing and says so: ask again a few steps later.
    questions: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda _p, _t, text, *a: questions.append(text) or QMessageBox.StandardButton.Cancel,
    )

    def asked_with_a_loss() -> bool:
        assert not page.stop_selected()
        if "Nothing is lost now" in questions[-1]:
            step = _progress_cell(page, experiment_id)[0]
            qtbot.waitUntil(lambda: _progress_cell(page, experiment_id)[0] > step, timeout=60_000)
            return False
        return True

    qtbot.waitUntil(asked_with_a_loss, timeout=60_000)
    assert "Stopping now loses" in questions[-1] and "Stop at checkpoint" in questions[-1]

    with qtbot.waitSignal(page.app_signals.training_completed, timeout=90_000) as ended:
        assert page.stop_selected_at_checkpoint()
        assert _row(page, experiment_id).status == "running"  # until the checkpoint
        assert not page.stop_checkpoint_button.isEnabled()
    assert ended.args == [experiment_id, "stopped"]
    qtbot.waitUntil(lambda: _row(page, experiment_id).ended_at is not None, timeout=60_000)
    stopped_at = manager.get_experiment(experiment_id)["progress"]["step"]
    assert 40 <= stopped_at < 300
    assert page.resume_button.isEnabled()
    # The run has ended; its processes may still be on their way out, and a resume is
    # refused until they are gone ("still shutting down").
    qtbot.waitUntil(lambda: not manager.processes_live(experiment_id), timeout=60_000)

    # Cancelled: nothing happens.
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (0, False))
    assert not page.resume_selected()
    assert manager.get_experiment(experiment_id)["status"] == "stopped"

    asked: list[tuple[Any, ...]] = []

    def get_int(*args: Any, **kwargs: Any) -> tuple[int, bool]:
        asked.append(args)
        return stopped_at + 30, True

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    monkeypatch.setattr(QInputDialog, "getInt", get_int)
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=90_000) as ended:
        assert page.resume_selected()
        assert display_status(_row(page, experiment_id)) == "running"
        assert not page.resume_button.isEnabled()
    assert asked[0][3] == 300  # the current max steps is offered
    assert ended.args == [experiment_id, "completed"]
    resumed = manager.get_experiment(experiment_id)
    argv = resumed["argv"]
    assert argv[argv.index("--max_steps") + 1] == str(stopped_at + 30)
    assert "--ckpt" in argv
    assert resumed["progress"]["resumes"] == 1


def test_resume_without_a_checkpoint_shows_why_and_changes_nothing(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    experiment_id = manager.start_training(
        training_config(dataset_id, "no-ckpt", max_steps=300, val_every=1000, save_every=1000)
    )
    manager.stop_training(experiment_id)
    manager.wait(experiment_id, timeout=60)
    page = make_page(manager)
    page.select_experiment(experiment_id)
    assert page.resume_button.isEnabled()
    before = manager.get_experiment(experiment_id)
    errors: list[str] = []
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (300, True))
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a: errors.append(text))
    assert not page.resume_selected()
    assert "no checkpoint" in errors[0]
    assert manager.get_experiment(experiment_id) == before


def test_clone_opens_the_wizard_with_the_runs_settings(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
) -> None:
    first = manager.start_training(training_config(dataset_id, "original", batch_size=3))
    manager.wait(first, timeout=60)
    page = make_page(manager)
    page.select_experiment(first)
    assert page.clone_action.isEnabled()
    wizard = page.make_clone_wizard()
    assert wizard is not None
    qtbot.addWidget(wizard)
    wizard.show()
    while wizard.currentPage() is not wizard.confirm_page:
        wizard.next()
    config = wizard.get_config()
    assert (config["batch_size"], config["max_steps"], config["val_every"]) == (3, 20, 8)
    assert config["dataset_id"] == dataset_id and config["name"] != "original"
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=60_000):
        second = page.start_from_wizard(wizard)
    assert second is not None and second != first
    assert manager.get_experiment(second)["config"]["batch_size"] == 3


def test_export_dialog_runs_the_job_and_shows_the_model(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
) -> None:
    experiment_id = manager.start_training(_resumable_config(dataset_id, "exported"))
    manager.wait(experiment_id, timeout=60)
    page = make_page(manager)
    page.select_experiment(experiment_id)
    assert page.export_action.isEnabled()
    dialog = page.make_export_dialog()
    assert dialog is not None
    qtbot.addWidget(dialog)
    dialog.show()
    labels = [dialog.checkpoint.itemText(i) for i in range(dialog.checkpoint.count())]
    assert labels[0].startswith("Best") and labels[1].startswith("Latest")
    assert any("best.ckpt" in label for label in labels[2:])
    assert dialog.streaming.isChecked()
    dialog.fidelity.setValue(0.9)
    assert dialog.options() == {"checkpoint": "best", "streaming": True, "fidelity": 0.9}
    with qtbot.waitSignal(page.model_exported, timeout=60_000) as exported:
        assert dialog.start_export() is not None
        assert not dialog.export_button.isEnabled()
    assert exported.args == [dialog.job_id]
    assert dialog.model_path and dialog.model_path.endswith(".ts")
    assert dialog.status.text().startswith("Exported (")
    assert dialog.path_edit.text() == dialog.model_path and dialog.result_row.isVisible()
    save_screenshot(dialog, "export_dialog.png")
    dialog.close()


def test_export_errors_are_shown_in_the_dialog(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
) -> None:
    experiment_id = manager.start_training(
        training_config(dataset_id, "no-ckpt", val_every=1000, save_every=1000)
    )
    manager.wait(experiment_id, timeout=60)
    page = make_page(manager)
    page.select_experiment(experiment_id)
    dialog = page.make_export_dialog()
    assert dialog is not None
    qtbot.addWidget(dialog)
    assert dialog.start_export() is None
    assert dialog.status.text().startswith("The export could not start:")
    assert dialog.export_button.isEnabled()


@pytest.mark.slow
def test_compare_lists_the_settings_two_runs_differ_in(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
) -> None:
    from PySide6.QtCore import QItemSelectionModel

    a = manager.start_training(_resumable_config(dataset_id, "a", batch_size=3))
    b = manager.start_training(_resumable_config(dataset_id, "b", batch_size=5))
    manager.wait(a, timeout=60)
    manager.wait(b, timeout=60)
    page = make_page(manager)
    page.select_experiment(a)
    assert not page.compare_action.isEnabled()
    row = page.proxy.mapFromSource(page.model.index(page.model.row_of(b), 0))
    page.table.selectionModel().select(
        row, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    )
    assert sorted(page.selected_ids()) == sorted([a, b])
    assert page.compare_action.isEnabled()
    dialog = page.make_compare_dialog()
    assert dialog is not None
    qtbot.addWidget(dialog)
    keys = {key: (x, y) for key, x, y in dialog.differences}
    assert keys == {"batch_size": (5, 3)}  # b is listed first (newest)
    assert dialog.table.horizontalHeaderItem(1).text() == "b"
    texts = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert "batch_size" in texts
    dialog.resize(560, 240)
    save_screenshot(dialog, "compare_dialog.png")
    # The screenshot shows the current run's plot complete: wait until it is painted.
    shown = page.metrics_plot.experiment_id
    assert shown in (a, b)
    stored = {name: _stored_steps(manager, shown, name) for name in ("validation", "lr")}
    assert all(stored.values())
    qtbot.waitUntil(lambda: _plot_shows_all_points(page, stored), timeout=60_000)
    save_screenshot(page, "training_actions.png")
    menu = page.context_menu()
    enabled = [action.text() for action in menu.actions() if action.isEnabled()]
    assert "Compare the two selected runs" in enabled and "Export..." in enabled
    assert "Stop" not in enabled


def test_the_details_pane_folds_away_and_comes_back(
    qtbot: QtBot,
    manager: TrainingManager,
    make_page: Callable[[TrainingManager], TrainingPage],
) -> None:
    page = make_page(manager)
    page.resize(1024, 600)
    page.show()
    qtbot.waitUntil(lambda: page.bottom_splitter.sizes()[0] > 0, timeout=10_000)
    width = page.bottom_splitter.sizes()[0]
    page.details_toggle.click()
    assert page.bottom_splitter.sizes()[0] == 0 and page.bottom_splitter.sizes()[1] > 0
    assert page.details_toggle.text() == "Show details"
    page.details_toggle.click()
    assert page.bottom_splitter.sizes()[0] == width
    assert page.details_toggle.text() == "Hide details"
    # Dragged shut by its handle, the button says so.
    page.bottom_splitter.moveSplitter(0, 1)
    assert page.details_toggle.isChecked() and page.details_toggle.text() == "Show details"


def test_a_checkpoint_on_the_plot_is_exported_or_resumed_from(
    qtbot: QtBot,
    manager: TrainingManager,
    dataset_id: int,
    make_page: Callable[[TrainingManager], TrainingPage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PySide6.QtWidgets import QInputDialog

    from ravelab.gui.run_dialogs import ExportDialog

    experiment_id = manager.start_training(_resumable_config(dataset_id, "marked"))
    manager.wait(experiment_id, timeout=60)
    checkpoints = manager.list_checkpoints(experiment_id)
    periodic = next(c for c in checkpoints if "epoch" in str(c["path"]))
    path, step = str(periodic["path"]), periodic["step"]
    page = make_page(manager)
    qtbot.waitUntil(lambda: page.model.experiment_by_id(experiment_id) is not None)

    chosen: list[object] = []
    monkeypatch.setattr(ExportDialog, "exec", lambda self: chosen.append(self.options()) or 0)
    page.metrics_plot.checkpoint_action.emit(experiment_id, path, "export")
    assert chosen and chosen[0]["checkpoint"] == path  # type: ignore[index]

    asked: list[str] = []

    def get_int(_parent: object, _title: str, text: str, *_a: object) -> tuple[int, bool]:
        asked.append(text)
        return 320, True

    monkeypatch.setattr(QInputDialog, "getInt", get_int)
    with qtbot.waitSignal(page.app_signals.training_completed, timeout=90_000):
        page.metrics_plot.checkpoint_action.emit(experiment_id, path, "resume")
    assert f"the checkpoint {Path(path).name}" in asked[0] and f"at step {step:,}" in asked[0]
    experiment = manager.get_experiment(experiment_id)
    assert "--ckpt" in experiment["argv"] and path in experiment["argv"]
