"""``LatestTask``: one task at a time on a runner, and only the newest request waiting.

A dragged slider asks for many clips in a row; only the last one matters, so while a task
runs, a new request replaces the one waiting instead of queueing behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ravelab.gui.workers import TaskRunner

logger = logging.getLogger(__name__)


class LatestTask:
    """Runs one task at a time on a runner; while one runs, only the newest request waits
    (a dragged slider asks for many clips, only the last matters)."""

    def __init__(self, runner: TaskRunner) -> None:
        self.runner = runner
        self.busy = False
        self._pending: tuple[Callable[[], Any], Callable[[Any], None]] | None = None

    def submit(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        if self.busy:
            self._pending = (work, done)
        else:
            self._start(work, done)

    def _start(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        self.busy = True

        def finish(result: Any) -> None:
            self.busy = False
            if self._pending is None:
                done(result)  # a result already superseded is not shown
            self._next()

        def fail(error: BaseException) -> None:
            self.busy = False
            logger.warning("listening: %s", error)
            self._next()

        self.runner.submit(work, finish, fail)

    def _next(self) -> None:
        if self._pending is not None:
            work, done = self._pending
            self._pending = None
            self._start(work, done)
