"""``TrainingProcess``: follows one run's files and turns them into signals and rows.

The original API's class, a ``ProcessThread``. The run itself lives in a detached supervisor
(see ``ravelab.core.runs.supervisor``); this thread tails its ``stdout.log`` and
``stderr.log`` from the offsets stored in the database, parses every line, writes
metric points, offsets, latest metrics and progress in one transaction per poll, emits
the original API's signals, and settles the run's final status once it has ended. Re-reading is
idempotent, so a crash of the app at any moment loses nothing and duplicates nothing.

A run's files are untrusted input. A file that cannot be read (``stdout.log`` replaced by
a folder or a FIFO, an unreadable event file, a log shorter than what was read of it) is
passed over while the others are read, and the run's health becomes ``unreadable`` with a
reason naming the file; it turns ``ok`` again once the file reads. A poll that meets any
other error stores nothing of what it read, takes its offsets back from the database (so
nothing is lost: the bytes are read again), flags the health with the error, waits
longer before each retry (up to :data:`MAX_RETRY_S`), and never raises: the other runs
and the command that polled go on. A run that has ended is settled all the same once
:data:`SETTLE_AFTER_FAILURES` polls in a row have failed (counted in the run's progress as
``read_failures``, so one-shot commands that poll once each get there too).

The class keeps the poll loop (read, store, emit, settle); its parts live beside it:
``run_outcome`` (how a run ended: ``Outcome``, ``decide_outcome``, importable from here
too), ``progress_estimate`` (step rate, ETA, phase), ``checkpoint_scan`` (new, changed and
gone checkpoints and their steps) and ``follow_relay`` (a follower child's messages).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psygnal import Signal

from ravelab.core.rave import configs as rave_configs
from ravelab.core.rave.checkpoint_scan import CheckpointScan
from ravelab.core.rave.learning_rate import generator_lr
from ravelab.core.rave.output_parser import METRIC_PATTERNS, OutputParser, ParsedLine
from ravelab.core.runs.executor import Executor, ExecutorState, RunHandle
from ravelab.core.runs.follow_defaults import DEFAULT_STALLED_AFTER_S
from ravelab.core.runs.follow_relay import apply_relayed
from ravelab.core.runs.process_thread import ProcessThread
from ravelab.core.runs.progress_estimate import ProgressEstimate
from ravelab.core.runs.regular_files import open_regular
from ravelab.core.runs.remote_follower import RemoteFollower, child_argv
from ravelab.core.runs.run_files import STDERR_LOG, STDOUT_LOG, ExitRecord
from ravelab.core.runs.run_outcome import Outcome as Outcome  # also importable from here
from ravelab.core.runs.run_outcome import decide_outcome as decide_outcome
from ravelab.core.runs.text_stream import LineSplitter
from ravelab.core.tensorboard.run_events import AUDIO_DIR, EventsPoll, RunEventsFollower
from ravelab.db import Database, DatabaseError, artifacts
from ravelab.db import experiments as rows
from ravelab.db.progress import ProgressUpdate
from ravelab.db.vocabulary import Health, RunStatus

logger = logging.getLogger(__name__)

STREAMS = {"stdout": STDOUT_LOG, "stderr": STDERR_LOG}
#: RAVE (Lightning's default ``log_every_n_steps``) logs scalars every 50 steps.
RAVE_LOG_EVERY = 50
#: Bytes read per stream per poll, so a large backlog is taken in bounded bites.
MAX_READ_BYTES = 4 * 1024 * 1024
#: Learning-rate points added for one jump of the step (a bar that jumps further keeps the
#: latest ones): 100,000 logging steps is 5 million steps, more than a bar ever jumps.
MAX_SCHEDULE_POINTS = 100_000
#: Longest wait between two tries of a poll that keeps failing.
MAX_RETRY_S = 30.0
#: Failed polls in a row after which a run that has ended is settled all the same.
SETTLE_AFTER_FAILURES = 3
#: The health of a run one of whose files cannot be read.
UNREADABLE = Health.UNREADABLE


@dataclass
class _PollBatch:
    points: list[tuple[str, int, float, float]] = field(default_factory=list)
    latest: dict[str, Any] = field(default_factory=dict)
    progress: ProgressUpdate = field(default_factory=lambda: ProgressUpdate())
    offsets: dict[str, int] = field(default_factory=dict)
    step_advanced: bool = False
    lines: int = 0
    events: EventsPoll = field(default_factory=EventsPoll)
    checkpoints: list[artifacts.CheckpointRecord] = field(default_factory=list)
    checkpoint_paths: list[str] | None = None
    health: tuple[Health, str | None] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.lines
            or not self.events.empty
            or self.events.offsets
            or self.checkpoints
            or self.health
            or self.checkpoint_paths is not None
        )


class TrainingProcess(ProcessThread):
    """Follows one training run (the original API's ``TrainingProcess``).

    Args:
        config: the run's config dict (the original API's; ``max_steps`` and ``batch_size`` are
            used for progress).
        db: the database to write to; None for parsing only.
        experiment_id: the experiment this run belongs to.
        run_dir: the run folder (``stdout.log``, ``stderr.log``, ``exit.json``).
        executor: tells whether the run still lives (or waits in a queue).
        handle: how the executor finds the run (supervisor process or job id).
        poll_interval: seconds between polls while nothing happens.
        stalled_after_s: a live run whose step has not moved for this long is ``stalled``.
        out_of_process: when started as a thread, do the reading and parsing in a child
            process (``ravelab.core.runs.follow_child``) and relay its signals, so that this
            process (the app) spends no time on a run's output; see
            :mod:`ravelab.core.runs.remote_follower`. Needs a database file. ``output`` and
            ``output_line`` are relayed only if connected when the thread starts.

    Signals:
        output(str): every output line (ANSI removed), the original API's signal.
        output_line(str, str, bool): stream name, line, and whether it is a tqdm redraw.
        metrics_update(dict): latest values of the metrics that changed.
        step_update(int, int): the current step and max steps.
        progress_update(dict): epoch, batch, speed, ETA, phase and percent; emitted once
            per poll that read something (viewers use it as "new output arrived").
        status_update(str, str): ``queued`` (with the scheduler's reason) or ``running``.
        health_update(str, str): ``ok``, ``broken`` (NaN/inf in a scalar) or ``stalled``
            (no step for ``stalled_after_s`` while alive), and a detail.
        finished(bool, str): success and a message, once, when the run has ended.
    """

    output = Signal(str)
    output_line = Signal(str, str, bool)
    metrics_update = Signal(dict)
    step_update = Signal(int, int)
    progress_update = Signal(dict)
    health_update = Signal(str, str)
    status_update = Signal(str, str)
    finished = Signal(bool, str)

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        db: Database | None = None,
        experiment_id: int | None = None,
        run_dir: str | Path | None = None,
        executor: Executor | None = None,
        handle: RunHandle | None = None,
        poll_interval: float = 0.25,
        stalled_after_s: float = DEFAULT_STALLED_AFTER_S,
        out_of_process: bool = False,
    ) -> None:
        super().__init__(
            name=f"training-{experiment_id or config.get('name', '?')}",
            poll_interval=poll_interval,
        )
        self.config = dict(config)
        self.db = db
        self.experiment_id = experiment_id
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.executor = executor
        self.handle = handle
        self._queued: tuple[bool, str | None] | None = None  # (queued, reason) last written
        max_steps = self.config.get("max_steps")
        batch = self.config.get("batch_size")
        self.parser = OutputParser(
            int(max_steps) if max_steps else None, int(batch) if batch else None
        )
        self.metric_patterns = METRIC_PATTERNS
        self.current_metrics: dict[str, Any] = {}
        self.phase_1_duration = rave_configs.phase_1_duration(
            str(self.config.get("config") or "v2"),
            list(self.config.get("modifiers") or []),
            list(self.config.get("overrides") or []),
        )
        self.outcome: Outcome | None = None
        self._printed_lr = False
        self._settle_lock = threading.Lock()
        self._splitters: dict[str, LineSplitter] = {}
        self.stalled_after_s = stalled_after_s
        self.health = Health.OK
        self._estimate = ProgressEstimate(self.phase_1_duration)
        self._last_step_change = time.monotonic()
        self._checkpoints = CheckpointScan()
        self.out_of_process = out_of_process
        self._remote: RemoteFollower | None = None
        self._events: RunEventsFollower | None = None
        self._unreadable: str | None = None  # the detail of an "unreadable" health we set
        self._failures = 0  # polls failed in a row
        self._stored_failures = 0  # the same, as the database has it (across processes)
        self._retry_at = 0.0
        self._restore()

    def recover(self) -> None:
        """After a poll failed on a database error: what it read was not stored, so read
        again from the offsets the database holds."""
        self._restore()

    def _restore(self) -> None:
        """Take up where the database says the run was read to (offsets, progress, latest
        metrics, health, checkpoints): at creation, and again after a follower child that
        advanced them has gone."""
        offsets: dict[str, int] = {}
        db, experiment_id = self.db, self.experiment_id
        if db is not None and experiment_id is not None:
            offsets = rows.get_offsets(db, experiment_id)
            record = rows.get_experiment(db, experiment_id)
            if record is not None:
                self.parser.restore(record.progress)
                self.current_metrics.update(record.metrics)
                self.health = record.health
                self._stored_failures = record.progress.read_failures
            self._checkpoints.restore(artifacts.list_checkpoints(db, experiment_id))
        for stream in STREAMS:
            self._splitters[stream] = LineSplitter(offsets.get(stream, 0))
        self._events = (
            RunEventsFollower(self.run_dir, offsets, self.run_dir / AUDIO_DIR)
            if self.run_dir is not None
            else None
        )

    @property
    def max_steps(self) -> int | None:
        """The run's max steps, as configured."""
        return self.parser.max_steps

    # -- the original API's parsing -----------------------------------------------------------

    def parse_progress(self, line: str) -> tuple[int | None, str]:
        """Parse one line: ``(percent of max_steps, line)`` when it carries a step.

        Updates ``current_metrics`` with what the line set.
        """
        parsed = self.parser.parse(line)
        self._absorb(parsed, _PollBatch(), time.time())
        if parsed.step is not None:
            return self.parser.percent(parsed.step), line
        return None, line

    def _absorb(self, parsed: ParsedLine, batch: _PollBatch, wall: float) -> None:
        previous_step = self.current_metrics.get("step")
        if parsed.metrics:
            step = parsed.step if parsed.step is not None else self.parser.step
            for name, value in parsed.metrics.items():
                self.current_metrics[name] = value
                batch.latest[name] = value
                if name != "epoch":
                    batch.points.append((name, step, value, wall))
            if "lr" in parsed.metrics:
                self._printed_lr = True
        if parsed.step is not None:
            if parsed.step_from_bar and not self._printed_lr:
                self._schedule_points(previous_step, parsed.step, batch, wall)
            self.current_metrics["step"] = parsed.step
            batch.latest["step"] = parsed.step
            batch.step_advanced = True
        if parsed.progress:
            batch.progress.update(parsed.progress)
        if parsed.reason:
            batch.progress["last_error"] = parsed.reason

    def _schedule_points(self, previous: object, step: int, batch: _PollBatch, wall: float) -> None:
        """RAVE prints no learning rate: add its fixed schedule at its logging steps."""
        start = int(previous) if isinstance(previous, int | float) else 0
        # A jump far beyond any real one (a garbled bar) must not become billions of points.
        start = max(start, step - MAX_SCHEDULE_POINTS * RAVE_LOG_EVERY)
        first = (start // RAVE_LOG_EVERY + 1) * RAVE_LOG_EVERY
        for count in range(first, step + 1, RAVE_LOG_EVERY):
            logged_step = count - 1  # TensorBoard's step for the count-th batch
            lr = generator_lr(logged_step, self.phase_1_duration)
            batch.points.append(("lr", logged_step, lr, wall))
            batch.latest["lr"] = lr
            self.current_metrics["lr"] = lr

    # -- following -----------------------------------------------------------------------------

    def follow(self) -> None:
        """The thread's loop: in a follower child when ``out_of_process`` (falling back to
        this thread if the child fails), else here."""
        if self.out_of_process and self._follow_remote():
            return
        super().follow()

    def halt(self) -> None:
        super().halt()
        remote = self._remote
        if remote is not None:
            remote.stop()

    def _follow_remote(self) -> bool:
        """Follow in a child process; False when this thread must take the run up."""
        db, experiment_id = self.db, self.experiment_id
        if db is None or experiment_id is None or self.run_dir is None or db.path == ":memory:":
            return False
        # The per-line signals cross the pipe only when someone here listens to them.
        lines = bool(len(self.output) or len(self.output_line))
        argv = child_argv(db.path, experiment_id, self.poll_interval, self.stalled_after_s, lines)
        self._remote = RemoteFollower(argv, self.apply_relayed, self.name)
        if self.halted:
            return True
        relayed = self._remote.run()
        if not self._done.is_set():
            # The child stored what it read: a later poll here (a fallback now, or a
            # manager's wait() after a halt) goes on from there, not from the start.
            try:
                self._restore()
            except DatabaseError as error:
                logger.error("%s: %s (reading it again at the next poll)", self.name, error)
                self.recover_needed = True
        return relayed

    def apply_relayed(self, message: Mapping[str, Any]) -> None:
        """Take in one message of a follower child: update this object's state and emit
        the signals the child's process emitted (see ``ravelab.core.runs.follow_relay``)."""
        apply_relayed(self, message)

    def finish_relayed(self, outcome: Outcome, ok: bool, message: str) -> None:
        """The follower child settled the run: take its outcome, once."""
        with self._settle_lock:
            if self._done.is_set():
                return
            self.outcome = outcome
            self._done.set()
        self.finished.emit(ok, message)

    def poll(self) -> bool:
        """Read what is new, store it, emit signals; settle when the run has ended.

        Never raises for what the run's files hold (see the module docstring); a database
        error is raised, as the caller's database is the caller's to handle.

        Returns:
            True when something was read (the caller may poll again at once).
        """
        if self.db is None or self.experiment_id is None or self.run_dir is None:
            raise RuntimeError("TrainingProcess.poll needs db, experiment_id and run_dir")
        if self._done.is_set():
            return False
        if self._failures and time.monotonic() < self._retry_at:
            return False
        if self.recover_needed:  # raises a database error again while it lasts
            self._restore()
            self.recover_needed = False
        try:
            busy = self._poll()
        except DatabaseError:
            raise
        except Exception as error:  # a follower must survive whatever a run's files hold
            self._poll_failed(error)
            return False
        if self._failures or self._stored_failures:
            rows.merge_progress(self.db, self.experiment_id, {"read_failures": 0})
            self._failures = self._stored_failures = 0
        return busy

    def _poll(self) -> bool:
        assert self.run_dir is not None
        exit_record = ExitRecord.read(self.run_dir)
        ended = exit_record is not None
        state: ExecutorState | None = None
        if not ended and self.executor is not None and self.handle is not None:
            state = self.executor.state(self.run_dir, self.handle)
            if state.alive is False:
                exit_record = ExitRecord.read(self.run_dir)
                ended = True
            else:
                self._track_queue(state)
        batch = self._read(drain=ended)
        if state is not None and state.problem:
            batch.problems.append(state.problem)
        self._read_events(batch, drain=ended)
        self._scan_checkpoints(batch, force=ended)
        self._check_stalled(batch, alive=not ended)
        self._check_readable(batch)
        self._store(batch)
        self._emit(batch)
        if ended:
            self._settle(exit_record, state)
        return batch.lines > 0 or batch.events.more_pending

    def _poll_failed(self, error: Exception) -> None:
        """A poll failed: forget what it read (the database's offsets say where to read
        again), flag the run, wait longer before the next try; settle a run that ended."""
        assert self.db is not None and self.experiment_id is not None and self.run_dir
        self._failures += 1
        self._retry_at = time.monotonic() + self._backoff()
        detail = f"reading the run failed: {type(error).__name__}: {error}"[:500]
        if self._failures == 1:
            logger.exception("run %s: %s", self.experiment_id, detail)
        else:
            logger.debug("run %s: %s (again)", self.experiment_id, detail)
        try:
            self._restore()
            # Counted in the database too, so that one-shot commands, each of which polls
            # once, also settle an ended run whose reading keeps failing.
            self._failures = max(self._failures, self._stored_failures + 1)
            self._retry_at = time.monotonic() + self._backoff()
            rows.merge_progress(self.db, self.experiment_id, {"read_failures": self._failures})
            self._stored_failures = self._failures
            if self.health != UNREADABLE or self._unreadable != detail:
                rows.update_fields(
                    self.db, self.experiment_id, health=UNREADABLE, health_detail=detail
                )
                self.health, self._unreadable = UNREADABLE, detail
                self.health_update.emit(UNREADABLE, detail)
            exit_record = ExitRecord.read(self.run_dir)
            if exit_record is not None and self._failures >= SETTLE_AFTER_FAILURES:
                # Nothing stuck: the run ended, and reading it keeps failing. What could
                # be read is stored; what could not is named in the health.
                self._settle(exit_record)
        except DatabaseError:
            raise
        except Exception:
            logger.exception("run %s: recording a failed read failed too", self.experiment_id)

    def _backoff(self) -> float:
        """Seconds to wait after ``_failures`` failed polls: doubling, up to MAX_RETRY_S."""
        return min(self.poll_interval * float(2 ** min(self._failures, 16)), MAX_RETRY_S)

    def _check_readable(self, batch: _PollBatch) -> None:
        """Flag a run whose files cannot be read (or clear the flag once they can)."""
        problems = list(dict.fromkeys(batch.problems + batch.events.problems))
        if problems:
            detail = "; ".join(problems)[:500]
            # A NaN ("broken") says more about the run than a file it cannot read.
            if detail != self._unreadable and batch.health is None and self.health != Health.BROKEN:
                batch.health = (UNREADABLE, detail)
                self._unreadable = detail
        elif self.health == UNREADABLE and batch.health is None:
            # Every file reads (this process may not be the one that flagged the run).
            batch.health = (Health.OK, None)
            self._unreadable = None

    def _track_queue(self, state: ExecutorState) -> None:
        """A run waiting in a scheduler's queue is ``queued`` (with the reason, kept current:
        SLURM gives none at first, then e.g. ``Resources``, then ``Priority``)."""
        assert self.db is not None and self.experiment_id is not None
        current = (state.queued, state.detail if state.queued else None)
        if current == self._queued:
            return
        self._queued = current
        status = RunStatus.QUEUED if state.queued else RunStatus.RUNNING
        if state.queued:
            rows.mark_queued(self.db, self.experiment_id, state.detail)
        else:
            # Only the queue's reason goes with the queue: a running run's reason (a damaged
            # run file, a re-attach error) was written by someone else and stays.
            rows.mark_left_queue(self.db, self.experiment_id)
        self.status_update.emit(status, state.detail or "")

    def ingest(self) -> None:
        """Read everything the run folder holds now, without settling (imports)."""
        if self.db is None or self.experiment_id is None or self.run_dir is None:
            raise RuntimeError("TrainingProcess.ingest needs db, experiment_id and run_dir")
        batch = self._read(drain=True)
        self._read_events(batch, drain=True)
        self._scan_checkpoints(batch, force=True)
        self._store(batch)
        self._emit(batch)

    def _read_events(self, batch: _PollBatch, drain: bool) -> None:
        """TensorBoard scalars (RAVE's losses), audio clips and text summaries."""
        if self._events is None:
            return
        rescan = drain  # the run has ended: look for a version folder made since the last scan
        while True:
            events = self._events.poll(rescan=rescan)
            rescan = False
            batch.events.points.extend(events.points)
            batch.events.nonfinite.extend(events.nonfinite)
            batch.events.clips.extend(events.clips)
            batch.events.validations.extend(events.validations)
            batch.events.texts.update(events.texts)
            batch.events.offsets.update(events.offsets)
            batch.events.problems.extend(events.problems)
            batch.events.train_steps |= events.train_steps
            batch.events.more_pending = events.more_pending
            if events.max_step is not None:
                previous = batch.events.max_step
                batch.events.max_step = max(events.max_step, previous or 0)
            if not (drain and events.more_pending):
                break
        wall = time.time()
        for name, _step, value, _wall in batch.events.points:
            self.current_metrics[name] = value
            batch.latest[name] = value
        if not self._printed_lr:
            for logged_step in sorted(batch.events.train_steps):
                lr = generator_lr(logged_step, self.phase_1_duration)
                batch.events.points.append(("lr", logged_step, lr, wall))
                batch.latest["lr"] = self.current_metrics["lr"] = lr
        if batch.events.max_step is not None and batch.events.max_step + 1 > self.parser.step:
            # TensorBoard's step N is the (N+1)-th batch; runs without a bar
            # (--noprogress) get their progress from here.
            self.parser.step = batch.events.max_step + 1
            self.current_metrics["step"] = batch.latest["step"] = self.parser.step
            batch.step_advanced = True
        if batch.events.nonfinite and self.health != Health.BROKEN:
            point = batch.events.nonfinite[0]
            detail = f"{point.value} in {point.tag} at step {point.step}"
            batch.health = (Health.BROKEN, detail)

    def _scan_checkpoints(self, batch: _PollBatch, force: bool) -> None:
        if self.run_dir is None:
            return
        found = self._checkpoints.scan(
            self.run_dir, force, self.parser.batches_per_epoch, self.parser.step
        )
        if found is not None:
            batch.checkpoints.extend(found.changed)
            batch.checkpoint_paths = found.present

    def _check_stalled(self, batch: _PollBatch, alive: bool) -> None:
        now = time.monotonic()
        if batch.step_advanced:
            self._last_step_change = now
            self._estimate.record_step(now, self.parser.step)
            if self.health == Health.STALLED:
                batch.health = (Health.OK, None)
        elif (
            alive
            and self.health == Health.OK
            and now - self._last_step_change > self.stalled_after_s
        ):
            minutes = self.stalled_after_s / 60
            batch.health = (
                Health.STALLED,
                f"no step for {minutes:.0f} min at step {self.parser.step} while the "
                "process is alive",
            )

    def step_rate(self) -> float | None:
        """Steps per second over the recent window (None until known)."""
        return self._estimate.step_rate(self.parser.speed)

    def _read(self, drain: bool) -> _PollBatch:
        assert self.run_dir is not None
        batch = _PollBatch()
        wall = time.time()
        # An emit costs microseconds even with nobody connected, and a run may print 10,000
        # lines a second: the per-line signals are emitted only when someone listens.
        emit_output = self.output.emit if len(self.output) else None
        emit_line = self.output_line.emit if len(self.output_line) else None
        for stream, filename in STREAMS.items():
            try:
                self._read_stream(stream, filename, batch, drain, wall, emit_output, emit_line)
            except OSError as error:
                # Lines read before the error are in the batch with their offsets.
                batch.problems.append(f"cannot read {filename}: {error}")
        return batch

    def _read_stream(
        self,
        stream: str,
        filename: str,
        batch: _PollBatch,
        drain: bool,
        wall: float,
        emit_output: Callable[..., object] | None,
        emit_line: Callable[..., object] | None,
    ) -> None:
        assert self.run_dir is not None
        splitter = self._splitters[stream]
        try:
            handle = open_regular(self.run_dir / filename)
        except FileNotFoundError:
            return
        with handle:
            offset = splitter.offset
            size = os.fstat(handle.fileno()).st_size
            if size < offset:
                batch.problems.append(
                    f"{filename} holds {size} bytes, fewer than the {offset} already read: "
                    "it was replaced or cut; its new lines are not read"
                )
                return
            handle.seek(offset)
            while True:
                data = handle.read(MAX_READ_BYTES)
                lines = splitter.feed(data) if data else []
                if drain and not data:
                    lines = splitter.flush()
                for line in lines:
                    if emit_output is not None:
                        emit_output(line.text)
                    if emit_line is not None:
                        emit_line(stream, line.text, line.transient)
                    self._absorb(self.parser.parse(line.text, stream), batch, wall)
                    batch.offsets[stream] = line.end_offset
                batch.lines += len(lines)
                if not drain or not data:
                    break

    def _store(self, batch: _PollBatch) -> None:
        assert self.db is not None and self.experiment_id is not None
        if not batch.changed:
            return
        batch.progress.update(self._estimate.progress(self.parser))
        events = batch.events
        with self.db.atomic():
            rows.insert_points(self.db, self.experiment_id, batch.points)
            rows.insert_points(self.db, self.experiment_id, events.points)
            rows.set_offsets(self.db, self.experiment_id, {**batch.offsets, **events.offsets})
            rows.merge_metrics(self.db, self.experiment_id, batch.latest)
            rows.merge_progress(self.db, self.experiment_id, batch.progress)
            artifacts.insert_audio_clips(self.db, self.experiment_id, events.clips)
            artifacts.insert_validations(self.db, self.experiment_id, events.validations)
            artifacts.set_texts(self.db, self.experiment_id, events.texts)
            artifacts.upsert_checkpoints(self.db, self.experiment_id, batch.checkpoints)
            if batch.checkpoint_paths is not None:
                artifacts.delete_missing_checkpoints(
                    self.db, self.experiment_id, batch.checkpoint_paths
                )
            if batch.health is not None:
                rows.update_fields(
                    self.db,
                    self.experiment_id,
                    health=batch.health[0],
                    health_detail=batch.health[1],
                )
        if batch.health is not None:
            self.health = batch.health[0]

    def _emit(self, batch: _PollBatch) -> None:
        if batch.latest:
            self.metrics_update.emit(dict(batch.latest))
        if batch.step_advanced:
            self.step_update.emit(self.parser.step, self.parser.max_steps or 0)
        if batch.progress:
            self.progress_update.emit(dict(batch.progress))
        if batch.health is not None:
            self.health_update.emit(batch.health[0], batch.health[1] or "")

    def _settle(self, exit_record: ExitRecord | None, state: ExecutorState | None = None) -> None:
        assert self.db is not None and self.experiment_id is not None
        with self._settle_lock:
            if self._done.is_set():
                return
            record = rows.get_experiment(self.db, self.experiment_id)
            stop_requested = record is not None and record.stop_requested_at is not None
            outcome = decide_outcome(exit_record, self.parser, stop_requested)
            if exit_record is None and state is not None and state.outcome is not None:
                # The scheduler knows how a run that left no exit.json ended.
                status, reason = state.outcome
                if stop_requested and status == RunStatus.FAILED:
                    status, reason = RunStatus.STOPPED, "stopped by the user"
                outcome = Outcome(status, reason, None)
            ended = rows.end_experiment(
                self.db, self.experiment_id, outcome.status, outcome.reason, outcome.exit_code
            )
            if not ended:
                # Another follower (another app or CLI) settled it first: take its word.
                record = rows.get_experiment(self.db, self.experiment_id)
                if record is not None:
                    outcome = Outcome(record.status, record.reason, record.exit_code)
            self.outcome = outcome
            self._done.set()
        logger.info("run %s ended: %s", self.experiment_id, outcome)
        self.finished.emit(outcome.succeeded, str(outcome))
