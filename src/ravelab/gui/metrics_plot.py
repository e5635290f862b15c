"""``MetricsPlot``: a training cockpit: the metrics of one run, or of several overlaid.

One panel per metric group (``ravelab.core.metric_groups``: reconstruction,
adversarial, latent, other, and a learning-rate panel that can be hidden), each with its
own y axis; runs selected together are overlaid, each run in its colour in every panel
(``ravelab.plots.series_colours``). A smoothing slider applies TensorBoard's debiased EMA
(``ravelab.plots.smoothing``, weight 0.6 by default) with the raw curve faint behind.
Marks: RAVE's phase boundary, checkpoints (best or periodic, with their step and file
under the mouse) and where a run was resumed. Hovering shows the step and every shown
series' value there (``plot_hover``). The figure's panels, lines and marks are
``plot_panels.PanelFigure``.

History comes from the database (``TrainingManager.get_metric_history``), so the plot is
complete after a restart; while a run trains, each ``notify_metrics`` reads it again in
a worker thread (``metric_series.SeriesCache``, one per run: only the new points where
the core allows it), throttled to how long a read takes, at most 10 a second and at
least one a second while points keep coming (``reload_pause``). Each history is held as
a bounded min-max summary (``ravelab.plots.summary``), so memory stays flat however long
the runs; when the user zooms in further than the summaries resolve, the visible range
is read again at full resolution (``SeriesCache.detail``). Series are thinned with
``ravelab.plots.decimate.minmax_decimate`` to the axes' width in pixels, so a million
points draw like two thousand. Changing and rendering the figure happen in
``ThreadedCanvas``'s worker: the GUI thread only paints finished frames (measured
against pyqtgraph in docs/PLOTS.md).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from matplotlib.artist import Artist
from matplotlib.backend_bases import MouseEvent
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QContextMenuEvent, QMouseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ravelab.core.metric_groups import GROUPS, NOT_PLOTTED, default_metrics, group_of
from ravelab.core.runs import run_queries
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.gui import plot_hover
from ravelab.gui.metric_series import SeriesCache
from ravelab.gui.plot_hover import Geometry, PanelGeometry, ShownSeries
from ravelab.gui.plot_panels import (
    HEADROOM,
    Checkpoint,
    PanelFigure,
    RunMarks,
    follow_limits,
    sticky,
)
from ravelab.gui.style import HINT_STYLE, TITLE_STYLE
from ravelab.gui.threaded_canvas import LockingToolbar, ThreadedCanvas
from ravelab.gui.workers import TaskRunner
from ravelab.plots import figures
from ravelab.plots.decimate import FloatArray, minmax_decimate, visible_slice
from ravelab.plots.series_colours import LineStyle, run_colour, series_styles
from ravelab.plots.smoothing import smooth_columns

logger = logging.getLogger(__name__)

Key = tuple[int, str]  # (run id, metric name)
LR = figures.LR_METRIC

#: Shortest time between two reads of the runs' histories.
MIN_RELOAD_S = 0.1
#: A read may take at most this share of the time (a big history is read less often): it
#: shares the interpreter lock with the GUI thread...
RELOAD_DUTY = 0.1
#: ...but the wait after a read never exceeds this: a slow first read (a long history, a
#: loaded machine) must not hold the next one back for many seconds.
MAX_RELOAD_PAUSE_S = 1.0
#: How near (in pixels) a series' point must be to the mouse's step to be read out.
HOVER_REACH_PX = 8
#: TensorBoard's default smoothing weight.
DEFAULT_SMOOTHING = 0.6
#: The slider's steps: weights 0 to 0.99.
SMOOTHING_STEPS = 100


def reload_pause(seconds: float) -> float:
    """Seconds to wait after a read that took ``seconds`` before the next one."""
    return max(MIN_RELOAD_S, min(max(0.0, seconds) / RELOAD_DUTY, MAX_RELOAD_PAUSE_S))


#: A zoomed view is read again at full resolution when it spans fewer summary ranges
#: than this many per pixel column.
DETAIL_RANGES_PER_PIXEL = 2
#: Share of the view's width read on each side of it with a detail (small pans need no
#: new read).
DETAIL_MARGIN = 0.25

__all__ = ["HEADROOM", "MetricsPlot", "reload_pause", "sticky"]


@dataclass
class _Run:
    """What a worker read for one run."""

    series: dict[str, tuple[FloatArray, FloatArray]]
    points: int
    marks: RunMarks
    checkpoints: tuple[Checkpoint, ...]
    step_width: float
    live: bool


@dataclass
class _Loaded:
    """What a worker read for the runs shown."""

    runs: tuple[int, ...]
    available: list[str]
    read: dict[int, _Run]
    seconds: float

    @property
    def points(self) -> int:
        return sum(run.points for run in self.read.values())


@dataclass
class _Shown:
    """The figure's data, as summaries (touched under the canvas's figure lock)."""

    series: dict[Key, tuple[FloatArray, FloatArray]] = field(default_factory=dict)
    version: int = 0
    step_width: float = 1.0  # steps per summary range (the widest)
    live: bool = False  # a run still adds points: leave room for them


@dataclass(frozen=True)
class _Detail:
    """A range of the shown series at full resolution, for a zoomed view."""

    runs: tuple[int, ...]
    first: float
    last: float
    series: dict[Key, tuple[FloatArray, FloatArray]]
    stale: bool = False  # new points arrived inside it: still shown, read again
    serial: int = 0  # which read this is (frames redraw when it changes)

    def covers(self, view: tuple[float, float], keys: Iterable[Key]) -> bool:
        return self.first <= view[0] and view[1] <= self.last and set(self.series) == set(keys)


def _read_run(db: Database, experiment_id: int) -> tuple[RunMarks, tuple[Checkpoint, ...], bool]:
    """A run's marks (phase-2 start, checkpoints, resume), its checkpoints, and whether
    it is still going."""
    record = run_queries.get_experiment(db, experiment_id)
    checkpoints = tuple(
        sorted(
            {
                Checkpoint(c.step, c.path, PurePath(c.path).name.startswith("best"))
                for c in run_queries.list_checkpoints(db, experiment_id)
                if c.step is not None
            },
            key=lambda c: (c.step, c.path),
        )
    )
    if record is None:
        return RunMarks(checkpoints=checkpoints), checkpoints, False
    progress = record.progress
    # Where the last resume started: the step of the checkpoint it started from.
    resumed_at = next((c.step for c in checkpoints if c.path == progress.resumed_from), None)
    marks = RunMarks(progress.phase_1_duration, checkpoints, resumed_at)
    return marks, checkpoints, record.ended_at is None


def _within(marks: RunMarks, steps: tuple[float, float] | None) -> RunMarks:
    """The marks that fall within the run's data (none without data)."""
    if steps is None:
        return RunMarks()
    low, high = steps

    def inside(step: int | None) -> int | None:
        return step if step is not None and low <= step <= high else None

    return RunMarks(
        inside(marks.phase_2_at),
        tuple(c for c in marks.checkpoints if low <= c.step <= high),
        inside(marks.resumed_at),
    )


def _step_range(series: Iterable[tuple[FloatArray, FloatArray]]) -> tuple[float, float] | None:
    arrays = [x for x, _ in series if x.size]
    if not arrays:
        return None
    return min(float(x[0]) for x in arrays), max(float(x[-1]) for x in arrays)


#: Least heights (px) that keep a panel readable: below them the plot scrolls.
MIN_CANVAS_HEIGHT = 200
FRAME_HEIGHT = 70  # the title and the step axis
PANEL_HEIGHT = 120
LR_PANEL_HEIGHT = 70


class MetricsPlot(QWidget):
    """Metrics of one or several runs in panels, with a navigation toolbar.

    Args:
        manager: reads metric histories (and the metric names of a run from its DB).
        parent: the parent widget.

    Signals:
        data_loaded(int): the runs' histories were read and handed to the figure (the
            first run's id).
    """

    data_loaded = Signal(int)
    #: A checkpoint's mark was right-clicked and an action chosen: the run's id, the
    #: checkpoint file, and "export" or "resume".
    checkpoint_action = Signal(int, str, str)
    _panels_laid_out = Signal(int, bool)  # canvas worker -> GUI thread: panels, with LR
    _detail_wanted = Signal(float, float)  # canvas worker -> GUI thread (queued): a view

    def __init__(self, manager: TrainingManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self._runner = TaskRunner(self)
        self._runs: tuple[int, ...] = ()
        self._titles: dict[int, str] = {}
        self._title: str | None = None  # the figure's (the runs' names)
        self._generation = 0
        self._in_flight = False
        self._pending = False
        self._next_load_at = 0.0
        self._chosen: list[str] | None = None  # the user's pick; None: the defaults
        self._caches: dict[int, SeriesCache] = {}  # grown by the worker
        self._available: list[str] = []
        self._shown = _Shown()
        self._loaded: _Loaded | None = None  # the last read (to apply again on a toggle)
        self._detail: _Detail | None = None  # replaced whole by the GUI thread
        self._detail_in_flight = False
        self._detail_pending: tuple[float, float] | None = None
        self._detail_serial = 0
        self._detail_wanted.connect(self._load_detail, Qt.ConnectionType.QueuedConnection)
        self._panels_laid_out.connect(self._fit_panels, Qt.ConnectionType.QueuedConnection)
        self._following = True
        self._frame_key: tuple[Any, ...] | None = None
        self._smoothing = DEFAULT_SMOOTHING
        self._show_lr = True
        self._log = False
        #: What the figure shows besides the lines (messages, legends, marks) and a
        #: counter bumped when it changes: part of the canvas's background key.
        self._decor: tuple[Any, ...] | None = None
        self._decor_version = 0
        #: Left by the worker after each frame for hovering (GUI thread reads them).
        self._geometry = Geometry()
        self._drawn: dict[Key, ShownSeries] = {}
        self._checkpoints: tuple[tuple[int, str, bool], ...] = ()
        self._checkpoint_runs: dict[str, int] = {}  # checkpoint file -> its run
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.timeout.connect(self._load)

        # No layout engine on the figure: the canvas runs one when needed (see
        # ThreadedCanvas.request_layout), not at every frame.
        self.figure = Figure(figsize=(5, 4), dpi=100)
        self.panels = PanelFigure(self.figure)
        self.panels.show_message("Select a run to see its metrics.")
        self.canvas = ThreadedCanvas(self.figure)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.canvas.setMinimumSize(240, 200)
        self.canvas.setMouseTracking(True)
        self.canvas.before_render = self._prepare_frame
        self.canvas.background_key = self._background_key
        self.canvas.animated_artists = self._animated_artists
        self.canvas.installEventFilter(self)
        self.toolbar = LockingToolbar(self.canvas, self)
        self.toolbar.home_requested.connect(self._on_toolbar_home)
        self.canvas.mpl_connect("button_release_event", self._on_canvas_release)

        self.metrics_button = QToolButton()
        self.metrics_button.setText("Metrics")
        self.metrics_button.setToolTip("Choose the metrics to plot")
        self.metrics_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.metrics_menu = QMenu(self.metrics_button)
        self.metrics_button.setMenu(self.metrics_menu)
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0, SMOOTHING_STEPS - 1)
        self.smoothing_slider.setValue(round(DEFAULT_SMOOTHING * SMOOTHING_STEPS))
        self.smoothing_slider.setMaximumWidth(120)
        self.smoothing_slider.setToolTip(
            "Smoothing: TensorBoard's exponential moving average (0: off); the raw curve "
            "stays faint behind"
        )
        self.smoothing_slider.valueChanged.connect(self._on_smoothing)
        self.smoothing_label = QLabel()
        self.smoothing_label.setStyleSheet(HINT_STYLE)
        self.lr_toggle = QCheckBox("LR")
        self.lr_toggle.setChecked(True)
        self.lr_toggle.setToolTip("Show the learning-rate panel")
        self.lr_toggle.toggled.connect(self._on_lr_toggled)
        self.log_scale = QCheckBox("Log scale")
        self.log_scale.setToolTip("Show the reconstruction losses on a logarithmic scale")
        self.log_scale.toggled.connect(self._on_log_scale)
        self.status = QLabel()
        self.status.setStyleSheet(HINT_STYLE)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        #: The step and the values under the mouse.
        self.readout = QLabel()
        self.readout.setStyleSheet(HINT_STYLE)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Metrics")
        title.setStyleSheet(TITLE_STYLE)
        controls.addWidget(title)
        controls.addWidget(self.status, 1)
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing_slider)
        controls.addWidget(self.smoothing_label)
        controls.addWidget(self.metrics_button)
        controls.addWidget(self.lr_toggle)
        controls.addWidget(self.log_scale)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(controls)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.readout)
        # In a short window (1024x640) the panels keep a readable height and scroll.
        self.canvas_area = QScrollArea()
        self.canvas_area.setWidgetResizable(True)
        self.canvas_area.setFrameShape(QFrame.Shape.NoFrame)
        self.canvas_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.canvas_area.setWidget(self.canvas)
        layout.addWidget(self.canvas_area, 1)
        self._show_smoothing_label()
        self._rebuild_menu()
        self.canvas.request_frame()

    # -- what is shown -------------------------------------------------------------------------

    @property
    def experiment_id(self) -> int | None:
        """The first run shown, or None."""
        return self._runs[0] if self._runs else None

    @property
    def experiment_ids(self) -> list[int]:
        """Every run shown, in selection order."""
        return list(self._runs)

    @property
    def shown_metrics(self) -> list[str]:
        """The metrics drawn now for the first run (the learning rate aside)."""
        first = self.experiment_id
        return [name for run, name in self._shown.series if run == first and name != LR]

    @property
    def smoothing(self) -> float:
        """The smoothing weight in [0, 1)."""
        return self._smoothing

    @property
    def phase_lines(self) -> list[Line2D]:
        """The phase-boundary lines drawn (one per panel and run)."""
        return self.panels.phase_lines

    @property
    def resume_lines(self) -> list[Line2D]:
        """The lines where runs were resumed (one per panel and run)."""
        return self.panels.resume_lines

    @property
    def checkpoint_marks(self) -> dict[str, Line2D]:
        """The checkpoint marks drawn: ``best`` and ``periodic``, where there are any."""
        return self.panels.checkpoint_marks

    def line(self, name: str, run: int | None = None) -> Line2D | None:
        """The raw line of a metric (``lr`` for the learning rate) of ``run`` (default:
        the first run shown), or None."""
        run = self.experiment_id if run is None else run
        return None if run is None else self.panels.lines.get((run, name))

    def smoothed_line(self, name: str, run: int | None = None) -> Line2D | None:
        """The smoothed line of a metric of ``run`` (default: the first), or None."""
        run = self.experiment_id if run is None else run
        return None if run is None else self.panels.smooth_lines.get((run, name))

    def show_experiment(self, experiment_id: int | None, title: str | None = None) -> None:
        """Show one run's metrics (read in the background), or nothing for None."""
        self.show_runs([] if experiment_id is None else [(experiment_id, title or "")])

    def show_runs(self, runs: Sequence[tuple[int, str]]) -> None:
        """Show these runs overlaid, ``(id, title)`` each, the first one's colour first;
        an empty list shows nothing."""
        ids = tuple(dict.fromkeys(run for run, _ in runs))
        titles = {run: title or f"#{run}" for run, title in runs}
        names = [titles[run] for run in ids]
        title = ", ".join(names) if len(names) <= 3 else f"{len(names)} runs"
        if ids == self._runs:
            if titles != self._titles:  # a run was renamed: its title and legends
                self._titles, self._title = titles, title or None
                self.canvas.submit(self._retitle)
            return
        self._titles = titles
        self._generation += 1
        self._runs = ids
        self._caches = {run: cache for run, cache in self._caches.items() if run in ids}
        self._available = []
        self._pending = False
        self._next_load_at = 0.0
        self._reload_timer.stop()
        self._following = True
        self._loaded = None
        self.toolbar.update()  # forget the previous runs' zoom history
        message = "Loading..." if ids else "Select a run to see its metrics."
        self._title = title or None
        self.canvas.submit(lambda: self._clear(message))
        self.status.setText("")
        self.readout.setText("")
        self._rebuild_menu()
        if ids:
            self._load()

    def show_range(self, first: float | None, last: float | None = None) -> None:
        """Show steps ``first`` to ``last`` (read at full resolution if the summaries are
        too coarse for them), or follow the whole runs again with ``None``."""
        if first is None or last is None:
            self._on_toolbar_home()
            return
        self._following = False

        def change() -> None:
            self.panels.top.set_xlim(first, last)

        self.canvas.submit(change)

    def set_smoothing(self, weight: float) -> None:
        """Smooth with ``weight`` in [0, 1) (0: off); moves the slider."""
        self.smoothing_slider.setValue(round(min(max(weight, 0.0), 0.99) * SMOOTHING_STEPS))

    def notify_metrics(self, experiment_id: int) -> None:
        """A run has new metric points: re-read them if it is one shown."""
        if experiment_id in self._runs:
            self._load()

    def choose_metrics(self, names: Sequence[str] | None) -> None:
        """Draw these metrics (None: the defaults) and re-read."""
        self._chosen = list(names) if names is not None else None
        self._next_load_at = 0.0
        self._load()

    # -- reading (worker) ----------------------------------------------------------------------

    def _load(self) -> None:
        runs = self._runs
        if not runs:
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
        caches = {
            run: self._caches.get(run)
            or SeriesCache(
                self.manager.get_metric_history, run, get_columns=self.manager.get_metric_columns
            )
            for run in runs
        }
        self._caches = caches

        def work() -> _Loaded:
            started = time.monotonic()
            read: dict[int, _Run] = {}
            everything: set[str] = set()
            for run, cache in caches.items():
                available = [n for n in run_queries.metric_names(db, run) if n not in NOT_PLOTTED]
                everything.update(available)
                if chosen is None:
                    names = default_metrics(available)
                else:
                    names = [n for n in chosen if n in available]
                if LR in available and LR not in names:
                    names.append(LR)
                series = cache.refresh(names)
                marks, checkpoints, live = _read_run(db, run)
                read[run] = _Run(
                    series,
                    sum(cache.count(name) for name in names),
                    marks,
                    checkpoints,
                    cache.step_width(names),
                    live,
                )
            menu = sorted(everything - {LR}, key=_menu_order)
            return _Loaded(runs, menu, read, time.monotonic() - started)

        self._runner.submit(
            work,
            lambda loaded: self._on_loaded(generation, loaded),
            lambda error: self._on_load_failed(generation, error),
        )

    def _on_loaded(self, generation: int, loaded: _Loaded) -> None:
        self._in_flight = False
        if generation == self._generation:
            self._next_load_at = time.monotonic() + reload_pause(loaded.seconds)
            detail = self._detail
            steps = _step_range(s for run in loaded.read.values() for s in run.series.values())
            if detail is not None and steps is not None and steps[1] <= detail.last:
                # New points inside the zoomed range: keep showing it, read it again.
                self._detail = dataclasses.replace(detail, stale=True)
            if loaded.available != self._available:
                self._available = loaded.available
                self._rebuild_menu()
            self._loaded = loaded
            self._checkpoints = tuple(
                (c.step, c.path, c.best) for run in loaded.read.values() for c in run.checkpoints
            )
            self._checkpoint_runs = {
                c.path: run for run, read in loaded.read.items() for c in read.checkpoints
            }
            self.canvas.submit(lambda: self._apply(loaded))
            self.status.setText(self._status_text(loaded))
            self.data_loaded.emit(loaded.runs[0])
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
        runs = f" in {len(loaded.runs)} runs" if len(loaded.runs) > 1 else ""
        return f"{loaded.points:,} points{runs}"

    # -- changing the figure (canvas worker, figure lock held) ---------------------------------

    def _clear(self, message: str) -> None:
        panels = self.panels
        panels.layout(())
        panels.sync_lines({}, {}, {}, self._smoothing)
        panels.draw_marks({}, {})
        panels.update_legends()
        self._shown = _Shown(version=self._shown.version + 1)
        self._detail = None
        self._decor = None
        self._decor_version += 1
        self._drawn = {}
        figures.set_title(self.figure, self._title)
        panels.show_message(message)
        self._frame_key = None
        self.canvas.request_layout()

    def _retitle(self) -> None:
        figures.set_title(self.figure, self._title)
        self._decor_version += 1
        if self._loaded is not None:
            self._apply(self._loaded)

    def _fit_panels(self, panels: int, with_lr: bool) -> None:
        """The canvas's least height: enough for each panel's axis, title and legend."""
        others = panels - 1 if with_lr else panels
        self.canvas.setMinimumHeight(
            max(MIN_CANVAS_HEIGHT, FRAME_HEIGHT + others * PANEL_HEIGHT + with_lr * LR_PANEL_HEIGHT)
        )

    def _apply(self, loaded: _Loaded) -> None:
        if loaded.runs != self._runs:
            return
        series = {
            (run, name): data
            for run in loaded.runs
            if run in loaded.read
            for name, data in loaded.read[run].series.items()
            if self._show_lr or name != LR
        }
        wanted = {key: _panel_of(key[1]) for key in series}
        order = [g.key for g in GROUPS if g.key in set(wanted.values())]
        laid_out = self.panels.layout(order, self._log)
        if laid_out:
            self._panels_laid_out.emit(len(order), "lr" in order)
            figures.set_title(self.figure, self._title)  # a new layout clears the figure
            self._frame_key = None
        styles: dict[Key, tuple[str, LineStyle]] = {}
        for panel in order:
            metrics = list(dict.fromkeys(name for (_, name), p in wanted.items() if p == panel))
            styles.update(series_styles(loaded.runs, metrics))
        several = len(loaded.runs) > 1
        labels = {
            key: (
                f"{self._titles.get(key[0], key[0])}: {figures.metric_label(key[1])}"
                if several
                else figures.metric_label(key[1])
            )
            for key in wanted
        }
        lines_changed = self.panels.sync_lines(wanted, styles, labels, self._smoothing)
        width = max((run.step_width for run in loaded.read.values()), default=1.0)
        live = any(run.live for run in loaded.read.values())
        self._shown = _Shown(series, self._shown.version + 1, width, live)
        has_points = any(x.size for x, _ in series.values())
        if has_points:
            message = None
        elif series or not loaded.available:
            message = "No points yet"
        else:
            message = "Choose metrics to plot (Metrics menu)"
        colours = {run: run_colour(i) for i, run in enumerate(loaded.runs)} if several else {}
        marks = {
            run: _within(read.marks, _step_range(read.series.values()))
            for run, read in loaded.read.items()
        }
        marks_changed = self.panels.draw_marks(marks, colours)
        decor = (message, tuple(wanted), tuple(labels.values()), self.panels.version)
        if decor != self._decor or marks_changed:
            self._decor = decor
            self._decor_version += 1
            self.panels.show_message(message)
        if lines_changed or laid_out:
            runs = {run: (self._titles.get(run, f"#{run}"), colours[run]) for run in colours}
            self.panels.update_legends(runs)
            self.canvas.request_layout()

    def _background_key(self) -> tuple[Any, ...]:
        """Everything the picture depends on but the lines' data (canvas worker); also
        leaves the panels' geometry for hovering (the layout is current here)."""
        panels = self.panels.panels
        self._geometry = self._capture_geometry()
        return (
            self._decor_version,
            self.panels.version,
            tuple(
                (ax.get_xlim(), ax.get_ylim(), ax.get_yscale(), ax.get_position().bounds)
                for ax in panels.values()
            ),
        )

    def _capture_geometry(self) -> Geometry:
        ratio = self.canvas.device_pixel_ratio or 1.0
        height = self.figure.bbox.height
        found = []
        for key, axes in self.panels.panels.items():
            box = axes.get_window_extent()
            found.append(
                PanelGeometry(
                    key,
                    box.x0 / ratio,
                    (height - box.y1) / ratio,
                    box.x1 / ratio,
                    (height - box.y0) / ratio,
                    tuple(float(v) for v in axes.get_xlim()),  # type: ignore[arg-type]
                    tuple(float(v) for v in axes.get_ylim()),  # type: ignore[arg-type]
                    axes.get_yscale() == "log",
                )
            )
        return Geometry(tuple(found))

    def _animated_artists(self) -> list[Artist]:
        lines: list[Artist] = []
        for key, line in self.panels.lines.items():
            lines.append(line)
            smooth_line = self.panels.smooth_lines[key]
            if smooth_line.get_visible():
                lines.append(smooth_line)
        return lines

    def _prepare_frame(self) -> None:
        """Smooth and decimate the series for the view about to be rendered (before
        every frame)."""
        panels = self.panels
        top = panels.top
        width = figures.axes_width_px(top)
        view: tuple[float, float] | None = None
        if not self._following:
            left, right = top.get_xlim()
            view = (float(left), float(right))
        shown = self._shown
        series = shown.series
        detail = self._detail
        source = -1  # the summaries; else the serial number of the detail drawn
        if view is not None and detail is not None and detail.runs == self._runs:
            if detail.covers(view, series):
                series = detail.series
                source = detail.serial
                if detail.stale:
                    self._detail_wanted.emit(view[0], view[1])
            elif (view[1] - view[0]) / shown.step_width < DETAIL_RANGES_PER_PIXEL * width:
                self._detail_wanted.emit(view[0], view[1])
        elif view is not None and (view[1] - view[0]) / shown.step_width < (
            DETAIL_RANGES_PER_PIXEL * width
        ):
            # Zoomed in further than the summaries resolve: read the view again.
            self._detail_wanted.emit(view[0], view[1])
        scales = tuple(ax.get_yscale() for ax in panels.panels.values())
        key = (shown.version, width, view, scales, source, self._smoothing, panels.version)
        if key == self._frame_key:
            return
        drawn: dict[Key, ShownSeries] = {}
        for series_key, (x, y) in series.items():
            line = panels.lines.get(series_key)
            if line is None:
                continue
            if view is not None and x.size:
                part = visible_slice(x, view[0], view[1])
                x, y = x[part], y[part]
            figures.update_series(line, *minmax_decimate(x, y, width))
            smoothed: tuple[FloatArray, FloatArray] | None = None
            if self._smoothing > 0:
                smoothed = smooth_columns(x, y, width, self._smoothing)
                figures.update_series(panels.smooth_lines[series_key], *smoothed)
            label = panels.labels.get(series_key, series_key[1])
            drawn[series_key] = ShownSeries(_panel_of(series_key[1]), label, x, y, smoothed)
        self._drawn = drawn
        if self._following:
            follow_limits(list(panels.panels.values()), room=shown.live)
        self._frame_key = key

    # -- zoomed views (GUI thread, read in the worker) -----------------------------------------

    def _load_detail(self, low: float, high: float) -> None:
        """Read the series around ``[low, high]`` at full resolution (a zoomed view)."""
        detail = self._detail
        keys = list(self._shown.series)
        if detail is not None and not detail.stale and detail.covers((low, high), keys):
            return
        if self._detail_in_flight:
            self._detail_pending = (low, high)
            return
        runs, caches = self._runs, dict(self._caches)
        if not runs or not keys or not all(c.ranged for c in caches.values()):
            return
        self._detail_in_flight = True
        margin = (high - low) * DETAIL_MARGIN
        first, last = low - margin, high + margin
        generation = self._generation
        self._detail_serial += 1
        serial = self._detail_serial

        def work() -> _Detail:
            found = {
                (run, name): caches[run].detail(name, first, last)
                for run, name in keys
                if run in caches
            }
            return _Detail(runs, first, last, found, serial=serial)

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

    # -- hovering (GUI thread: never waits for the figure) -------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.canvas:
            if event.type() == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
                self.hover(event.position().toPoint())
            elif event.type() == QEvent.Type.Leave:
                self.readout.setText("")
                QToolTip.hideText()
            elif event.type() == QEvent.Type.ContextMenu and isinstance(event, QContextMenuEvent):
                menu = self.checkpoint_menu(event.pos())
                if menu is not None:
                    menu.exec(event.globalPos())
                    menu.deleteLater()
                    return True
        return False

    def checkpoint_menu(self, position: QPoint) -> QMenu | None:
        """The menu of the checkpoint mark at ``position`` (canvas pixels): export it, or
        resume its run from it; None where no mark is."""
        found = plot_hover.checkpoint_near(
            self._geometry, float(position.x()), float(position.y()), self._checkpoints
        )
        if found is None:
            return None
        step, path, best = found
        run = self._checkpoint_runs.get(path)
        if run is None:
            return None
        menu = QMenu(self)
        kind = "best checkpoint" if best else "checkpoint"
        title = menu.addAction(f"{kind.capitalize()} at step {step:,}")
        title.setEnabled(False)
        export = menu.addAction("Export this checkpoint...")
        export.triggered.connect(lambda: self.checkpoint_action.emit(run, path, "export"))
        resume = menu.addAction("Resume from this checkpoint...")
        resume.triggered.connect(lambda: self.checkpoint_action.emit(run, path, "resume"))
        return menu

    def hover(self, position: QPoint) -> str:
        """Show the step and the values under ``position`` (canvas pixels): the hovered
        panel's in the readout line, every shown series' in a tooltip (with the
        checkpoint's step and file over a checkpoint's mark); returns the readout."""
        x, y = float(position.x()), float(position.y())
        geometry = self._geometry
        panel = geometry.panel_at(x, y)
        if panel is None:
            self.readout.setText("")
            QToolTip.hideText()
            return ""
        step = panel.step_at(x)
        # A series counts as shown at the step when it has a point within a few pixels.
        reach = HOVER_REACH_PX * (panel.xlim[1] - panel.xlim[0]) / max(panel.right - panel.left, 1)
        order = [p.key for p in geometry.panels]
        values = plot_hover.values_at(step, self._drawn, order, reach)
        text = " · ".join(
            [plot_hover.step_text(step)]
            + [f"{label} {value}" for key, label, value in values if key == panel.key]
        )
        self.readout.setText(text)
        lines = [plot_hover.step_text(step)]
        checkpoint = plot_hover.checkpoint_near(geometry, x, y, self._checkpoints)
        if checkpoint is not None:
            at, path, best = checkpoint
            kind = "best checkpoint" if best else "checkpoint"
            lines = [f"{kind} at step {at:,}", path]
        else:
            lines += [f"{label}: {value}" for _, label, value in values]
        QToolTip.showText(self.canvas.mapToGlobal(position), "\n".join(lines), self.canvas)
        return text

    def position_of(self, step: float, panel: str = "", value: float | None = None) -> QPoint:
        """Where ``step`` (and ``value``, else the panel's middle) falls on the canvas,
        in the last frame (the top panel by default)."""
        geometry = self._geometry
        found = geometry.panel(panel) if panel else None
        found = found or (geometry.panels[0] if geometry.panels else None)
        if found is None:
            return QPoint(0, 0)
        y = (found.top + found.bottom) / 2 if value is None else found.y_of(value)
        return QPoint(round(found.x_of(step)), round(y))

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

    def _on_smoothing(self, value: int) -> None:
        weight = value / SMOOTHING_STEPS
        self._smoothing = weight
        self._show_smoothing_label()

        def change() -> None:
            self.panels.set_smoothing(weight)
            self._frame_key = None

        self.canvas.submit(change)

    def _show_smoothing_label(self) -> None:
        self.smoothing_label.setText(f"{self._smoothing:.2f}" if self._smoothing else "off")

    def _on_lr_toggled(self, checked: bool) -> None:
        self._show_lr = checked
        loaded = self._loaded
        if loaded is not None:
            self.canvas.submit(lambda: self._apply(loaded))

    def _on_log_scale(self, checked: bool) -> None:
        self._log = checked

        def change() -> None:
            self.panels.set_log_scale(checked)
            self._frame_key = None
            self._decor_version += 1
            self.canvas.request_layout()

        self.canvas.submit(change)

    def _rebuild_menu(self) -> None:
        self.metrics_menu.clear()
        shown = set(default_metrics(self._available)) if self._chosen is None else set(self._chosen)
        if not self._available:
            placeholder = self.metrics_menu.addAction("No metrics recorded yet")
            placeholder.setEnabled(False)
        group = None
        for name in self._available:
            found = group_of(name)
            if found is not None and found.key != group:
                if group is not None:
                    self.metrics_menu.addSeparator()
                group = found.key
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
        self.metrics_button.setEnabled(bool(self._runs))

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


def _panel_of(name: str) -> str:
    group = group_of(name)
    return "other" if group is None else group.key


def _menu_order(name: str) -> tuple[int, str]:
    keys = [g.key for g in GROUPS]
    return keys.index(_panel_of(name)), name
