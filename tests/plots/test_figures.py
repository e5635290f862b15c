"""What the plots share of drawing: labels, in-place updates, fitted limits, empty states."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure

from ravelab.plots import figures


def test_series_update_in_place() -> None:
    axes = Figure().subplots()
    (line,) = axes.plot([], [])
    figures.update_series(line, np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]))
    figures.autoscale(axes)
    assert list(line.get_xdata()) == [1.0, 2.0, 3.0]
    low, high = axes.get_xlim()
    assert low <= 1.0 and high >= 3.0
    assert figures.axes_width_px(axes) > 1


def test_a_log_axis_spans_at_least_a_decade() -> None:
    axes = Figure().subplots()
    axes.set_yscale("log")
    (line,) = axes.plot([49.0, 99.0], [9.999e-4, 9.998e-4])
    figures.autoscale(axes)
    low, high = axes.get_ylim()
    assert low <= 1e-4 and high >= 1e-3
    # The data then span two decades: the next fit still follows them.
    figures.update_series(line, np.array([49.0, 99.0, 149.0]), np.array([1e-3, 1e-4, 1e-5]))
    figures.autoscale(axes)
    low, high = axes.get_ylim()
    assert low <= 1e-5 and high >= 1e-3


def test_an_empty_state_says_so_and_hides_the_made_up_scale() -> None:
    figure = Figure()
    axes = figure.subplots()
    figures.show_message(axes, "No points yet")
    assert [t.get_text() for t in axes.texts if t.get_gid() == figures.EMPTY_GID] == [
        "No points yet"
    ]
    figures.show_message(axes, None)
    assert len(axes.texts) == 0
    figures.set_title(figure, "drums")
    assert figure.get_suptitle() == "drums"


def test_metric_labels() -> None:
    assert figures.metric_label("multiband_spectral_distance") == "multi-band spectral distance"
    assert figures.metric_label("val_loss") == "validation loss"
    assert figures.metric_label("some_metric") == "some metric"
    assert figures.metric_label("gpu/run_memory_mib") == "the run's GPU memory (MiB)"
