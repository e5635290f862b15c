"""MetricsPlot reads histories from the DB, draws them decimated, and follows new points.

(Panels, overlaid runs, smoothing, marks and hovering: test_metrics_plot_cockpit.py.)"""

from __future__ import annotations

import time

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.gui.metrics_plot import MetricsPlot
from tests.gui.conftest import save_screenshot

pytestmark = pytest.mark.gui


@pytest.fixture
def experiment_id(db: Database, dataset_id: int) -> int:
    return rows.insert_experiment(
        db, name="points", project_id=1, dataset_id=dataset_id, config={}, status="completed"
    )


@pytest.fixture
def plot(qtbot: QtBot, manager: TrainingManager) -> MetricsPlot:
    plot = MetricsPlot(manager)
    qtbot.addWidget(plot)
    plot.resize(700, 500)
    plot.show()
    yield plot
    plot.cleanup()


def _insert(db: Database, experiment_id: int, name: str, steps: range, fn: object) -> None:
    now = time.time()
    rows.insert_points(db, experiment_id, [(name, s, float(fn(s)), now) for s in steps])  # type: ignore[operator]


def _points(plot: MetricsPlot, name: str) -> int:
    line = plot.line(name)
    return 0 if line is None else len(line.get_xdata())


def _settle(qtbot: QtBot, plot: MetricsPlot) -> None:
    """Wait until every frame asked for is rendered and painted (however slow that is)."""
    qtbot.waitUntil(lambda: plot.canvas.settled, timeout=60_000)


@pytest.mark.slow
def test_history_is_drawn_and_grows(
    qtbot: QtBot, plot: MetricsPlot, db: Database, experiment_id: int
) -> None:
    _insert(db, experiment_id, "validation", range(99, 1000, 100), lambda s: 10 / (s + 1))
    _insert(db, experiment_id, "lr", range(49, 1000, 50), lambda s: 1e-3)
    _insert(db, experiment_id, "beta", range(0, 10), lambda s: s)
    plot.show_experiment(experiment_id, "points")
    qtbot.waitUntil(lambda: _points(plot, "validation") == 10, timeout=30_000)
    qtbot.waitUntil(lambda: _points(plot, "lr") == 20, timeout=30_000)
    assert plot.shown_metrics == ["validation"]  # RAVE's default; beta is not drawn
    assert plot.line("validation").axes is plot.panels.panels["reconstruction"]
    assert plot.line("lr").axes is plot.panels.panels["lr"]
    assert [a.text() for a in plot.metrics_menu.actions() if a.isCheckable()] == [
        "validation",  # the menu in panel order: known groups first
        "beta",
    ]

    _insert(db, experiment_id, "validation", range(1099, 2000, 100), lambda s: 10 / (s + 1))
    plot.notify_metrics(experiment_id)
    qtbot.waitUntil(lambda: _points(plot, "validation") == 20, timeout=30_000)

    plot.choose_metrics(["beta", "validation"])
    qtbot.waitUntil(lambda: _points(plot, "beta") == 10, timeout=30_000)
    assert set(plot.shown_metrics) == {"beta", "validation"}
    _settle(qtbot, plot)
    assert plot.canvas.frames > 0


def test_a_long_history_is_decimated_to_the_width(
    qtbot: QtBot, plot: MetricsPlot, db: Database, experiment_id: int
) -> None:
    # (A million points draw the same way; inserting them takes this machine 40 s.)
    values = np.sin(np.arange(50_000) / 300.0)
    values[32_123] = 50.0
    now = time.time()
    rows.insert_points(
        db, experiment_id, [("loss", i, float(v), now) for i, v in enumerate(values)]
    )
    plot.show_experiment(experiment_id, "big")
    qtbot.waitUntil(lambda: _points(plot, "loss") > 0, timeout=60_000)
    line = plot.line("loss")
    width = plot.panels.top.get_window_extent().width
    assert _points(plot, "loss") <= 2 * width + 2
    assert max(line.get_ydata()) == 50.0  # the spike survives
    smoothed = plot.smoothed_line("loss")
    assert smoothed is not None and smoothed.get_visible()  # smoothing is on by default
    assert len(smoothed.get_xdata()) <= 2 * width + 2
    assert plot.status.text() == "50,000 points"


def test_memory_is_bounded_and_a_zoom_reads_its_range_at_full_resolution(
    qtbot: QtBot, plot: MetricsPlot, db: Database, experiment_id: int
) -> None:
    values = np.cos(np.arange(100_000) / 500.0)
    values[60_050] = -9.0  # a dip inside the range zoomed to below
    now = time.time()
    rows.insert_points(
        db, experiment_id, [("loss", i, float(v), now) for i, v in enumerate(values)]
    )
    plot.show_experiment(experiment_id, "long")
    qtbot.waitUntil(lambda: _points(plot, "loss") > 0, timeout=60_000)
    cache = plot._caches[experiment_id]
    assert cache.count("loss") == 100_000
    kept = plot._shown.series[(experiment_id, "loss")][0].size
    assert kept <= 2 * cache.buckets + 2 < 100_000  # a summary, not every point

    plot.show_range(60_000, 60_100)  # far finer than the summary's ranges

    def shown_steps() -> list[float]:
        line = plot.line("loss")
        return [x for x in line.get_xdata() if 60_000 <= x <= 60_100]

    qtbot.waitUntil(lambda: len(shown_steps()) == 101, timeout=30_000)
    line = plot.line("loss")
    drawn = dict(zip(line.get_xdata(), line.get_ydata(), strict=True))
    assert drawn[60_050] == -9.0 and drawn[60_001] == pytest.approx(values[60_001])

    plot.show_range(None)  # home: the whole run, from the summary again
    qtbot.waitUntil(lambda: len(shown_steps()) < 101, timeout=30_000)
    assert min(plot.line("loss").get_ydata()) == -9.0


def test_new_points_inside_the_limits_only_redraw_the_lines(
    qtbot: QtBot, plot: MetricsPlot, db: Database, experiment_id: int
) -> None:
    _insert(db, experiment_id, "loss", range(0, 1000), lambda s: 1 + (s % 10) / 10)
    plot.show_experiment(experiment_id, "live")
    qtbot.waitUntil(lambda: _points(plot, "loss") == 1000, timeout=30_000)
    _settle(qtbot, plot)
    full, frames = plot.canvas.full_frames, plot.canvas.frames
    for start in range(1000, 1060, 20):  # within the room left past the last step
        _insert(db, experiment_id, "loss", range(start, start + 20), lambda s: 1.5)
        plot.notify_metrics(experiment_id)
        qtbot.waitUntil(lambda start=start: _points(plot, "loss") == start + 20, timeout=30_000)
        _settle(qtbot, plot)
    assert plot.canvas.frames > frames
    assert plot.canvas.full_frames == full  # the axes, ticks and texts were reused
    assert plot.line("loss").get_animated()

    _insert(db, experiment_id, "loss", range(1060, 3000), lambda s: 1.5)  # far past the limits
    plot.notify_metrics(experiment_id)
    qtbot.waitUntil(lambda: plot.panels.top.get_xlim()[1] >= 2999, timeout=30_000)
    _settle(qtbot, plot)
    assert plot.canvas.full_frames > full  # new limits: a whole new picture
    assert plot.panels.top.get_xlim()[0] <= 0


def test_sticky_limits() -> None:
    from ravelab.gui.plot_panels import HEADROOM
    from ravelab.gui.plot_panels import sticky as _sticky

    # (current limits, fitted limits, data range)
    assert _sticky((0, 110), (-5, 105), (0, 100), grow=True) == (0, 110)  # still fits: kept
    assert _sticky((0, 110), (-6, 126), (0, 120), grow=True) == (-6, 126 + HEADROOM * 132)
    margin = HEADROOM / 2 * 110
    assert _sticky((0, 1000), (-5, 105), (0, 100)) == (-5 - margin, 105 + margin)  # refit
    # A run that has ended: headroom goes, the limits are the fit.
    assert _sticky((0, 132), (-5, 105), (0, 100), grow=True, room=False) == (-5, 105)
    low, high = _sticky((1e-4, 1e-2), (1e-4, 1e-3), (1e-4, 1e-3), log=True)
    assert low < 1e-4 and 1e-3 < high < 1e-2


def test_an_unselected_plot_says_so(plot: MetricsPlot) -> None:
    texts = [t.get_text() for t in plot.panels.top.texts]
    assert texts == ["Select a run to see its metrics."]
    assert not plot.metrics_button.isEnabled()


def test_phase_boundary_and_checkpoints_are_marked(
    qtbot: QtBot, plot: MetricsPlot, db: Database, experiment_id: int
) -> None:
    from ravelab.db import artifacts
    from ravelab.db.artifacts import CheckpointRecord

    _insert(db, experiment_id, "validation", range(0, 1000, 10), lambda s: 10 / (s + 1))
    _insert(db, experiment_id, "lr", range(0, 1000, 10), lambda s: 1e-3)
    rows.merge_progress(db, experiment_id, {"phase_1_duration": 500})
    artifacts.upsert_checkpoints(
        db, experiment_id, [CheckpointRecord(f"/x/epoch_{s}.ckpt", s, 1, float(s)) for s in (300,)]
    )
    plot.show_experiment(experiment_id, "marked")
    qtbot.waitUntil(lambda: len(plot.phase_lines) == 2, timeout=30_000)
    panels = plot.panels.panels
    assert list(plot.phase_lines[0].get_xdata()) == [500, 500]
    assert {line.axes for line in plot.phase_lines} == {panels["reconstruction"], panels["lr"]}
    qtbot.waitUntil(lambda: "periodic" in plot.checkpoint_marks, timeout=30_000)
    assert list(plot.checkpoint_marks["periodic"].get_xdata()) == [300]
    _settle(qtbot, plot)  # the whole change is applied (the legend comes after the marks)
    legend = panels["reconstruction"].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["validation"]
    save_screenshot(plot.canvas, "metrics_markers.png")

    # A new checkpoint is drawn on the next reload; a phase beyond the data is not.
    artifacts.upsert_checkpoints(
        db, experiment_id, [CheckpointRecord("/x/epoch_900.ckpt", 900, 1, 900.0)]
    )
    rows.merge_progress(db, experiment_id, {"phase_1_duration": 5000})
    plot.notify_metrics(experiment_id)
    qtbot.waitUntil(
        lambda: (
            "periodic" in plot.checkpoint_marks
            and list(plot.checkpoint_marks["periodic"].get_xdata()) == [300, 900]
        ),
        timeout=30_000,
    )
    assert plot.phase_lines == []


def test_reads_are_paced_but_never_more_than_a_second_apart() -> None:
    from ravelab.gui.metrics_plot import MAX_RELOAD_PAUSE_S, MIN_RELOAD_S, reload_pause

    assert reload_pause(0.0) == MIN_RELOAD_S
    assert reload_pause(0.05) == pytest.approx(0.5)  # a read takes a tenth of the time
    assert reload_pause(3.0) == MAX_RELOAD_PAUSE_S  # a slow read: the next within a second


def test_closing_does_not_wait_for_the_next_frame(
    qtbot: QtBot,
    plot: MetricsPlot,
    db: Database,
    experiment_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.gui import threaded_canvas

    _insert(db, experiment_id, "loss", range(0, 100), lambda s: 1.0)
    plot.show_experiment(experiment_id, "closing")
    qtbot.waitUntil(lambda: _points(plot, "loss") == 100, timeout=60_000)
    _settle(qtbot, plot)
    # From the next frame on, an hour between two frames: closing must end the wait, not
    # sit it out.
    monkeypatch.setattr(threaded_canvas, "pause_after", lambda duration: 3600.0)
    frames = plot.canvas.frames
    plot.canvas.request_frame()
    qtbot.waitUntil(lambda: plot.canvas.frames > frames and plot.canvas.settled, timeout=60_000)
    _insert(db, experiment_id, "loss", range(100, 200), lambda s: 2.0)
    plot.notify_metrics(experiment_id)
    qtbot.waitUntil(lambda: plot.status.text() == "200 points", timeout=60_000)
    assert plot.canvas.busy  # the new points wait for the next frame
    plot.cleanup()
    assert not plot.canvas.busy
    assert _points(plot, "loss") == 100
