"""``JobProcess``: follows a managed ``rave preprocess`` or ``rave export`` job.

The same supervision as a training run (detached supervisor, log files, ``exit.json``),
with a kind-specific progress parser and a kind-specific check of what the job left
behind: RAVE's preprocess and export both exit 0 when they wrote nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from psygnal import Signal

from ravelab.core.rave.output_parser import OutputParser
from ravelab.core.runs.executor import Executor, RunHandle
from ravelab.core.runs.process_thread import ProcessThread
from ravelab.core.runs.run_files import ExitRecord
from ravelab.core.runs.run_outcome import Outcome, decide_outcome
from ravelab.core.runs.text_stream import LineSplitter
from ravelab.core.runs.training_process import STREAMS
from ravelab.db import Database, JobRecord
from ravelab.db import jobs as job_rows
from ravelab.db.job_progress import JobProgressUpdate
from ravelab.db.vocabulary import RunStatus

logger = logging.getLogger(__name__)

#: Parses one line of a job's output into progress updates.
LineParser = Callable[[str, str], JobProgressUpdate]
#: Checks what a job left behind; may turn a completed outcome into a failed one.
Finisher = Callable[[Database, JobRecord, Outcome], Outcome]


class JobProcess(ProcessThread):
    """Follows one job to its end.

    Signals:
        output_line(str, str, bool): stream, line, whether it is a tqdm redraw.
        progress_update(dict): the job's progress (kind-specific keys).
        finished(bool, str): success and a message, once.
    """

    output_line = Signal(str, str, bool)
    progress_update = Signal(dict)
    finished = Signal(bool, str)

    def __init__(
        self,
        db: Database,
        job_id: int,
        run_dir: Path,
        *,
        parse_line: LineParser,
        finish: Finisher,
        executor: Executor | None = None,
        handle: RunHandle | None = None,
        poll_interval: float = 0.2,
    ) -> None:
        super().__init__(name=f"job-{job_id}", poll_interval=poll_interval)
        self.db = db
        self.job_id = job_id
        self.run_dir = run_dir
        self.parse_line = parse_line
        self.finish = finish
        self.executor = executor
        self.handle = handle
        self.parser = OutputParser()  # tracebacks and absl FATAL lines give the reason
        self.outcome: Outcome | None = None
        self._fatal: str | None = None  # a line after which the job would hang
        self._splitters: dict[str, LineSplitter] = {}
        self.recover()

    def recover(self) -> None:
        """Read from the offsets the database holds (at creation, and after a poll whose
        transaction a database error rolled back)."""
        job = job_rows.get_job(self.db, self.job_id)
        offsets = job.progress.offsets if job else {}
        if job is not None and job.progress.last_error is not None:
            self.parser.reason = job.progress.last_error
        self._splitters = {s: LineSplitter(offsets.get(s, 0)) for s in STREAMS}

    def poll(self) -> bool:
        """Read new output, store progress, settle when ended; True when lines were read."""
        if self._done.is_set():
            return False
        exit_record = ExitRecord.read(self.run_dir)
        ended = exit_record is not None
        if (
            not ended
            and self.executor is not None
            and self.handle is not None
            and self.executor.state(self.run_dir, self.handle).alive is False
        ):
            exit_record = ExitRecord.read(self.run_dir)
            ended = True
        progress: JobProgressUpdate = {}
        offsets: dict[str, int] = {}
        count = 0
        for stream, filename in STREAMS.items():
            path = self.run_dir / filename
            if not path.exists():
                continue
            splitter = self._splitters[stream]
            with open(path, "rb") as handle:
                handle.seek(splitter.offset)
                data = handle.read()
            lines = splitter.feed(data) + (splitter.flush() if ended else [])
            for line in lines:
                self.output_line.emit(stream, line.text, line.transient)
                update = self.parse_line(line.text, stream)
                progress.update(update)
                parsed = self.parser.parse(line.text, stream)
                if parsed.reason:
                    progress["last_error"] = parsed.reason
                elif update.get("last_error"):
                    # A reason the job's own line parser found (a remote export's): the
                    # outcome says it instead of the bare exit status.
                    self.parser.reason = update["last_error"]
                offsets[stream] = line.end_offset
            count += len(lines)
        fatal = progress.get("fatal")
        if fatal and self._fatal is None:
            self._fatal = fatal
            if not ended and self.executor is not None and self.handle is not None:
                logger.warning("job %s will not finish by itself: %s", self.job_id, self._fatal)
                self.executor.request_stop(self.run_dir, self.handle)
        if count:
            job = job_rows.get_job(self.db, self.job_id)
            current = job.progress.as_dict() if job else {}
            current.update(progress)
            current["offsets"] = {**(job.progress.offsets if job else {}), **offsets}
            job_rows.update_job(self.db, self.job_id, progress=current)
            self.progress_update.emit(current)
        if ended:
            self._settle(exit_record)
        return count > 0

    def _settle(self, exit_record: ExitRecord | None) -> None:
        job = job_rows.get_job(self.db, self.job_id)
        if job is None:
            self._done.set()
            return
        outcome = decide_outcome(exit_record, self.parser, job.stop_requested_at is not None)
        fatal = self._fatal or job.progress.fatal
        if fatal and job.stop_requested_at is None:
            outcome = Outcome(RunStatus.FAILED, str(fatal), outcome.exit_code)
        outcome = self.finish(self.db, job, outcome)
        ended = job_rows.end_job(
            self.db, self.job_id, outcome.status, outcome.reason, outcome.exit_code
        )
        if not ended:
            settled = job_rows.get_job(self.db, self.job_id)
            if settled is not None:
                outcome = Outcome(settled.status, settled.reason, settled.exit_code)
        self.outcome = outcome
        self._done.set()
        logger.info("job %s (%s) ended: %s", self.job_id, job.kind, outcome)
        self.finished.emit(outcome.succeeded, str(outcome))
