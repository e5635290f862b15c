"""Running slow work (database reads, file reads, nvidia-smi) off the GUI thread.

``TaskRunner.submit(work, on_done)`` runs ``work()`` in the runner's own thread pool and
calls ``on_done(result)`` back on the GUI thread. Each runner has one thread by default,
so a widget's tasks run in the order it submitted them and never concurrently with each
other. After ``shutdown()`` results are dropped, so a closed widget is never called.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QObject, Qt, QThreadPool, Signal

from ravelab.db.errors import DatabaseError

logger = logging.getLogger(__name__)

#: What a task returns (whatever ``work`` returns is what ``on_done`` gets).
T = TypeVar("T")


class _Relay(QObject):
    """Carries one task's outcome from a pool thread to the GUI thread (queued)."""

    succeeded = Signal(object)
    failed = Signal(object)


class TaskRunner(QObject):
    """Runs callables in background threads and delivers their results on the GUI thread.

    Args:
        parent: the owning QObject.
        threads: how many tasks may run at once (1 keeps them in order).
    """

    def __init__(self, parent: QObject | None = None, threads: int = 1) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._relays: set[_Relay] = set()
        self._closed = False

    def submit(
        self,
        work: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run ``work()`` in the pool; then ``on_done(result)`` or ``on_error(error)``.

        Both callbacks run on the GUI thread. An error without ``on_error`` is logged.
        """
        if self._closed:
            return
        relay = _Relay()
        self._relays.add(relay)

        def finish_ok(result: T) -> None:
            self._relays.discard(relay)
            relay.deleteLater()
            if self.accepting and on_done is not None:
                on_done(result)

        def finish_error(error: BaseException) -> None:
            self._relays.discard(relay)
            relay.deleteLater()
            if not self.accepting:
                return
            if on_error is not None:
                on_error(error)
            elif isinstance(error, DatabaseError):
                # A full disk or a damaged file: its message says what to do; no traceback.
                logger.error("background task failed: %s", error)
            else:
                logger.error(
                    "background task failed: %s",
                    "".join(traceback.format_exception(error)).rstrip(),
                )

        queued = Qt.ConnectionType.QueuedConnection
        relay.succeeded.connect(finish_ok, queued)
        relay.failed.connect(finish_error, queued)

        def run() -> None:
            try:
                result = work()
            except Exception as error:  # delivered to the GUI thread, never lost
                relay.failed.emit(error)
            else:
                relay.succeeded.emit(result)

        self._pool.start(run)

    @property
    def accepting(self) -> bool:
        """False once shut down, or once Qt deleted the runner with its owner: results
        are then dropped, so no callback reaches a deleted widget."""
        return not self._closed and shiboken6.isValid(self)

    @property
    def busy(self) -> bool:
        """True while a submitted task has not delivered its result yet."""
        return bool(self._relays)

    def shutdown(self, wait_ms: int = 10_000) -> None:
        """Drop future results and wait (up to ``wait_ms``) for running tasks to end."""
        self._closed = True
        self._pool.clear()
        self._pool.waitForDone(wait_ms)
