"""``ReattachMixin.reattach``: taking up every unfinished run again when a manager is made.

Live runs are followed (a thread each), dead ones are settled from their ``exit.json``
or marked failed ("process lost"), so no run ever stays falsely ``running``. A run being
launched is left alone while its launcher lives; once the launcher is provably gone its
processes are adopted (found by their ``RAVELAB_RUN_DIR`` marker) or it is settled as
never started. Queued runs (rows in ``run_queue``) are left alone; a run the queue claimed
whose claimer died before starting anything goes back to the head of its queue instead.
Each run is re-attached on its own: a damaged run file flags that run (its
``reason`` names the file and field) and never stops the others.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ravelab.core.runs.executor import (
    is_live_supervisor,
    newest_checkpoint_time,
    pick_supervisor,
    run_processes,
    stop_run_processes,
)
from ravelab.core.runs.launch_owner import launcher_gone
from ravelab.core.runs.manager_base import ManagerBase, handle_of, logger
from ravelab.core.runs.process_identity import HOST, is_alive
from ravelab.core.runs.run_files import (
    DAMAGED_PREFIX,
    EXIT_FILE,
    REMOTE_FILE,
    STDOUT_LOG,
    SUPERVISOR_FILE,
    SupervisorInfo,
)
from ravelab.db import DatabaseError, ExperimentRecord
from ravelab.db import experiments as rows
from ravelab.db import run_queue as queue_rows
from ravelab.db.vocabulary import RunStatus


class ReattachMixin(ManagerBase):
    """The re-attach part of ``TrainingManager``."""

    def reattach(self) -> None:
        """Follow every unfinished run and job again; settle those that ended meanwhile.

        Each run is taken on its own: whatever goes wrong with one (a damaged run file)
        is logged and flagged on that run, and the others are still re-attached.
        """
        try:
            self.jobs.reattach()
        except Exception as error:
            trace = None if isinstance(error, DatabaseError) else error
            logger.error("re-attaching jobs failed: %s", error, exc_info=trace)
        # Queued runs wait for their device: the queue's claim starts them, not this.
        queued = queue_rows.queued_ids(self.db)
        for record in [*rows.unlaunched_experiments(self.db), *self._stopped_unlaunched()]:
            if record.id in queued:
                continue
            try:
                self._reattach_unlaunched(record)
            except Exception as error:  # one run's trouble never stops the others
                self._flag(record.id, error)
        for record in rows.unended_experiments(self.db):
            if record.id in self.active_processes or record.run_dir is None:
                continue
            self._take_up(record)

    def recover_abandoned_claims(self) -> None:
        """Runs claimed from the queue whose claimer died before starting anything go
        back to their queue (or are adopted, if they did start): called by the warden's
        queue duty on every tick, so a device is never held by a dead claimer for longer
        than that while the warden lives."""
        queued = queue_rows.queued_ids(self.db)
        for record in rows.unlaunched_experiments(self.db):
            if record.id in queued or not isinstance(record.config.get(queue_rows.QUEUE_KEY), dict):
                continue
            try:
                self._reattach_unlaunched(record)
            except Exception as error:  # one run's trouble never stops the others
                self._flag(record.id, error)

    def _take_up(self, record: ExperimentRecord) -> bool:
        """Follow ``record`` again; False (and the run flagged) when that failed: one
        run's trouble never stops the others."""
        try:
            self._follow_again(record)
        except Exception as error:
            self.active_processes.pop(record.id, None)
            self._flag(record.id, error)
            return False
        return True

    def follow_new_runs(self) -> list[int]:
        """Follow the unended runs that another process started or resumed (a CLI's
        ``train`` or ``resume``, another app) and this manager does not follow yet; the
        ids taken up. Runs this process launches are left to the launch that registers
        them (so a run is never followed twice), and so are rows still being launched.
        """
        taken = []
        for record in rows.unended_experiments(self.db):
            if record.id in self.active_processes or record.run_dir is None:
                continue
            owner = rows.launch_owner(self.db, record.id)
            if owner is not None and owner.pid == os.getpid() and owner.host == HOST:
                continue
            if self._take_up(record):
                taken.append(record.id)
        return taken

    def _follow_again(self, record: ExperimentRecord) -> None:
        assert record.run_dir is not None
        run_dir = Path(record.run_dir)
        process = self._make_process(record.id, record.config, run_dir, handle_of(record))
        self.register_process(record.id, process)
        if self.follow:
            process.start()
        else:
            process.poll()  # catch up now; settles it if it has ended
        self._keep_checkpoint_stop(record.id)
        # The follower clears only a queue's reason, so this stays whatever it read first.
        info = SupervisorInfo.read(run_dir)
        if info is not None and info.problem is not None:
            logger.warning("run %s: %s", record.id, info.problem)
            self._set_reason(record.id, f"{DAMAGED_PREFIX}{info.problem}")

    def _keep_checkpoint_stop(self, experiment_id: int) -> None:
        """A stop at the next checkpoint lives in the supervisor: if it died, a detached
        stopper takes the request over (waiting for a checkpoint newer than the newest
        one when it was asked), so the run neither trains on for ever nor loses its checkpoint."""
        record = rows.get_experiment(self.db, experiment_id)
        if (
            record is None
            or not record.stop_at_checkpoint
            or record.status != RunStatus.RUNNING
            or record.ended_at is not None
            or record.executor != "local"
            or record.run_dir is None
        ):
            return
        supervisor = handle_of(record).supervisor
        if supervisor is not None and (
            is_alive(supervisor) is None or is_live_supervisor(supervisor)
        ):
            return  # it holds the request (or another host's does)
        run_dir = Path(record.run_dir)
        after = record.progress.stopping_at_checkpoint_after
        if after is None or after < 0:
            after = newest_checkpoint_time(run_dir)  # asked by a version that kept no baseline
        if stop_run_processes(run_dir, at_checkpoint_after=after):
            logger.warning(
                "run %s: its supervisor is gone: a stopper waits for its next checkpoint",
                experiment_id,
            )

    def _stopped_unlaunched(self) -> list[ExperimentRecord]:
        """Rows stopped while they were being launched, with no process recorded and no
        end: their launcher may have started the run and died before recording it, so
        they are re-attached like any unlaunched row (else the run's output is never
        read and the row never ends)."""
        found = rows.stopped_unlaunched_ids(self.db)
        records = (rows.get_experiment(self.db, experiment_id) for experiment_id in found)
        return [record for record in records if record is not None]

    def _reattach_unlaunched(self, record: ExperimentRecord) -> None:
        """A row with no process recorded: leave it to a launcher that still lives, else
        adopt the run's processes, else settle it as never started."""
        owner = rows.launch_owner(self.db, record.id)
        if not launcher_gone(owner):
            return  # still being launched (or, from another host, its lease holds)
        run_dir = Path(record.run_dir) if record.run_dir else None
        if (
            run_dir is not None
            and "ssh" in (record.executor, record.config.get("executor"))
            and (run_dir / REMOTE_FILE).exists()
            and owner is not None
        ):
            # Sent to a remote whose answer never came back (or whose launcher died after
            # sending it): the remote knows whether it runs. Followed with the (dead)
            # launcher as its process; the remote's answer settles it or keeps it.
            rows.update_fields(self.db, record.id, executor="ssh")
            rows.claim_process(self.db, record.id, owner.pid, owner.start_time, owner.host)
            return
        if run_dir is not None and record.executor == "local":
            found = run_processes(run_dir)
            if found:
                # The launcher died after starting the supervisor: adopt the run.
                chosen = pick_supervisor(found)
                if chosen is not None:
                    if rows.claim_process(
                        self.db, record.id, chosen.pid, chosen.start_time, chosen.host
                    ):
                        logger.warning("run %s: adopted its process %s", record.id, chosen.pid)
                    return  # followed by the caller's loop over unended runs
            # A log read before belongs to an earlier attempt (a resume whose launcher died
            # before starting anything): only a new supervisor's files say it started.
            started = any((run_dir / name).exists() for name in (SUPERVISOR_FILE, EXIT_FILE)) or (
                (run_dir / STDOUT_LOG).exists() and not rows.get_offsets(self.db, record.id)
            )
            if started and owner is not None:
                # It ran and ended unseen: follow it with the (dead) launcher as its
                # process, which reads its output and settles it from what it left.
                rows.claim_process(self.db, record.id, owner.pid, owner.start_time, owner.host)
                return
        marker = record.config.get(queue_rows.QUEUE_KEY)
        if (
            isinstance(marker, dict)
            and record.stop_requested_at is None
            and queue_rows.requeue(self.db, record.id, owner, marker)
        ):
            # Claimed from the queue, and its claimer died before starting anything: it
            # goes back to the head of its device's queue (never lost, never doubled).
            logger.warning(
                "run %s: its claimer%s ended before starting it: queued again",
                record.id,
                f" (pid {owner.pid})" if owner is not None else "",
            )
            return
        launcher = f" (pid {owner.pid})" if owner is not None else ""
        if record.stop_requested_at is not None:
            status, reason = RunStatus.STOPPED, "stopped by the user before it started"
        else:
            status = RunStatus.FAILED
            reason = (
                f"never started: the command that launched it{launcher} ended before starting it"
            )
        rows.settle_unlaunched(self.db, record.id, status, reason)

    def _flag(self, experiment_id: int, error: Exception) -> None:
        # A database error is the user's to act on (disk full, a damaged file): its one
        # line says what to do, a traceback would only bury it.
        trace = None if isinstance(error, DatabaseError) else error
        logger.error("run %s cannot be followed: %s", experiment_id, error, exc_info=trace)
        self._set_reason(experiment_id, f"ravelab cannot follow this run: {error}")

    def _set_reason(self, experiment_id: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # flagging must never fail the re-attach
            rows.set_unended_reason(self.db, experiment_id, reason[:500])
