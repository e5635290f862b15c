"""``ThreadedCanvas``: a ``FigureCanvasQTAgg`` that renders in a worker thread.

Drawing the training figure with Agg takes 60 to 300 ms on a modest machine (ticks,
text, legend): far more than the 50 ms the GUI may stall. So this canvas keeps Qt's
side (events, the navigation toolbar, painting) on the GUI thread and moves matplotlib's
side (changing artists, rendering) to one worker thread:

* ``draw()``/``draw_idle()`` (called by matplotlib and the toolbar) request a frame
  instead of rendering.
* ``submit(change)`` queues a change of the figure (new data, rescaling); the worker
  applies queued changes, then renders, at most ``MAX_FRAMES_PER_S`` times a second.
* Between two frames the worker waits ``pause_after(duration)``: nine times the last
  frame's time (it renders about ``RENDER_DUTY`` of the time: it shares the interpreter
  lock with the GUI thread), but never more than ``MAX_PAUSE_S``, so the picture lags the
  data by at most that plus two frames however slow the machine. The wait is on a
  condition, not a sleep: closing the canvas wakes the worker at once, and a request
  after an idle spell is drawn at once. Requests during a pause are coalesced.
* ``paintEvent`` paints the last finished frame (a QImage copy): never a half-drawn one.
* Blitting: the owner may mark the artists that change at every frame as animated and give
  ``background_key``, a function of everything else the picture depends on (limits,
  scales, texts). While the key stays the same, a frame restores the saved background and
  draws only the animated artists: a few milliseconds instead of the 60 to 300 of a full
  draw, and much less time holding the interpreter lock that the GUI thread needs.
* The layout (margins that fit the tick labels) is computed with a constrained layout
  engine only when asked (``request_layout``), on a resize and every
  ``LAYOUT_EVERY_S``: running it at every frame would triple a frame's cost.
* Everything that touches the figure from the GUI thread (mouse and key events the
  toolbar handles, resizing, the toolbar's buttons) holds ``figure_lock``, which the
  worker holds while it changes or renders the figure. Hovering without a button
  pressed skips the event rather than wait for a frame.

Matplotlib is not thread-safe, but one figure touched by one thread at a time is fine:
the lock gives that.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from PySide6.QtCore import QEvent, QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import (
    QColor,
    QEnterEvent,
    QIcon,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

# matplotlib's Qt backend binds to the Qt already imported, else to QT_API.
os.environ.setdefault("QT_API", "pyside6")

from matplotlib.backends.backend_qt import NavigationToolbar2QT
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

logger = logging.getLogger(__name__)


def _untyped(value: object) -> Any:
    """matplotlib's Qt backend has no type hints: call into it without strict checks."""
    return value


MAX_FRAMES_PER_S = 10
#: While data streams in, tick labels change width: lay the figure out again this often.
LAYOUT_EVERY_S = 5.0
#: The share of time the worker may spend rendering (a frame taking 50 ms is followed by
#: 450 ms without one), as long as that keeps the pause under ``MAX_PAUSE_S``.
RENDER_DUTY = 0.1
#: The longest pause between two frames while changes are waiting: a slow machine (a
#: frame taking 0.7 s under load) would otherwise show data seconds after they arrived.
MAX_PAUSE_S = 1.0


def pause_after(duration: float) -> float:
    """Seconds the worker waits after a frame that took ``duration`` seconds before it
    renders the next one: rendering ``RENDER_DUTY`` of the time, at most
    ``MAX_FRAMES_PER_S`` frames a second, and never pausing more than ``MAX_PAUSE_S``."""
    duration = max(0.0, duration)
    spread = min(duration * (1 / RENDER_DUTY - 1), MAX_PAUSE_S)
    return max(1 / MAX_FRAMES_PER_S - duration, spread)


class ThreadedCanvas(FigureCanvasQTAgg):
    """A Qt canvas whose figure is changed and rendered in a worker thread.

    Args:
        figure: the figure to show.

    Signals:
        frame_ready(): a new frame was rendered and will be painted.
    """

    frame_ready = Signal()
    _rendered = Signal(object)  # worker -> GUI thread (queued): the new QImage

    def __init__(self, figure: Figure) -> None:
        self.figure_lock = threading.RLock()
        self._jobs: list[Callable[[], None]] = []
        self._jobs_lock = threading.Lock()
        #: Signalled (under ``_jobs_lock``) when the canvas closes: ends the worker's pause.
        self._wake = threading.Condition(self._jobs_lock)
        self._render_requested = False
        self._rendering = False  # a worker task is running (pausing or rendering)
        self._closed = False
        self._frame: QImage | None = None
        self._next_frame_at = 0.0  # monotonic time before which no frame starts
        self.frames = 0  # frames handed to the GUI thread
        self._emitted = 0  # frames the worker finished (written by the worker only)
        self.before_render: Callable[[], None] | None = None
        #: Everything but the animated artists depends on this (None: no blitting).
        self.background_key: Callable[[], Hashable] | None = None
        #: The artists drawn over the background at every frame, in order.
        self.animated_artists: Callable[[], list[Artist]] = list
        self._background: Any = None
        self._background_for: Hashable = None
        self.full_frames = 0
        self.layout_engine: ConstrainedLayoutEngine | None = ConstrainedLayoutEngine()
        self._layout_needed = True
        self._last_layout = 0.0
        self._watched_window: QObject | None = None
        self._pool = QThreadPool()
        self._pool.setMaxThreadCount(1)
        _untyped(super()).__init__(figure)
        # Shown before the first frame and around it: the figure's own background.
        self._background_colour = QColor.fromRgbF(*figure.get_facecolor())
        self._rendered.connect(self._on_rendered, Qt.ConnectionType.QueuedConnection)

    # -- requests (GUI thread) -----------------------------------------------------------------

    def submit(self, change: Callable[[], None]) -> None:
        """Apply ``change()`` to the figure in the worker thread, then render a frame."""
        with self._jobs_lock:
            if self._closed:
                return
            self._jobs.append(change)
        self.request_frame()

    def request_layout(self) -> None:
        """Fit the layout to the figure again at the next frame (titles, scales changed)."""
        self._layout_needed = True
        self.request_frame()

    def request_frame(self) -> None:
        """Render a frame soon (coalesced with one being rendered)."""
        with self._jobs_lock:
            if self._closed:
                return
            self._render_requested = True
            if self._rendering:
                return
            self._rendering = True
        self._pool.start(self._render_loop)

    def draw(self) -> None:
        """Matplotlib's "render now": a frame is requested instead (never renders here)."""
        self.request_frame()

    def draw_idle(self, *args: Any, **kwargs: Any) -> None:
        """Matplotlib's "render soon"."""
        self.request_frame()

    # -- the worker ----------------------------------------------------------------------------

    def _render_loop(self) -> None:
        ended = False
        try:
            while True:
                with self._wake:
                    # The pause after the last frame (see pause_after), while a frame is
                    # wanted: a wait that cleanup() interrupts, never a sleep the GUI
                    # thread would wait out. With nothing wanted the task ends at once.
                    while not self._closed and self._render_requested:
                        wait = self._next_frame_at - time.monotonic()
                        if wait <= 0:
                            break
                        self._wake.wait(wait)
                    if self._closed or not self._render_requested:
                        # Under the same hold as the check: a request made after it
                        # starts a new task.
                        self._rendering = False
                        ended = True
                        return
                    jobs, self._jobs = self._jobs, []
                    self._render_requested = False
                started = time.monotonic()
                image = self._render(jobs)
                finished = time.monotonic()
                self._next_frame_at = finished + pause_after(finished - started)
                if image is not None:
                    self._emitted += 1
                    self._rendered.emit(image)
        finally:
            if not ended:  # an unexpected error: let the next request start a new task
                with self._wake:
                    self._rendering = False

    def _render(self, jobs: list[Callable[[], None]]) -> QImage | None:
        with self.figure_lock:
            for job in jobs:
                try:
                    job()
                except Exception:  # one bad update must not stop the plot
                    logger.error("plot update failed:\n%s", traceback.format_exc())
            if self._closed:  # closed meanwhile: nobody will see the frame
                return None
            try:
                if self.before_render is not None:
                    self.before_render()
                now = time.monotonic()
                width, height = self.get_width_height(physical=True)
                if width <= 0 or height <= 0:
                    return None
                key = self._current_background_key((width, height))
                # The periodic layout is for tick labels that changed width: only when the
                # picture changes anyway (a frame that reuses the background cannot).
                if self.layout_engine is not None and (
                    self._layout_needed
                    or (now - self._last_layout > LAYOUT_EVERY_S and key != self._background_for)
                ):
                    self._layout_needed = False
                    self._last_layout = now
                    self.layout_engine.execute(self.figure)
                    self._background = None
                    key = self._current_background_key((width, height))
                # Not FigureCanvasAgg.draw: its toolbar wait-cursor would touch Qt here.
                renderer = _untyped(self).get_renderer()
                self._draw_frame(renderer, key)
                buffer = memoryview(renderer.buffer_rgba())
                image = QImage(buffer, width, height, QImage.Format.Format_RGBA8888).copy()
            except Exception:
                logger.error("plot rendering failed:\n%s", traceback.format_exc())
                return None
        return image

    def _current_background_key(self, size: tuple[int, int]) -> Hashable:
        return None if self.background_key is None else (size, self.background_key())

    def _draw_frame(self, renderer: Any, key: Hashable) -> None:
        """Draw the figure: the saved background and the animated artists when nothing
        else changed (same ``key``), else everything (saving the new background)."""
        if key is not None and self._background is not None and key == self._background_for:
            renderer.restore_region(self._background)
        else:
            renderer.clear()
            self.figure.draw(renderer)  # animated artists are left out
            self.full_frames += 1
            if key is None:
                self._background = None
                return
            self._background = renderer.copy_from_bbox(self.figure.bbox)
            self._background_for = key
        for artist in self.animated_artists():
            if artist.get_visible() and artist.figure is self.figure:
                artist.draw(renderer)

    # -- painting (GUI thread) -----------------------------------------------------------------

    def _on_rendered(self, image: QImage) -> None:
        if self._closed:
            return
        self._frame = image
        self.frames += 1
        self.update()
        self.frame_ready.emit()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(event.rect(), self._background_colour)
            frame = self._frame
            if frame is not None:
                frame.setDevicePixelRatio(self.device_pixel_ratio)
                painter.drawImage(0, 0, frame)
            _untyped(self)._draw_rect_callback(painter)  # the zoom rectangle, if any
        finally:
            painter.end()

    # -- events that touch the figure hold the lock --------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the figure (waiting for a frame being rendered)."""
        with self.figure_lock:
            yield

    def mousePressEvent(self, event: QMouseEvent) -> None:
        with self.figure_lock:
            _untyped(super()).mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        with self.figure_lock:
            _untyped(super()).mouseDoubleClickEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        with self.figure_lock:
            _untyped(super()).mouseReleaseEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() == Qt.MouseButton.NoButton:
            # Hovering only updates the toolbar's coordinates: skip it while rendering.
            if not self.figure_lock.acquire(blocking=False):
                return
            try:
                _untyped(super()).mouseMoveEvent(event)
            finally:
                self.figure_lock.release()
            return
        with self.figure_lock:
            _untyped(super()).mouseMoveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        with self.figure_lock:
            _untyped(super()).wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        with self.figure_lock:
            _untyped(super()).keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        with self.figure_lock:
            _untyped(super()).keyReleaseEvent(event)

    def enterEvent(self, event: QEnterEvent) -> None:
        with self.figure_lock:
            _untyped(super()).enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        with self.figure_lock:
            _untyped(super()).leaveEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Not FigureCanvasQT's: it resizes the figure here and now, which would wait for
        # a frame being rendered. The worker resizes it before its next frame instead.
        QWidget.resizeEvent(self, event)
        ratio = self.device_pixel_ratio
        width = event.size().width() * ratio
        height = event.size().height() * ratio

        def resize() -> None:
            dpi = self.figure.dpi
            self.figure.set_size_inches(width / dpi, height / dpi, forward=False)
            self._layout_needed = True

        self.submit(resize)

    def showEvent(self, event: QShowEvent) -> None:
        # Not FigureCanvasQT's: it may change the figure's dpi here and now. Watch the
        # window for pixel-ratio changes and let the worker apply the current one.
        QWidget.showEvent(self, event)
        window = self.window().windowHandle()
        if window is not None and window is not self._watched_window:
            window.installEventFilter(self)
            self._watched_window = window
        self._update_ratio_later()

    def eventFilter(self, source: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.DevicePixelRatioChange:
            self._update_ratio_later()
        return False

    def _update_ratio_later(self) -> None:
        ratio = self.devicePixelRatioF() or 1.0
        size = self.size()

        def update() -> None:
            if _untyped(self)._set_device_pixel_ratio(ratio):
                dpi = self.figure.dpi
                self.figure.set_size_inches(
                    size.width() * ratio / dpi, size.height() * ratio / dpi, forward=False
                )

        self.submit(update)

    # -- lifetime ------------------------------------------------------------------------------

    def cleanup(self, wait_ms: int = 10_000) -> None:
        """Render no more: wake the worker from its pause and wait only for a frame being
        rendered (``wait_ms`` at most)."""
        with self._wake:
            self._closed = True
            self._jobs.clear()
            self._wake.notify_all()
        self._pool.waitForDone(wait_ms)

    @property
    def busy(self) -> bool:
        """True while a frame is queued, waiting for its turn or being rendered."""
        with self._jobs_lock:
            return self._rendering or bool(self._jobs)

    @property
    def settled(self) -> bool:
        """True when every requested frame has been rendered and handed to the GUI thread:
        what is painted now shows the figure's current state (tests wait for this)."""
        return not self.busy and self.frames == self._emitted


class LockingToolbar(NavigationToolbar2QT):
    """The navigation toolbar, holding the figure while its buttons change the view.

    The subplot and figure-options dialogs are left out: they edit artists directly.

    Signals:
        home_requested(): the Home button was pressed (the plot follows new data again).
    """

    toolitems = [  # noqa: RUF012 - matplotlib's own class attribute
        item
        for item in NavigationToolbar2QT.toolitems
        if item[0] in ("Home", "Back", "Forward", None, "Pan", "Zoom", "Save")
    ]

    home_requested = Signal()

    def __init__(self, canvas: ThreadedCanvas, parent: QWidget | None = None) -> None:
        self._threaded_canvas = canvas
        _untyped(super()).__init__(canvas, parent, coordinates=True)

    def _icon(self, name: str) -> QIcon:
        # WORKAROUND: matplotlib 3.11's icon engine reads Qt.AA_UseHighDpiPixmaps, an enum
        # Qt 6 deprecated, at every paint (a DeprecationWarning each time, an error under
        # the test suite's filterwarnings). Plain icons from the same image files.
        path = Path(matplotlib.get_data_path(), "images", name)
        icon = QIcon(str(path))
        large = path.with_name(f"{path.stem}_large{path.suffix}")
        if large.exists():
            icon.addFile(str(large))
        return icon

    def home(self, *args: object) -> None:
        with self._threaded_canvas.figure_lock:
            super().home(*args)
        self.home_requested.emit()

    def back(self, *args: object) -> None:
        with self._threaded_canvas.figure_lock:
            super().back(*args)

    def forward(self, *args: object) -> None:
        with self._threaded_canvas.figure_lock:
            super().forward(*args)

    def save_figure(self, *args: object) -> object:
        with self._threaded_canvas.figure_lock:
            return _untyped(super()).save_figure(*args)
