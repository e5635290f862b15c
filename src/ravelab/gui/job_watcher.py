"""``JobWatcher``: follows one managed job (``rave export``, ``rave preprocess``) from the GUI.

The core's ``JobProcess`` writes the job's progress and outcome to the ``jobs`` table; the
watcher reads that row in a worker every ``interval_ms`` and reports on the GUI thread,
so no core signal crosses threads and a job started elsewhere is followed the same way.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from ravelab.core.jobs.job_manager import JobManager
from ravelab.db import JobRecord
from ravelab.gui.workers import TaskRunner

#: A job's progress keys -> a short phrase (the rest is shown as it is).
_STAGE_TEXT = {"done": "done"}


def describe_progress(job: JobRecord) -> str:
    """One line on where a job stands (its stage or percentage, else its status)."""
    progress = job.progress
    if job.ended_at is not None:
        return job.status + (f": {job.reason}" if job.reason else "")
    if progress.percent is not None:
        return f"{progress.percent:.0f}%"
    if progress.chunks is not None:
        return f"{progress.chunks:,} chunks written"
    if progress.stage:
        return _STAGE_TEXT.get(progress.stage, progress.stage)
    return job.status


class JobWatcher(QObject):
    """Reads a job's row until it has ended.

    Args:
        jobs: the manager's ``JobManager``.
        job_id: the job to follow.
        interval_ms: time between two reads.
        parent: the owning QObject.

    Signals:
        updated(object): the job's ``JobRecord`` (each read).
        finished(object): the ended job's ``JobRecord`` (once).
    """

    updated = Signal(object)
    finished = Signal(object)

    def __init__(
        self, jobs: JobManager, job_id: int, interval_ms: int = 250, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.job_id = job_id
        self.job: JobRecord | None = None
        self._runner = TaskRunner(self)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._poll)
        self._timer.start()
        self._poll()

    @property
    def done(self) -> bool:
        """True once the job has ended (and ``finished`` was emitted)."""
        return self.job is not None and self.job.ended_at is not None

    def _poll(self) -> None:
        if self._runner.busy or self.done:
            return
        jobs, job_id = self.jobs, self.job_id
        self._runner.submit(lambda: jobs.get_job(job_id), self._on_read, lambda _e: None)

    def _on_read(self, job: JobRecord) -> None:
        if self.done:
            return
        self.job = job
        self.updated.emit(job)
        if job.ended_at is not None:
            self._timer.stop()
            self.finished.emit(job)

    def stop(self) -> None:
        """Stop following (the job goes on)."""
        self._timer.stop()
        self._runner.shutdown()


__all__ = ["JobWatcher", "describe_progress"]
