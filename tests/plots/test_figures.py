"""The training figure draws into a Figure it is given, with the artists expected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ravelab.plots import figures


def _series(count: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(1, count + 1, dtype=float)
    return steps, scale * (0.1 + 2.0 / (1.0 + 0.05 * steps))


def test_render_draws_a_line_per_loss_and_the_learning_rate(tmp_path: Path) -> None:
    figure = Figure(figsize=(8, 5), dpi=100)
    steps, lr = np.arange(49, 100_000, 50, dtype=float), None
    lr = (steps, 1e-3 * (1 - 0.9 * np.minimum(steps, 1e6) / 1e6))
    result = figures.render_training_figure(
        figure,
        {"loss": _series(200_000), "val_loss": _series(20_000, 1.1)},
        lr=lr,
        title="drums",
        buckets=500,
    )

    assert set(result.lines) == {"loss", "val_loss"}
    assert [line.get_label() for line in result.loss.get_lines()] == ["loss", "validation loss"]
    assert result.lines["loss"].axes is result.loss
    assert len(result.lines["loss"].get_xdata()) <= 1000  # decimated to the buckets
    assert result.lr_line is not None and result.lr_line.axes is result.lr
    assert result.lr.get_yscale() == "log"
    legend = result.loss.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == ["loss", "validation loss"]
    assert not [t for t in result.loss.texts if t.get_gid() == figures.EMPTY_GID]
    FigureCanvasAgg(figure)
    figure.savefig(tmp_path / "run.png")
    assert (tmp_path / "run.png").stat().st_size > 1000


def test_an_empty_figure_says_so() -> None:
    figure = Figure()
    result = figures.render_training_figure(figure, {}, None)
    messages = [t.get_text() for t in result.loss.texts if t.get_gid() == figures.EMPTY_GID]
    assert messages == ["No loss points yet"]
    assert [t.get_text() for t in result.lr.texts] == ["No learning-rate points yet"]
    assert result.lines == {} and result.lr_line is None
    assert result.loss.get_legend() is None


def test_series_update_in_place() -> None:
    figure = Figure()
    axes = figures.setup_training_figure(figure)
    line = figures.draw_series(axes.loss, "validation", np.empty(0), np.empty(0))
    assert line.get_gid() == "validation" and line.get_color() == "tab:red"
    figures.update_series(line, np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]))
    figures.autoscale(axes.loss)
    assert list(line.get_xdata()) == [1.0, 2.0, 3.0]
    low, high = axes.loss.get_xlim()
    assert low <= 1.0 and high >= 3.0


def test_a_log_axis_spans_at_least_a_decade() -> None:
    figure = Figure()
    axes = figures.setup_training_figure(figure)
    line = figures.draw_series(
        axes.lr, "lr", np.array([49.0, 99.0]), np.array([9.999e-4, 9.998e-4])
    )
    figures.autoscale(axes.lr)
    low, high = axes.lr.get_ylim()
    assert low <= 1e-4 and high >= 1e-3
    # The data then span two decades: the next fit still follows them.
    figures.update_series(line, np.array([49.0, 99.0, 149.0]), np.array([1e-3, 1e-4, 1e-5]))
    figures.autoscale(axes.lr)
    low, high = axes.lr.get_ylim()
    assert low <= 1e-5 and high >= 1e-3


def test_default_metrics_are_raves_then_the_original_apis() -> None:
    available = ["lr", "val_loss", "validation", "loss", "fullband_spectral_distance", "beta"]
    assert figures.default_loss_metrics(available) == [
        "fullband_spectral_distance",
        "validation",
        "loss",
        "val_loss",
    ]
    assert figures.metric_label("multiband_spectral_distance") == "multi-band spectral distance"
    assert figures.metric_label("some_metric") == "some metric"
    assert figures.metric_colour("beta") == figures.metric_colour("beta")
