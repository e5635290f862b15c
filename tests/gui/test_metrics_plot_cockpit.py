"""MetricsPlot as a cockpit: panels per metric group, runs overlaid, smoothing, marks, hover."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database, artifacts
from ravelab.db import experiments as rows
from ravelab.db.artifacts import CheckpointRecord
from ravelab.gui import plot_hover
from ravelab.gui.app_signals import AppSignals
from ravelab.gui.metrics_plot import MetricsPlot
from ravelab.gui.plot_panels import RAW_ALPHA
from ravelab.gui.training_page import TrainingPage
from ravelab.plots.series_colours import run_colour
from tests.gui.conftest import save_screenshot

pytestmark = pytest.mark.gui

#: Every panel's metrics, as RAVE 2.3.1 names them, plus one it does not know.
METRICS = {
    "fullband_spectral_distance": 5.0,
    "validation": 7.0,
    "pred_fake": -0.5,
    "loss_dis": 1.5,
    "beta_factor": 0.01,
    "fidelity_0.99": 30.0,
    "lr": 1e-3,
}


def _run(db: Database, dataset_id: int, name: str, offset: float = 0.0, steps: int = 2000) -> int:
    """A finished run with every metric of ``METRICS`` at every 10th step: a level plus
    a noise band (alternately 1 above and 1 below, for the losses)."""
    run = rows.insert_experiment(
        db, name=name, project_id=1, dataset_id=dataset_id, config={}, status="completed"
    )
    now = time.time()
    points = []
    for metric, level in METRICS.items():
        band = 1.0 if metric in ("fullband_spectral_distance", "pred_fake") else 0.0
        for i, step in enumerate(range(0, steps * 10, 10)):
            points.append((metric, step, level + offset + (band if i % 2 else -band), now))
    rows.insert_points(db, run, points)
    return run


@pytest.fixture
def plot(qtbot: QtBot, manager: TrainingManager) -> Iterator[MetricsPlot]:
    plot = MetricsPlot(manager)
    qtbot.addWidget(plot)
    plot.resize(900, 800)
    plot.show()
    yield plot
    plot.cleanup()


def _drawn(plot: MetricsPlot, name: str, run: int | None = None) -> int:
    line = plot.line(name, run)
    return 0 if line is None else len(line.get_xdata())


def _settle(qtbot: QtBot, plot: MetricsPlot) -> None:
    qtbot.waitUntil(lambda: plot.canvas.settled and not plot._in_flight, timeout=60_000)


def test_each_group_has_its_panel_and_axis(
    qtbot: QtBot, plot: MetricsPlot, db: Database, dataset_id: int
) -> None:
    run = _run(db, dataset_id, "panels")
    rows.insert_points(db, run, [("my_metric", 5, 1.0, time.time())])
    plot.show_experiment(run, "panels")
    qtbot.waitUntil(lambda: _drawn(plot, "fidelity_0.99") > 0, timeout=60_000)
    _settle(qtbot, plot)
    panels = plot.panels.panels
    assert list(panels) == ["reconstruction", "adversarial", "latent", "lr"]
    assert plot.line("validation").axes is panels["reconstruction"]
    assert plot.line("pred_fake").axes is panels["adversarial"]
    assert plot.line("beta_factor").axes is plot.line("fidelity_0.99").axes is panels["latent"]
    assert panels["latent"].get_yscale() == "log"  # 0.01 and 30 both readable
    assert panels["reconstruction"].get_ylabel() == "spectral distance"
    # Each panel fits its own values: beta's 0.01 is not flattened by fidelity's 30.
    low, high = panels["adversarial"].get_ylim()
    assert low < -1.5 and high < 5
    for axes in panels.values():
        colours = [line.get_color() for line in plot.panels.lines.values() if line.axes is axes]
        assert len(colours) == len(set(colours))  # never a colour twice in a panel

    plot.choose_metrics(["validation", "my_metric"])  # an unknown name, when chosen
    qtbot.waitUntil(lambda: _drawn(plot, "my_metric") == 1, timeout=60_000)
    assert list(plot.panels.panels) == ["reconstruction", "other", "lr"]

    plot.lr_toggle.setChecked(False)  # the learning-rate panel folds away
    qtbot.waitUntil(lambda: "lr" not in plot.panels.panels, timeout=60_000)
    assert plot.line("lr") is None
    plot.lr_toggle.setChecked(True)
    qtbot.waitUntil(lambda: _drawn(plot, "lr") > 0, timeout=60_000)


def test_smoothing_draws_the_level_with_the_raw_band_faint_behind(
    qtbot: QtBot, plot: MetricsPlot, db: Database, dataset_id: int
) -> None:
    run = _run(db, dataset_id, "smooth")
    plot.show_experiment(run, "smooth")
    qtbot.waitUntil(lambda: _drawn(plot, "fullband_spectral_distance") > 0, timeout=60_000)
    _settle(qtbot, plot)
    assert plot.smoothing == 0.6 and plot.smoothing_label.text() == "0.60"
    raw = plot.line("fullband_spectral_distance")
    smoothed = plot.smoothed_line("fullband_spectral_distance")
    assert smoothed.get_visible() and raw.get_alpha() == RAW_ALPHA
    assert min(raw.get_ydata()) == 4.0 and max(raw.get_ydata()) == 6.0  # the band
    level = np.asarray(smoothed.get_ydata())
    # The level: within a tenth of the band's width (a pixel column holds 2 or 3 points)
    assert np.allclose(level[5:], 5.0, atol=0.2)
    assert np.ptp(level[5:]) < 0.2 * np.ptp(raw.get_ydata())

    plot.set_smoothing(0.0)
    qtbot.waitUntil(lambda: not smoothed.get_visible(), timeout=60_000)
    assert raw.get_alpha() == 1.0 and plot.smoothing_label.text() == "off"


def test_runs_are_overlaid_in_their_colours_and_followed(
    qtbot: QtBot, plot: MetricsPlot, db: Database, dataset_id: int
) -> None:
    first = _run(db, dataset_id, "first")
    second = _run(db, dataset_id, "second", offset=2.0, steps=1000)
    plot.show_runs([(first, "first"), (second, "second")])
    qtbot.waitUntil(lambda: _drawn(plot, "pred_fake", second) > 0, timeout=60_000)
    assert plot.experiment_ids == [first, second] and plot.experiment_id == first
    for run, index in ((first, 0), (second, 1)):
        # The run's colour in every panel (its first metric there takes it unshaded).
        for name in ("fullband_spectral_distance", "loss_dis", "beta_factor", "lr"):
            assert plot.line(name, run).get_color() == run_colour(index)
    assert (
        plot.line("validation", first).get_linestyle()
        != plot.line("fullband_spectral_distance", first).get_linestyle()
    )
    for axes in plot.panels.panels.values():
        colours = [line.get_color() for line in plot.panels.lines.values() if line.axes is axes]
        assert len(colours) == len(set(colours))
    assert plot.status.text().endswith("in 2 runs")

    # The second run goes on: its new points are drawn.
    now = time.time()
    rows.insert_points(db, second, [("pred_fake", s, -1.0, now) for s in range(10_000, 10_100)])
    plot.notify_metrics(second)
    qtbot.waitUntil(
        lambda: max(plot.line("pred_fake", second).get_xdata()) == 10_099, timeout=60_000
    )
    _settle(qtbot, plot)
    plot.resize(1000, 900)
    save_screenshot(plot, "metrics_overlay.png")

    # A run renamed while shown: the figure's title and the run legend follow.
    plot.show_runs([(first, "first"), (second, "renamed")])
    qtbot.waitUntil(lambda: "renamed" in _run_legend_texts(plot), timeout=60_000)
    assert plot.figure.get_suptitle() == "first, renamed"


def _run_legend_texts(plot: MetricsPlot) -> list[str]:
    legend = plot.panels._run_legend
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_marks_and_hover(qtbot: QtBot, plot: MetricsPlot, db: Database, dataset_id: int) -> None:
    run = _run(db, dataset_id, "marked")
    rows.merge_progress(
        db, run, {"phase_1_duration": 8000, "resumes": 1, "resumed_from": "/r/epoch_12000.ckpt"}
    )
    artifacts.upsert_checkpoints(
        db,
        run,
        [
            CheckpointRecord("/r/best.ckpt", 15_000, 1, 1.0),
            CheckpointRecord("/r/epoch_12000.ckpt", 12_000, 1, 2.0),
        ],
    )
    plot.show_experiment(run, "marked")
    qtbot.waitUntil(lambda: "best" in plot.checkpoint_marks, timeout=60_000)
    assert list(plot.checkpoint_marks["best"].get_xdata()) == [15_000]
    assert list(plot.checkpoint_marks["periodic"].get_xdata()) == [12_000]
    best, periodic = plot.checkpoint_marks["best"], plot.checkpoint_marks["periodic"]
    assert best.get_marker() != periodic.get_marker()  # best and periodic look different
    assert {tuple(line.get_xdata()) for line in plot.phase_lines} == {(8000, 8000)}
    assert {tuple(line.get_xdata()) for line in plot.resume_lines} == {(12_000, 12_000)}
    texts = [t.get_text().strip() for t in plot.panels.top.texts]
    assert "phase 2" in texts and "resumed" in texts
    _settle(qtbot, plot)

    # The mouse over the reconstruction panel at step 12,340: the step with separators
    # and each of the panel's series' smoothed values.
    position = plot.position_of(12_340, "reconstruction")
    qtbot.mouseMove(plot.canvas, position)
    qtbot.waitUntil(lambda: plot.readout.text().startswith("step 12,3"), timeout=60_000)
    text = plot.readout.text()
    assert "full-band spectral distance 5" in text and "validation 7" in text
    assert "pred fake" not in text  # another panel's: in the tooltip
    values = plot_hover.values_at(12_340, plot._drawn, list(plot.panels.panels))
    assert {label for _, label, _ in values} >= {"pred fake", "beta factor", "learning rate"}
    # Over the best checkpoint's mark: its step and file.
    geometry = plot._geometry
    top = geometry.panels[0]
    x = top.x_of(15_000)
    y = top.bottom - 0.04 * (top.bottom - top.top)
    assert plot_hover.checkpoint_near(geometry, x, y, plot._checkpoints) == (
        15_000,
        "/r/best.ckpt",
        True,
    )
    assert plot_hover.checkpoint_near(geometry, x, top.top + 5, plot._checkpoints) is None
    # A right-click there offers to export it or to resume the run from it.
    menu = plot.checkpoint_menu(QPoint(round(x), round(y)))
    assert menu is not None
    texts = [action.text() for action in menu.actions()]
    assert texts == [
        "Best checkpoint at step 15,000",
        "Export this checkpoint...",
        "Resume from this checkpoint...",
    ]
    with qtbot.waitSignal(plot.checkpoint_action) as chosen:
        menu.actions()[2].trigger()
    assert chosen.args == [run, "/r/best.ckpt", "resume"]
    assert plot.checkpoint_menu(QPoint(round(x), round(top.top + 5))) is None


def test_the_tables_selection_drives_the_overlay(
    qtbot: QtBot, manager: TrainingManager, db: Database, dataset_id: int
) -> None:
    first = _run(db, dataset_id, "first", steps=100)
    second = _run(db, dataset_id, "second", offset=1.0, steps=100)
    page = TrainingPage(manager, AppSignals())
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    try:
        page.reload(wait=True)
        qtbot.waitUntil(lambda: page.model.row_of(second) is not None, timeout=60_000)
        page.select_experiment(first)
        qtbot.waitUntil(lambda: page.metrics_plot.experiment_ids == [first], timeout=60_000)
        row = page.proxy.mapFromSource(page.model.index(page.model.row_of(second), 0))
        page.table.selectionModel().select(
            row, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        )
        assert page.metrics_plot.experiment_ids == [first, second]
        plot = page.metrics_plot
        qtbot.waitUntil(lambda: _drawn(plot, "validation", second) > 0, timeout=60_000)
    finally:
        page.cleanup()
