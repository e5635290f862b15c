"""``MetricsPlot``: the original API's metrics widget: losses and the learning rate of one run.

History comes from the database (``TrainingManager.get_metric_history``), so the plot is
complete after a restart; while the run trains, each ``notify_metrics`` reads it again in
a worker thread (``metric_series.SeriesCache``: only the new points where the core
allows it), throttled to how long a read takes, at most 10 a second and at least one a
second while points keep coming (``reload_pause``), so the plot lags the run by at most
a second or two (with the canvas's own pause) however slow the machine. Each history is
held as a bounded min-max summary (``ravelab.plots.summary``), so memory stays flat
however long the run; when the user zooms in further than the summary resolves, the
visible range is read again at full resolution (``SeriesCache.detail``). The figure code
is ``ravelab.plots.figures``; the series are thinned with
``ravelab.plots.decimate.minmax_decimate`` to the axes' width in pixels (to the visible
range once the user zooms), so a million points draw like two thousand. Changing and
rendering the figure happen in ``ThreadedCanvas``'s worker: the GUI thread only paints
finished frames.

Both plots mark RAVE's phase boundary (a dashed line at the run's ``phase_1_duration``
when the data reach it) and the loss plot marks each checkpoint (small triangles at the
bottom, from ``run_queries.list_checkpoints``); both are read with every reload.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import MouseEvent
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.runs import run_queries
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.gui.metric_series import SeriesCache
from ravelab.gui.style import HINT_STYLE, TITLE_STYLE
from ravelab.gui.threaded_canvas import LockingToolbar, ThreadedCanvas
from ravelab.gui.workers import TaskRunner
from ravelab.plots import figures
from ravelab.plots.decimate import FloatArray, minmax_decimate, visible_slice

logger = logging.getLogger(__name__)

#: Shortest time between two reads of a run's history.
MIN_RELOAD_S = 0.1
#: A read may take at most this share of the time (a big history is read less often): it
#: shares the interpreter lock with the GUI thread...
RELOAD_DUTY = 0.1
#: ...but the wait after a read never exceeds this: a slow first read (a long history, a
#: loaded machine) must not hold the next one back for many seconds.
MAX_RELOAD_PAUSE_S = 1.0


def reload_pause(seconds: float) -> float:
    """Seconds to wait after a read that took ``seconds`` before the next one."""
    return max(MIN_RELOAD_S, min(max(0.0, seconds) / RELOAD_DUTY, MAX_RELOAD_PAUSE_S))


#: A zoomed view is read again at full resolution when it spans fewer summary ranges
#: than this many per pixel column.
DETAIL_RANGES_PER_PIXEL = 2
#: Share of the view's width read on each side of it with a detail (small pans need no
#: new read).
DETAIL_MARGIN = 0.25

_EMPTY: FloatArray = np.empty(0, dtype=np.float64)


@dataclass
class _Loaded:
    """What a worker read for one run."""

    experiment_id: int
    available: list[str]
    losses: dict[str, tuple[FloatArray, FloatArray]]
    lr: tuple[FloatArray, FloatArray] | None
    seconds: float
    points: int = 0
    phase_1_duration: int | None = None
    checkpoint_steps: tuple[int, ...] = ()
    step_width: float = 1.0
    live: bool = False


@dataclass
class _Shown:
    """The figure's data, as summaries (touched under the canvas's figure lock)."""

    losses: dict[str, tuple[FloatArray, FloatArray]] = field(default_factory=dict)
    lr: tuple[FloatArray, FloatArray] | None = None
    version: int = 0
    step_width: float = 1.0  # steps per summary range
    live: bool = False  # the run still adds points: leave room for them


@dataclass(frozen=True)
class _Detail:
    """A range of the shown series at full resolution, for a zoomed view."""

    experiment_id: int
    first: float
    last: float
    losses: dict[str, tuple[FloatArray, FloatArray]]
    lr: tuple[FloatArray, FloatArray] | None
    stale: bool = False  # new points arrived inside it: still shown, read again
    serial: int = 0  # which read this is (frames redraw when it changes)

    def covers(self, view: tuple[float, float], names: Iterable[str]) -> bool:
        return self.first <= view[0] and view[1] <= self.last and set(self.losses) == set(names)


def _read_markers(db: Database, experiment_id: int) -> tuple[int | None, tuple[int, ...], bool]:
    """A run's phase-1 length (from its progress), its checkpoints' steps, and whether it
    is still going."""
    record = run_queries.get_experiment(db, experiment_id)
    phase = record.progress.phase_1_duration if record is not None else None
    live = record is not None and record.ended_at is None
    steps = {c.step for c in run_queries.list_checkpoints(db, experiment_id) if c.step is not None}
    return phase, tuple(sorted(steps)), live


def _step_range(loaded: _Loaded) -> tuple[float, float] | None:
    arrays = [x for x, _ in loaded.losses.values() if x.size]
    if loaded.lr is not None and loaded.lr[0].size:
        arrays.append(loaded.lr[0])
    if not arrays:
        return None
    return min(float(x[0]) for x in arrays), max(float(x[-1]) for x in arrays)


def _animated(line: Line2D) -> Line2D:
    """Mark a line as drawn over the saved background at every frame (blitting)."""
    line.set_animated(True)
    return line


#: While following a run, limits move only when the data leave them or fill less than
#: 1 / STICKY_SLACK of them; then they are fitted again with HEADROOM to spare on the side
#: the steps grow towards. Unchanged limits let most frames reuse the saved background.
STICKY_SLACK = 1.3
HEADROOM = 0.25


def _follow_limits(loss: Axes, lr: Axes, room: bool = True) -> None:
    """Fit the limits of the two axes (which share x) to their data, keeping the current
    ones while they still fit (``room``: leave room for the points still to come)."""
    old = {axes: (axes.get_xlim(), axes.get_ylim()) for axes in (loss, lr)}
    for axes in (loss, lr):
        figures.autoscale(axes)  # relim + autoscale_view: dataLim is current now
    steps = [v for axes in (loss, lr) for v in axes.dataLim.intervalx if np.isfinite(v)]
    if steps:
        # auto=None: setting limits must not switch autoscaling off for the next fit.
        x_data = (min(steps), max(steps))
        x_fit = loss.get_xlim()
        loss.set_xlim(*_sticky(old[loss][0], x_fit, x_data, grow=True, room=room), auto=None)
    for axes in (loss, lr):
        y_data = tuple(axes.dataLim.intervaly)
        log = axes.get_yscale() == "log"
        y_fit = axes.get_ylim()
        axes.set_ylim(*_sticky(old[axes][1], y_fit, y_data, log=log, room=room), auto=None)


def _sticky(
    old: tuple[float, float],
    fit: tuple[float, float],
    data: tuple[float, float],
    grow: bool = False,
    log: bool = False,
    room: bool = True,
) -> tuple[float, float]:
    """``old`` while it contains ``data`` without being much wider than ``fit`` (the fitted
    limits), else ``fit`` (with room to grow, towards larger values when ``grow``)."""
    values = (*old, *fit, *data)
    if not all(np.isfinite(v) for v in values) or (log and min(values) <= 0):
        return fit
    scale: Any = np.log10 if log else float
    o0, o1, f0, f1, d0, d1 = (float(scale(v)) for v in values)
    span = f1 - f0
    if span <= 0:
        return fit
    # Without room (a run that has ended) the limits are the fit: headroom left from while
    # it was live goes at the next frame.
    slack = STICKY_SLACK if room else 1 + 1e-9
    if o0 <= d0 and d1 <= o1 and o1 - o0 <= slack * span:
        chosen = (o0, o1)
    elif not room:
        return fit
    elif grow:
        chosen = (f0, f1 + HEADROOM * span)
    else:
        chosen = (f0 - HEADROOM / 2 * span, f1 + HEADROOM / 2 * span)
    if log:
        return float(10 ** chosen[0]), float(10 ** chosen[1])
    return chosen


class MetricsPlot(QWidget):
    """Loss and learning-rate plots of one run, with a navigation toolbar.

    Args:
        manager: reads metric histories (and the metric names of a run from its DB).
        parent: the parent widget.

    Signals:
        data_loaded(int): a run's history was read and handed to the figure (its id).
    """

    data_loaded = Signal(int)
    _detail_wanted = Signal(float, float)  # canvas worker -> GUI thread (queued): a view

    def __init__(self, manager: TrainingManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self._runner = TaskRunner(self)
        self._experiment_id: int | None = None
        self._generation = 0
        self._in_flight = False
        self._pending = False
        self._next_load_at = 0.0
        self._chosen: list[str] | None = None  # the user's pick; None: the defaults
        self._cache: SeriesCache | None = None  # the shown run's; grown by the worker
        self._available: list[str] = []
        self._shown = _Shown()
        self._detail: _Detail | None = None  # replaced whole by the GUI thread
        self._detail_in_flight = False
        self._detail_pending: tuple[float, float] | None = None
        self._detail_serial = 0
        self._detail_wanted.connect(self._load_detail, Qt.ConnectionType.QueuedConnection)
        self._following = True
        self._frame_key: tuple[Any, ...] | None = None
        #: The phase-boundary lines (loss and lr axes) and the checkpoint markers drawn.
        self.phase_lines: list[Line2D] = []
        self.checkpoint_markers: Line2D | None = None
        self._markers_key: tuple[Any, ...] | None = None
        #: What the figure shows besides the lines (messages, step labels, line names) and
        #: a counter bumped when it changes: part of the canvas's background key.
        self._decor: tuple[Any, ...] | None = None
        self._decor_version = 0
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.timeout.connect(self._load)

        # No layout engine on the figure: the canvas runs one when needed (see
        # ThreadedCanvas.request_layout), not at every frame.
        self.figure = Figure(figsize=(5, 4), dpi=100)
        self.axes = figures.setup_training_figure(self.figure)
        figures.show_message(self.axes.loss, "Select a run to see its metrics.")
        figures.show_message(self.axes.lr, None)
        figures.show_steps(self.axes, False)
        self.canvas = ThreadedCanvas(self.figure)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.canvas.setMinimumSize(240, 200)
        self.canvas.before_render = self._prepare_frame
        self.canvas.background_key = self._background_key
        self.canvas.animated_artists = self._animated_artists
        self.toolbar = LockingToolbar(self.canvas, self)
        self.toolbar.home_requested.connect(self._on_toolbar_home)
        self.canvas.mpl_connect("button_release_event", self._on_canvas_release)

        self.metrics_button = QToolButton()
        self.metrics_button.setText("Metrics")
        self.metrics_button.setToolTip("Choose the metrics on the loss plot")
        self.metrics_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.metrics_menu = QMenu(self.metrics_button)
        self.metrics_button.setMenu(self.metrics_menu)
        self.log_scale = QCheckBox("Log scale")
        self.log_scale.setToolTip("Show the losses on a logarithmic scale")
        self.log_scale.toggled.connect(self._on_log_scale)
        self.status = QLabel()
        self.status.setStyleSheet(HINT_STYLE)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Metrics")
        title.setStyleSheet(TITLE_STYLE)
        controls.addWidget(title)
        controls.addWidget(self.status, 1)
        controls.addWidget(self.metrics_button)
        controls.addWidget(self.log_scale)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, 1)
        self._rebuild_menu()
        self.canvas.request_frame()

    # -- what is shown -------------------------------------------------------------------------

    @property
    def experiment_id(self) -> int | None:
        """The run shown, or None."""
        return self._experiment_id

    @property
    def shown_metrics(self) -> list[str]:
        """The loss metrics drawn now."""
        return list(self._shown.losses)

    def line(self, name: str) -> Line2D | None:
        """The Line2D of a metric (``lr`` for the learning rate), or None."""
        if name == figures.LR_METRIC:
            return self.axes.lr_line
        return self.axes.lines.get(name)

    def show_experiment(self, experiment_id: int | None, title: str | None = None) -> None:
        """Show a run's metrics (read in the background), or nothing for None."""
        if experiment_id == self._experiment_id:
            return
        self._generation += 1
        self._experiment_id = experiment_id
        self._available = []
        self._pending = False
        self._next_load_at = 0.0
        self._reload_timer.stop()
        self._following = True
        self.toolbar.update()  # forget the previous run's zoom history
        message = "Loading..." if experiment_id is not None else "Select a run to see its metrics."
        self.canvas.submit(lambda: self._clear(title, message))
        self.status.setText("")
        self._rebuild_menu()
        if experiment_id is not None:
            self._load()

    def show_range(self, first: float | None, last: float | None = None) -> None:
        """Show steps ``first`` to ``last`` (read at full resolution if the summaries are
        too coarse for them), or follow the whole run again with ``None``."""
        if first is None or last is None:
            self._on_toolbar_home()
            return
        self._following = False

        def change() -> None:
            self.axes.loss.set_xlim(first, last)

        self.canvas.submit(change)

    def notify_metrics(self, experiment_id: int) -> None:
        """A run has new metric points: re-read them if it is the one shown."""
        if experiment_id == self._experiment_id:
            self._load()

    def choose_metrics(self, names: Sequence[str] | None) -> None:
        """Draw these loss metrics (None: the defaults) and re-read."""
        self._chosen = list(names) if names is not None else None
        self._next_load_at = 0.0
        self._load()

    # -- reading (worker) ----------------------------------------------------------------------

    def _load(self) -> None:
        experiment_id = self._experiment_id
        if experiment_id is None:
            return
        if self._in_flight:
            self._pending = True
            return
        wait = self._next_load_at - time.monotonic()
        if wait > 0:
            if not self._reload_timer.isActive():
                self._reload_timer.start(int(wait * 1000) + 1)
            return
        self._in_flight = True
        generation = self._generation
        chosen = None if self._chosen is None else list(self._chosen)
        db = self.manager.db
        cache = self._cache
        if cache is None or cache.experiment_id != experiment_id:
            cache = self._cache = SeriesCache(
                self.manager.get_metric_history,
                experiment_id,
                get_columns=self.manager.get_metric_columns,
            )

        def work() -> _Loaded:
            started = time.monotonic()
            available = run_queries.metric_names(db, experiment_id)
            losses_available = [name for name in available if name not in figures.NOT_LOSSES]
            if chosen is None:
                names = figures.default_loss_metrics(available)
            else:
                names = [name for name in chosen if name in losses_available]
            with_lr = [*names, figures.LR_METRIC] if figures.LR_METRIC in available else names
            series = cache.refresh(with_lr)
            lr = series.pop(figures.LR_METRIC, None)
            points = sum(cache.count(name) for name in with_lr)
            phase, checkpoints, live = _read_markers(db, experiment_id)
            return _Loaded(
                experiment_id,
                losses_available,
                series,
                lr,
                time.monotonic() - started,
                points,
                phase,
                checkpoints,
                cache.step_width(with_lr),
                live,
            )

        self._runner.submit(
            work,
            lambda loaded: self._on_loaded(generation, loaded),
            lambda error: self._on_load_failed(generation, error),
        )

    def _on_loaded(self, generation: int, loaded: _Loaded) -> None:
        self._in_flight = False
        if generation == self._generation:
            self._next_load_at = time.monotonic() + reload_pause(loaded.seconds)
            detail, steps = self._detail, _step_range(loaded)
            if detail is not None and steps is not None and steps[1] <= detail.last:
                # New points inside the zoomed range: keep showing it, read it again.
                self._detail = dataclasses.replace(detail, stale=True)
            if loaded.available != self._available:
                self._available = loaded.available
                self._rebuild_menu()
            self.canvas.submit(lambda: self._apply(loaded))
            self.status.setText(self._status_text(loaded))
            self.data_loaded.emit(loaded.experiment_id)
        self._after_load()

    def _on_load_failed(self, generation: int, error: BaseException) -> None:
        self._in_flight = False
        if generation == self._generation:
            logger.error("reading metrics failed: %s", error)
            self.status.setText(f"Metrics cannot be read: {error}")
        self._after_load()

    def _after_load(self) -> None:
        if self._pending:
            self._pending = False
            self._load()

    @staticmethod
    def _status_text(loaded: _Loaded) -> str:
        if not loaded.points:
            return "no points yet"
        return f"{loaded.points:,} points"

    # -- changing the figure (canvas worker, figure lock held) ---------------------------------

    def _clear(self, title: str | None, message: str) -> None:
        axes = self.axes
        for line in list(axes.lines.values()):
            line.remove()
        axes.lines.clear()
        if axes.lr_line is not None:
            axes.lr_line.remove()
            axes.lr_line = None
        self._shown = _Shown(version=self._shown.version + 1)
        self._detail = None
        self._decor = None
        self._decor_version += 1
        self._draw_markers(None, ())
        figures.set_title(self.figure, title)
        figures.show_message(axes.loss, message)
        figures.show_message(axes.lr, None)
        figures.show_steps(axes, False)
        figures.update_legend(axes.loss)
        self._frame_key = None
        self.canvas.request_layout()

    def _apply(self, loaded: _Loaded) -> None:
        if loaded.experiment_id != self._experiment_id:
            return
        axes = self.axes
        names_changed = set(loaded.losses) != set(axes.lines)
        for name in [name for name in axes.lines if name not in loaded.losses]:
            axes.lines.pop(name).remove()
        for name in loaded.losses:
            if name not in axes.lines:
                axes.lines[name] = _animated(figures.draw_series(axes.loss, name, _EMPTY, _EMPTY))
        if loaded.lr is not None and axes.lr_line is None:
            axes.lr_line = _animated(
                figures.draw_series(axes.lr, figures.LR_METRIC, _EMPTY, _EMPTY)
            )
        self._shown = _Shown(
            dict(loaded.losses), loaded.lr, self._shown.version + 1, loaded.step_width, loaded.live
        )
        has_losses = any(x.size for x, _ in loaded.losses.values())
        has_lr = loaded.lr is not None and loaded.lr[0].size > 0
        if has_losses:
            loss_message = None
        elif loaded.losses or not loaded.available:
            loss_message = "No loss points yet"
        else:
            loss_message = "Choose metrics to plot (Metrics menu)"
        lr_message = None if has_lr else "No learning-rate points yet"
        decor = (loss_message, lr_message, has_losses or has_lr, tuple(axes.lines))
        if decor != self._decor:
            self._decor = decor
            self._decor_version += 1
            figures.show_message(axes.loss, loss_message)
            figures.show_message(axes.lr, lr_message)
            figures.show_steps(axes, has_losses or has_lr)
        self._draw_markers(loaded.phase_1_duration, loaded.checkpoint_steps, _step_range(loaded))
        if names_changed:
            figures.update_legend(axes.loss)
            self.canvas.request_layout()

    def _background_key(self) -> tuple[Any, ...]:
        """Everything the picture depends on but the lines' data (canvas worker)."""
        return (
            self._decor_version,
            self._markers_key,
            tuple(
                (ax.get_xlim(), ax.get_ylim(), ax.get_yscale(), ax.get_position().bounds)
                for ax in (self.axes.loss, self.axes.lr)
            ),
        )

    def _animated_artists(self) -> list[Artist]:
        lines: list[Artist] = list(self.axes.lines.values())
        if self.axes.lr_line is not None:
            lines.append(self.axes.lr_line)
        return lines

    def _draw_markers(
        self,
        phase: int | None,
        checkpoints: tuple[int, ...],
        steps: tuple[float, float] | None = None,
    ) -> None:
        """Draw the phase boundary and checkpoint markers within ``steps`` (redrawn only
        when they change)."""
        if steps is None:
            phase, checkpoints = None, ()
        else:
            low, high = steps
            phase = phase if phase is not None and low <= phase <= high else None
            checkpoints = tuple(s for s in checkpoints if low <= s <= high)
        key = (phase, checkpoints)
        if key == self._markers_key:
            return
        self._markers_key = key
        for line in self.phase_lines:
            line.remove()
        self.phase_lines = []
        if self.checkpoint_markers is not None:
            self.checkpoint_markers.remove()
            self.checkpoint_markers = None
        axes = self.axes
        if phase is not None:
            self.phase_lines = [
                ax.axvline(phase, color="0.35", linestyle="--", linewidth=0.9, alpha=0.8)
                for ax in (axes.loss, axes.lr)
            ]
            self.phase_lines[0].set_label("_phase 2 starts")
        if checkpoints:
            (self.checkpoint_markers,) = axes.loss.plot(
                list(checkpoints),
                [0.03] * len(checkpoints),
                linestyle="none",
                marker="^",
                markersize=6,
                color="0.35",
                clip_on=False,
                transform=axes.loss.get_xaxis_transform(),
                label="_checkpoints",
                zorder=3,
            )

    def _prepare_frame(self) -> None:
        """Decimate the series for the view about to be rendered (before every frame)."""
        axes = self.axes
        width = figures.axes_width_px(axes.loss)
        view: tuple[float, float] | None = None
        if not self._following:
            left, right = axes.loss.get_xlim()
            view = (float(left), float(right))
        shown = self._shown
        losses, lr = shown.losses, shown.lr
        detail = self._detail
        source = -1  # the summaries; else the serial number of the detail drawn
        if (
            view is not None
            and detail is not None
            and detail.experiment_id == self._experiment_id
            and detail.covers(view, losses)
        ):
            losses, lr = detail.losses, detail.lr if lr is not None else None
            source = detail.serial
            if detail.stale:
                self._detail_wanted.emit(view[0], view[1])
        elif view is not None and (view[1] - view[0]) / shown.step_width < (
            DETAIL_RANGES_PER_PIXEL * width
        ):
            # Zoomed in further than the summaries resolve: read the view again.
            self._detail_wanted.emit(view[0], view[1])
        key = (shown.version, width, view, axes.loss.get_yscale(), source)
        if key == self._frame_key:
            return
        series: list[tuple[Line2D, tuple[FloatArray, FloatArray]]] = [
            (axes.lines[name], data) for name, data in losses.items() if name in axes.lines
        ]
        if axes.lr_line is not None and lr is not None:
            series.append((axes.lr_line, lr))
        for line, (x, y) in series:
            if view is not None and x.size:
                part = visible_slice(x, view[0], view[1])
                x, y = x[part], y[part]
            dx, dy = minmax_decimate(x, y, width)
            figures.update_series(line, dx, dy)
        if self._following:
            _follow_limits(axes.loss, axes.lr, room=self._shown.live)
        self._frame_key = key

    # -- zoomed views (GUI thread, read in the worker) -----------------------------------------

    def _load_detail(self, low: float, high: float) -> None:
        """Read the series around ``[low, high]`` at full resolution (a zoomed view)."""
        detail = self._detail
        names = list(self._shown.losses)
        if detail is not None and not detail.stale and detail.covers((low, high), names):
            return
        if self._detail_in_flight:
            self._detail_pending = (low, high)
            return
        experiment_id, cache = self._experiment_id, self._cache
        if experiment_id is None or cache is None or not cache.ranged:
            return
        self._detail_in_flight = True
        margin = (high - low) * DETAIL_MARGIN
        first, last = low - margin, high + margin
        with_lr = self._shown.lr is not None
        generation = self._generation

        self._detail_serial += 1
        serial = self._detail_serial

        def work() -> _Detail:
            return _Detail(
                experiment_id,
                first,
                last,
                {name: cache.detail(name, first, last) for name in names},
                cache.detail(figures.LR_METRIC, first, last) if with_lr else None,
                serial=serial,
            )

        def done(found: _Detail) -> None:
            self._detail_in_flight = False
            if generation == self._generation:
                self._detail = found
                self.canvas.request_frame()
            self._next_detail()

        def failed(error: BaseException) -> None:
            self._detail_in_flight = False
            logger.error("reading a zoomed range failed: %s", error)
            self._next_detail()

        self._runner.submit(work, done, failed)

    def _next_detail(self) -> None:
        pending, self._detail_pending = self._detail_pending, None
        if pending is not None:
            self._load_detail(*pending)

    # -- user actions (GUI thread) -------------------------------------------------------------

    def _on_canvas_release(self, event: MouseEvent) -> None:
        # A pan or zoom by the user: stop rescaling to new data until Home.
        if self.toolbar.mode.name != "NONE":
            self._following = False
            self.canvas.request_frame()

    def _on_toolbar_home(self) -> None:
        self._following = True
        self._detail = None
        self._frame_key = None
        self.canvas.request_frame()

    def _on_log_scale(self, checked: bool) -> None:
        scale = "log" if checked else "linear"

        def change() -> None:
            self.axes.loss.set_yscale(scale)
            self._frame_key = None
            self._decor_version += 1
            self.canvas.request_layout()

        self.canvas.submit(change)

    def _rebuild_menu(self) -> None:
        self.metrics_menu.clear()
        shown = (
            set(figures.default_loss_metrics(self._available))
            if self._chosen is None
            else set(self._chosen)
        )
        if not self._available:
            placeholder = self.metrics_menu.addAction("No metrics recorded yet")
            placeholder.setEnabled(False)
        for name in self._available:
            action = QAction(figures.metric_label(name), self.metrics_menu)
            action.setCheckable(True)
            action.setChecked(name in shown)
            action.setData(name)
            action.toggled.connect(self._on_metric_toggled)
            self.metrics_menu.addAction(action)
        if self._available:
            self.metrics_menu.addSeparator()
            reset = self.metrics_menu.addAction("Default metrics")
            reset.triggered.connect(lambda: self._reset_choice())
        self.metrics_button.setEnabled(self._experiment_id is not None)

    def _reset_choice(self) -> None:
        self.choose_metrics(None)
        self._rebuild_menu()

    def _on_metric_toggled(self, _checked: bool) -> None:
        names = [
            str(action.data())
            for action in self.metrics_menu.actions()
            if action.isCheckable() and action.isChecked()
        ]
        self.choose_metrics(names)

    def cleanup(self) -> None:
        """Stop reading and rendering (the widget is going away): waits for a frame or a
        read in progress, never for the pause between two."""
        self._reload_timer.stop()
        self.canvas.cleanup()
        self._runner.shutdown()
