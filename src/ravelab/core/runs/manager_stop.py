"""``StopMixin.stop_training``: asking a run to stop, now or at its next checkpoint.

A run that ended before the stop is settled instead of called stopped; a local run of
another machine is refused in words; a run already stopped whose processes live on is
asked again (which escalates). ``steps_since_checkpoint`` says what a plain stop loses.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from ravelab.core.errors import ConfigError, LaunchError, NotFoundError
from ravelab.core.runs.executor import newest_checkpoint_time, run_processes
from ravelab.core.runs.manager_base import ManagerBase, handle_of
from ravelab.core.runs.process_identity import HOST
from ravelab.core.runs.run_files import ExitRecord
from ravelab.db import ExperimentRecord, artifacts
from ravelab.db import experiments as rows
from ravelab.db import run_queue as queue_rows
from ravelab.db.experiments import utc_now
from ravelab.db.vocabulary import RunStatus


class StopMixin(ManagerBase):
    """The stop part of ``TrainingManager``."""

    def stop_training(self, experiment_id: int, *, at_checkpoint: bool = False) -> bool:
        """Ask a running experiment to stop (SIGINT, then SIGTERM, then SIGKILL).

        RAVE writes no checkpoint when interrupted: what it trained since its last
        validation is lost (``steps_since_checkpoint`` says how much). With
        ``at_checkpoint`` the stop waits until RAVE has written its next checkpoint.

        A run already stopped or settled whose processes still live (shutting down, or
        an orphaned trainer) is asked again, which escalates at once.

        Returns:
            False for an unknown or already finished experiment; True once the run was
            asked to stop (its status is then ``stopped``; with ``at_checkpoint`` it stays
            ``running`` until the checkpoint is written).

        Raises:
            ConfigError: a local run of another machine, whose processes this one cannot
                see (nothing changes).
        """
        record = rows.get_experiment(self.db, experiment_id)
        if record is None:
            return False
        self._refuse_another_hosts_run(record)
        if not record.status.is_live:
            # Stopped already, or settled while its processes live on (an orphaned
            # trainer): a stop is accepted again while anything of the run lives, and
            # re-sends the stop (or escalates where the supervisor is gone).
            if at_checkpoint or record.run_dir is None or not self._still_lives(record):
                return False
            self._executor_named(record.executor).request_stop(
                Path(record.run_dir), handle_of(record)
            )
            return True
        if queue_rows.withdraw(self.db, experiment_id):
            return True  # it was queued: it never started, so it ends here
        if self._ended_unsettled(record):
            # The trainer ended before this stop (its supervisor wrote exit.json): marking
            # the row would call a completed or failed run stopped. Settle it instead.
            self._settle_now(experiment_id)
            return False
        if at_checkpoint and record.status == RunStatus.RUNNING and record.run_dir is not None:
            # Recorded first: re-attaching passes the request on to a stopper if the
            # supervisor that holds it dies before the checkpoint.
            rows.update_fields(self.db, experiment_id, stop_at_checkpoint=1)
            rows.merge_progress(
                self.db,
                experiment_id,
                {
                    "stopping_at_checkpoint": True,
                    "stopping_at_checkpoint_after": newest_checkpoint_time(Path(record.run_dir)),
                },
            )
            try:
                asked = self._executor_named(record.executor).request_checkpoint_stop(
                    Path(record.run_dir), handle_of(record)
                )
            except LaunchError:
                # Not delivered (a remote that cannot be reached): undone, and said.
                rows.update_fields(self.db, experiment_id, stop_at_checkpoint=0)
                rows.merge_progress(self.db, experiment_id, {"stopping_at_checkpoint": False})
                raise
            if asked:
                return True
            rows.update_fields(self.db, experiment_id, stop_at_checkpoint=0)
            rows.merge_progress(self.db, experiment_id, {"stopping_at_checkpoint": False})
            return False
        before = record
        rows.update_fields(
            self.db,
            experiment_id,
            status=RunStatus.STOPPED,
            stop_requested_at=utc_now(),
            reason="stopped by the user",
        )
        # Read again: a launch may have recorded its process since the read above. Either
        # this read sees it, or the launcher sees this stop once it has recorded it.
        record = rows.get_experiment(self.db, experiment_id) or record
        if record.run_dir is not None:
            try:
                self._executor_named(record.executor).request_stop(
                    Path(record.run_dir), handle_of(record)
                )
            except LaunchError:
                # Not delivered (a remote that cannot be reached): the row says what is
                # true, a run going on, rather than a stop nobody will carry out.
                rows.update_fields(
                    self.db,
                    experiment_id,
                    status=before.status,
                    stop_requested_at=before.stop_requested_at,
                    reason=before.reason,
                )
                raise
        process = self.active_processes.get(experiment_id)
        if process is not None and not process.is_alive() and not self.follow:
            process.poll()
        return True

    def _ended_unsettled(self, record: ExperimentRecord) -> bool:
        """Whether a run shown as going has in fact ended (a sound ``exit.json``)."""
        if record.executor != "local" or record.run_dir is None or record.ended_at is not None:
            return False
        exit_record = ExitRecord.read(Path(record.run_dir))
        return exit_record is not None and not exit_record.damaged

    def _settle_now(self, experiment_id: int) -> None:
        """Catch up with an ended run once, so its row says how it ended (a following
        thread does so by itself)."""
        process = self.active_processes.get(experiment_id)
        if process is None:
            with contextlib.suppress(NotFoundError):
                process = self.follower(experiment_id)
        if process is not None and not process.is_alive() and not process.is_done:
            process.poll()

    def _refuse_another_hosts_run(self, record: ExperimentRecord) -> None:
        """A local run started on another machine (a database on a shared drive) cannot
        be signalled from here: marking it stopped would only make its row lie (and its
        end be called a stop). Refused in words, unless its processes are seen here."""
        host = record.host
        if (
            record.executor != "local"
            or record.ended_at is not None
            or not host
            or host == HOST
            or (record.run_dir is not None and run_processes(Path(record.run_dir)))
        ):
            return
        raise ConfigError(
            f"run {record.id} '{record.name}' runs on {host!r}, not on this machine "
            f"({HOST!r}): stop it there (`ravelab stop {record.id}` on {host!r})"
        )

    def steps_since_checkpoint(self, experiment_id: int) -> int | None:
        """Steps a plain stop would lose (trained since the newest checkpoint)."""
        record = rows.get_experiment(self.db, experiment_id)
        if record is None:
            return None
        step = record.progress.step
        steps = [
            c.step for c in artifacts.list_checkpoints(self.db, experiment_id) if c.step is not None
        ]
        # Never negative: after a resume the trainer may log steps below a stored checkpoint.
        return max(0, step - max(steps)) if steps else step
