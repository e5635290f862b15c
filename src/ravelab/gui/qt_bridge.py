"""``RunBridge``: a TrainingManager's psygnal signals, delivered on the GUI thread, coalesced.

The core emits from its follower threads, as often as a run prints (thousands of lines a
second). The bridge's callbacks run in those threads and only record what changed, under
a lock: the latest progress and metrics per run, whether a run printed, which runs started
or ended. The first change after a quiet spell wakes the GUI thread through a queued Qt
signal; the GUI thread then delivers everything recorded, and later changes wait for the
next delivery, so the widgets update at most ``1000 / interval_ms`` times a second
whatever the rate of lines, and each run's update touches only that run.

``psygnal.qt.start_emitting_from_queue`` would do the thread hop too, but it needs qtpy
(not a dependency) and would still queue one call per line.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from ravelab.core.runs.training_manager import TrainingManager
from ravelab.core.runs.training_process import TrainingProcess

#: Default time between two deliveries (at most 10 a second).
DEFAULT_INTERVAL_MS = 100


class RunBridge(QObject):
    """Carries run events from core threads to the GUI thread, at most every interval.

    Args:
        manager: the training manager whose runs to follow.
        parent: the owning QObject.
        interval_ms: the shortest time between two deliveries.

    Signals:
        run_started(int): a run was started by this app's manager.
        progress_changed(int, dict): a run's latest progress (step, max_steps, percent,
            speed, eta_s, phase, ...), merged since the last delivery.
        metrics_changed(int, dict): a run's latest metric values, merged likewise.
        output_arrived(int): a run wrote new log lines.
        status_changed(int, str, str): a run went ``queued`` or ``running`` (and why).
        health_changed(int, str, str): a run's health (``ok``, ``stalled``, ``broken``)
            and its detail.
        run_finished(int, str): a run ended, with its final status.
        delivered(): one delivery is complete (after the signals above).
    """

    run_started = Signal(int)
    progress_changed = Signal(int, dict)
    metrics_changed = Signal(int, dict)
    output_arrived = Signal(int)
    status_changed = Signal(int, str, str)
    health_changed = Signal(int, str, str)
    run_finished = Signal(int, str)
    delivered = Signal()

    _wake = Signal()  # emitted from core threads; queued to the GUI thread

    def __init__(
        self,
        manager: TrainingManager,
        parent: QObject | None = None,
        interval_ms: int = DEFAULT_INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self.manager = manager
        self.interval_ms = interval_ms
        self._lock = threading.Lock()
        self._started: list[int] = []
        self._progress: dict[int, dict[str, object]] = {}
        self._metrics: dict[int, dict[str, object]] = {}
        self._output: set[int] = set()
        self._status: dict[int, tuple[str, str]] = {}
        self._health: dict[int, tuple[str, str]] = {}
        self._finished: dict[int, str] = {}
        self._woken = False
        self._last_delivery = 0.0
        self._followed: dict[int, list[tuple[Any, Callable[..., Any]]]] = {}
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._deliver)
        self._wake.connect(self._on_wake, Qt.ConnectionType.QueuedConnection)
        manager.run_started.connect(self._on_manager_run_started)
        manager.run_finished.connect(self._on_manager_run_finished)
        self.follow_active()

    # -- following processes (any thread) ------------------------------------------------------

    def follow_active(self) -> None:
        """Follow every process the manager tracks that is not followed yet.

        Runs re-attached when the manager was created show up here.
        """
        for experiment_id, process in list(self.manager.active_processes.items()):
            self._follow(experiment_id, process)

    def _follow(self, experiment_id: int, process: TrainingProcess) -> None:
        with self._lock:
            if self._closed or experiment_id in self._followed:
                return
            connections: list[tuple[Any, Callable[..., Any]]] = [
                (process.progress_update, functools.partial(self._on_progress, experiment_id)),
                (process.metrics_update, functools.partial(self._on_metrics, experiment_id)),
                (process.status_update, functools.partial(self._on_status, experiment_id)),
                (process.health_update, functools.partial(self._on_health, experiment_id)),
            ]
            self._followed[experiment_id] = connections
        for signal, callback in connections:
            signal.connect(callback)

    def _unfollow(self, experiment_id: int) -> None:
        with self._lock:
            connections = self._followed.pop(experiment_id, [])
        for signal, callback in connections:
            signal.disconnect(callback, missing_ok=True)

    # -- callbacks (core threads): record and wake, nothing else -------------------------------

    def _on_manager_run_started(self, experiment_id: int) -> None:
        process = self.manager.active_processes.get(experiment_id)
        if process is not None:
            self._follow(experiment_id, process)
        with self._lock:
            self._started.append(experiment_id)
        self._poke()

    def _on_manager_run_finished(self, experiment_id: int, status: str) -> None:
        with self._lock:
            self._finished[experiment_id] = status
        self._poke()

    def _on_progress(self, experiment_id: int, progress: Mapping[str, object]) -> None:
        # Emitted once per poll that read anything: it also says "new output" (cheaper
        # than a callback per line from output_line, which a run may print 10,000 of a
        # second).
        with self._lock:
            self._progress.setdefault(experiment_id, {}).update(progress)
            self._output.add(experiment_id)
        self._poke()

    def _on_metrics(self, experiment_id: int, metrics: Mapping[str, object]) -> None:
        with self._lock:
            self._metrics.setdefault(experiment_id, {}).update(metrics)
        self._poke()

    def _on_status(self, experiment_id: int, status: str, detail: str) -> None:
        with self._lock:
            self._status[experiment_id] = (status, detail)
        self._poke()

    def _on_health(self, experiment_id: int, health: str, detail: str) -> None:
        with self._lock:
            self._health[experiment_id] = (health, detail)
        self._poke()

    def _poke(self) -> None:
        with self._lock:
            if self._woken or self._closed:
                return
            self._woken = True
        self._wake.emit()

    # -- delivery (GUI thread) ---------------------------------------------------------------

    def _on_wake(self) -> None:
        if self._closed or self._timer.isActive():
            return
        elapsed_ms = (time.monotonic() - self._last_delivery) * 1000
        self._timer.start(max(int(self.interval_ms - elapsed_ms), 0))

    def _deliver(self) -> None:
        if self._closed:
            return
        with self._lock:
            started, self._started = self._started, []
            progress, self._progress = self._progress, {}
            metrics, self._metrics = self._metrics, {}
            output, self._output = self._output, set()
            status, self._status = self._status, {}
            health, self._health = self._health, {}
            finished, self._finished = self._finished, {}
            self._woken = False
        self._last_delivery = time.monotonic()
        self.follow_active()
        for experiment_id in started:
            self.run_started.emit(experiment_id)
        for experiment_id, (value, detail) in status.items():
            self.status_changed.emit(experiment_id, value, detail)
        for experiment_id, (value, detail) in health.items():
            self.health_changed.emit(experiment_id, value, detail)
        for experiment_id, values in progress.items():
            self.progress_changed.emit(experiment_id, values)
        for experiment_id, values in metrics.items():
            self.metrics_changed.emit(experiment_id, values)
        for experiment_id in output:
            self.output_arrived.emit(experiment_id)
        for experiment_id, final_status in finished.items():
            self._unfollow(experiment_id)
            self.run_finished.emit(experiment_id, final_status)
        self.delivered.emit()

    def flush(self) -> None:
        """Deliver what is pending now (tests, and before reading state)."""
        self._timer.stop()
        self._deliver()

    def cleanup(self) -> None:
        """Disconnect from the manager and its processes; deliver nothing more."""
        self._timer.stop()
        with self._lock:
            self._closed = True
            followed = list(self._followed)
        for experiment_id in followed:
            self._unfollow(experiment_id)
        self.manager.run_started.disconnect(self._on_manager_run_started, missing_ok=True)
        self.manager.run_finished.disconnect(self._on_manager_run_finished, missing_ok=True)
