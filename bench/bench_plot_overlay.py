"""Benchmark: ten long runs overlaid in one live plot, panned and zoomed by a script.

Not a test: a script that prints figures, to choose the live plot's renderer on them.
It builds ``--runs`` (10) series of ``--points`` (1,000,000) loss-like points each
(a decaying curve with noise bands and a few spikes), keeps each as the app does (a
``MinMaxSummary``, unless ``--raw``), draws them overlaid with one renderer, then for
``--seconds`` (10) pans and zooms the view every 30 ms (zoom from the whole run down to
1 % of it around a moving centre, then out again) while it measures:

* the gaps between the ticks of a 10 ms precise QTimer: the longest one is the longest
  time the event loop stalled (the goal: never above 50 ms);
* the process's RSS at the start, once the series are drawn, and at the end (the goal:
  flat while panning);
* how many frames were painted, so that a responsive but frozen plot cannot pass.

Renderers (``--renderer``):

* ``matplotlib``: the app's ``ThreadedCanvas`` (Agg in a worker thread, blitting, each
  series min-max decimated to the axes' width for the view before every frame);
* ``pyqtgraph``: a ``pyqtgraph.PlotWidget`` drawn in the GUI thread with its own peak
  downsampling and clip-to-view.

Usage::

    .venv/bin/python bench/bench_plot_overlay.py --renderer pyqtgraph
    .venv/bin/python bench/bench_plot_overlay.py --renderer matplotlib --seconds 20
    .venv/bin/python bench/bench_plot_overlay.py --renderer pyqtgraph --raw  # every point
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import psutil
from PySide6.QtCore import QElapsedTimer, QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from ravelab.gui.interpreter import freeze_startup_heap, tune_interpreter
from ravelab.plots.summary import MinMaxSummary

TICK_MS = 10
STEP_MS = 30
STALL_LIMIT_MS = 50
DOWNSAMPLE_FACTOR = float(os.environ.get("BENCH_DOWNSAMPLE_FACTOR", "1"))

Series = tuple[np.ndarray, np.ndarray]


def _mib(value: int) -> str:
    return f"{value / 2**20:,.1f} MiB"


def make_runs(runs: int, points: int, raw: bool) -> list[Series]:
    """Loss-like series: a decay, noise bands a few units thick, rare spikes."""
    rng = np.random.default_rng(7)
    steps = np.arange(points, dtype=np.float64)
    made = []
    for run in range(runs):
        values = 20 * np.exp(-steps / (points / 4)) + 3 + run * 0.3
        values += rng.normal(0, 1.0, points)
        values[rng.integers(0, points, 20)] += 25
        if raw:
            made.append((steps, values))
        else:
            summary = MinMaxSummary()
            summary.extend(steps, values)
            made.append(summary.points())
    return made


class _Painted(QObject):
    """Counts paint events of a widget."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def matplotlib_view(series: list[Series]) -> tuple[QWidget, Callable[[float, float], None], Any]:
    from matplotlib.figure import Figure

    from ravelab.gui.threaded_canvas import ThreadedCanvas
    from ravelab.plots.decimate import minmax_decimate, visible_slice

    figure = Figure(figsize=(12, 7), dpi=100)
    axes = figure.subplots()
    lines = [axes.plot([], [], lw=1.0)[0] for _ in series]
    for line in lines:
        line.set_animated(True)
    canvas = ThreadedCanvas(figure)
    view = [float(series[0][0][0]), float(series[0][0][-1])]
    axes.set_xlim(*view)
    axes.set_ylim(0, 50)

    def prepare() -> None:
        width = max(100, int(axes.bbox.width))
        for line, (x, y) in zip(lines, series, strict=True):
            part = visible_slice(x, view[0], view[1])
            line.set_data(*minmax_decimate(x[part], y[part], width))

    canvas.before_render = prepare
    canvas.background_key = lambda: (axes.get_xlim(), axes.get_ylim())
    canvas.animated_artists = lambda: list(lines)

    def set_view(low: float, high: float) -> None:
        view[:] = [low, high]
        canvas.submit(lambda: axes.set_xlim(low, high))

    return canvas, set_view, canvas


def pyqtgraph_view(series: list[Series]) -> tuple[QWidget, Callable[[float, float], None], Any]:
    try:
        import pyqtgraph as pg
    except ImportError:
        sys.exit("--renderer pyqtgraph needs pyqtgraph: pip install pyqtgraph")

    widget = pg.PlotWidget()
    item = widget.getPlotItem()
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)
    item.showGrid(x=True, y=True, alpha=0.3)
    for index, (x, y) in enumerate(series):
        curve = widget.plot(x, y, pen=pg.mkPen(pg.intColor(index, len(series)), width=1))
        # pyqtgraph keeps 5 samples a pixel column by default; the peak mode's strokes
        # already show every spike at one a column, for a fifth of the painting.
        curve.opts["autoDownsampleFactor"] = DOWNSAMPLE_FACTOR
    widget.setYRange(0, 50)

    def set_view(low: float, high: float) -> None:
        widget.setXRange(low, high, padding=0)

    return widget, set_view, widget.viewport()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renderer", choices=("matplotlib", "pyqtgraph"), required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--raw", action="store_true", help="draw every point, no summaries")
    args = parser.parse_args()

    tune_interpreter()  # as the app does
    app = QApplication.instance() or QApplication([sys.argv[0]])
    process = psutil.Process()
    rss_start = process.memory_info().rss
    made = time.monotonic()
    series = make_runs(args.runs, args.points, args.raw)
    made = time.monotonic() - made
    build = matplotlib_view if args.renderer == "matplotlib" else pyqtgraph_view
    shown = time.monotonic()
    widget, set_view, painted_widget = build(series)
    widget.resize(1200, 700)
    widget.show()
    painted = _Painted(painted_widget)
    deadline = time.monotonic() + 5
    while painted.count == 0 and time.monotonic() < deadline:
        app.processEvents()
    shown = time.monotonic() - shown
    freeze_startup_heap()
    rss_drawn = process.memory_info().rss

    gaps: list[float] = []
    clock = QElapsedTimer()
    last = [0]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    first, last_step = float(series[0][0][0]), float(series[0][0][-1])
    span = last_step - first
    moves = [0]

    def move() -> None:
        # A zoom in and out over 120 moves (x100 to x1 of the span), the centre sweeping.
        phase = moves[0] % 120
        zoom = 100 ** (1 - abs(phase - 60) / 60)
        width = span / zoom
        centre = first + span * (0.5 + 0.45 * np.sin(moves[0] / 37))
        low = max(first, centre - width / 2)
        set_view(low, min(last_step, low + width))
        moves[0] += 1

    mover = QTimer()
    mover.setInterval(STEP_MS)
    mover.timeout.connect(move)
    samples: list[int] = []
    sampler = QTimer()
    sampler.setInterval(1000)
    sampler.timeout.connect(lambda: samples.append(process.memory_info().rss))
    painted.count = 0
    clock.start()
    timer.start()
    mover.start()
    sampler.start()
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.002)
    for running in (timer, mover, sampler):
        running.stop()
    rss_end = process.memory_info().rss
    gaps.sort()
    worst = gaps[-1]
    p99 = gaps[int(len(gaps) * 0.99)]
    points = sum(x.size for x, _ in series)
    print(f"plot overlay: {args.renderer}, {args.runs} runs x {args.points:,} points")
    print(f"  machine               {os.cpu_count()} CPUs, {QApplication.platformName()}")
    print(f"  series kept           {points:,} points ({'raw' if args.raw else 'summaries'})")
    print(f"  made / first paint    {made:.1f} s / {shown:.2f} s")
    print(f"  view moves            {moves[0]} (every {STEP_MS} ms)")
    print(f"  frames painted        {painted.count}")
    print(f"  max gap               {worst:.1f} ms   (goal: <= {STALL_LIMIT_MS} ms)")
    print(f"  p99 / median gap      {p99:.1f} ms / {statistics.median(gaps):.1f} ms")
    print(f"  gaps over {STALL_LIMIT_MS} ms       {sum(1 for g in gaps if g > STALL_LIMIT_MS)}")
    print(f"  RSS start/drawn/end   {_mib(rss_start)} / {_mib(rss_drawn)} / {_mib(rss_end)}")
    if samples:
        print(f"  RSS min / max (1 s)   {_mib(min(samples))} / {_mib(max(samples))}")
    cleanup = getattr(widget, "cleanup", None)
    if cleanup is not None:
        cleanup()
    return 0 if worst <= STALL_LIMIT_MS else 2


if __name__ == "__main__":
    sys.exit(main())
