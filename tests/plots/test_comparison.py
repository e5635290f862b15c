"""The overlaid metric figure behind `ravelab plot`."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from ravelab.plots.comparison import RunSeries, render_metric_comparison


def _run(label: str, n: int = 10_000, phase: int | None = 5000) -> RunSeries:
    steps = np.arange(n, dtype=np.float64)
    values = np.sin(steps / 300) + 2
    values[1234] = 50.0  # a spike decimation must keep
    return RunSeries(
        label,
        steps,
        values,
        wall_times=1000.0 + steps * 0.5,
        phase_1_duration=phase,
        checkpoint_steps=[2000, 4000],
    )


def test_two_runs_overlaid_with_markers_and_legend() -> None:
    figure = Figure(figsize=(8, 4), dpi=100)
    axes = render_metric_comparison(
        figure,
        [_run("1 a"), _run("2 b", phase=None)],
        metric="validation",
        smoothing=0.6,
        width_px=400,
    )
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert labels[:2] == ["1 a", "2 b"]
    assert "phase 2 starts" in labels and "checkpoint" in labels
    assert len([line for line in axes.lines if line.get_gid() == "phase-boundary"]) == 1
    assert len([line for line in axes.lines if line.get_gid() == "checkpoints"]) == 2
    raw = [line for line in axes.lines if line.get_gid() == "raw"]
    assert len(raw) == 2 and max(raw[0].get_ydata()) == 50.0  # the spike survives
    assert all(len(line.get_xdata()) <= 800 for line in axes.lines)


def test_wall_time_axis_and_log_scale() -> None:
    figure = Figure(figsize=(8, 4), dpi=100)
    axes = render_metric_comparison(
        figure, [_run("1 a")], metric="validation", x_axis="time", log_scale=True
    )
    assert axes.get_yscale() == "log"
    assert axes.get_xlabel() == "hours since the first point"
    (boundary,) = [line for line in axes.lines if line.get_gid() == "phase-boundary"]
    assert boundary.get_xdata()[0] == pytest.approx(5000 * 0.5 / 3600)
    with pytest.raises(ValueError, match="x axis 'epoch'"):
        render_metric_comparison(Figure(), [_run("x")], metric="m", x_axis="epoch")
