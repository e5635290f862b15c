"""``ManagerBase``: the state and helpers every part of ``TrainingManager`` shares.

The manager's parts (launch, resume, stop, re-attach, records; see ``training_manager``)
each add methods to this base: here are the attributes ``TrainingManager.__init__`` sets,
its two signals, where run folders go, how a run's follower is made and tracked, which
executor a run uses, and whether anything of a run still lives.

Test-only fault hook: ``RAVELAB_FAULT_LAUNCH`` (``FAULT_ENV``), read by the launch and
resume parts through ``fault_point`` (see those modules). Nothing else reads it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.lazy_signal import LazySignal
from ravelab.core.paths import RUNS_ENV, user_data_dir
from ravelab.core.rave.locator import find_rave
from ravelab.core.rave.training_config import TrainingSpec
from ravelab.core.runs.executor import STOPPER_ENV, Executor, RunHandle, run_processes
from ravelab.core.runs.process_identity import ProcessIdentity, is_alive, processes_with_env
from ravelab.core.runs.run_files import ExitRecord, marker_value
from ravelab.core.slurm.settings import SlurmSettings
from ravelab.db import Database, ExperimentRecord
from ravelab.db import experiments as rows

if TYPE_CHECKING:
    # For types only. The follower (and with it NumPy, protobuf and psygnal) is imported
    # when a run is followed: a manager made to list or show runs that have all ended
    # never needs it.
    from ravelab.core.jobs.job_manager import JobManager
    from ravelab.core.runs.training_process import TrainingProcess

# One logger for all the manager's parts: its messages keep the name they always had.
logger = logging.getLogger("ravelab.core.runs.training_manager")

RUNS_SETTING = "runs_dir"
STALLED_SETTING = "stalled_after_minutes"

FAULT_ENV = "RAVELAB_FAULT_LAUNCH"


class ManagerBase:
    """What the manager's parts share (``TrainingManager`` sets these in ``__init__``)."""

    db: Database
    executor: Executor
    executors: dict[str, Executor]
    rave: str | None
    follow: bool
    poll_interval: float
    stalled_after_s: float
    follow_out_of_process: bool
    active_processes: dict[int, TrainingProcess]
    jobs: JobManager
    _runs_dir: Path | None

    run_started = LazySignal(int)
    run_finished = LazySignal(int, str)

    # -- where things are ----------------------------------------------------------------------

    @property
    def runs_dir(self) -> Path:
        """The folder that holds run folders."""
        if self._runs_dir is not None:
            return self._runs_dir
        env = os.environ.get(RUNS_ENV)
        if env:
            return Path(env).expanduser()
        stored = self.db.get_setting(RUNS_SETTING)
        if stored:
            return Path(stored)
        if self.db.path == ":memory:":
            return user_data_dir() / "runs"
        return Path(self.db.path).resolve().parent / "runs"

    def _runs_dir_for(self, spec: TrainingSpec) -> Path:
        """Where a new run's folder goes: a SLURM run's in the folder shared with the nodes
        (its ``executor_options['runs_dir']``, else the ``slurm.runs_dir`` setting)."""
        if spec.executor == "slurm":
            shared = SlurmSettings.load(self.db).merged(spec.executor_options).runs_dir
            if shared:
                return Path(shared)
        return self.runs_dir

    def _stop_if_asked_meanwhile(
        self, experiment_id: int, run_dir: Path, handle: RunHandle
    ) -> None:
        """A stop that arrived while the run was being launched found no process to
        ask: pass it on now that there is one (else the run would train on, shown as
        stopping)."""
        current = rows.get_experiment(self.db, experiment_id)
        if current is not None and current.stop_requested_at is not None:
            logger.info("run %s: asked to stop while being launched: stopping it", experiment_id)
            self._executor_named(handle.executor).request_stop(run_dir, handle)

    def ensure_warden(self) -> bool:
        """Start the database's warden if it has work and none lives (see
        ``ravelab.core.operations.warden``); whether one was started. Never raises."""
        from ravelab.core.operations.warden import ensure_warden

        return ensure_warden(self.db)

    def register_process(self, experiment_id: int, process: TrainingProcess) -> None:
        """Track a process as the follower of an experiment (the original API's bookkeeping)."""
        self.active_processes[experiment_id] = process
        process.finished.connect(lambda ok, message: self._on_finished(experiment_id))

    def unregister_process(self, experiment_id: int) -> None:
        """Stop tracking an experiment's process."""
        self.active_processes.pop(experiment_id, None)

    def follower(self, experiment_id: int) -> TrainingProcess:
        """A new, unstarted ``TrainingProcess`` for an experiment's run (not registered:
        the caller polls it or starts it).

        Raises:
            NotFoundError: an unknown experiment, or one that has no run folder.
        """
        record = rows.get_experiment(self.db, experiment_id)
        if record is None or record.run_dir is None:
            raise NotFoundError(f"experiment {experiment_id} not found, or it has no run folder")
        return self._make_process(
            experiment_id, record.config, Path(record.run_dir), handle_of(record)
        )

    def _still_lives(self, record: ExperimentRecord) -> bool:
        """Whether any process of a run still lives (as far as this machine can tell)."""
        if record.run_dir is None:
            return False
        if record.executor != "local":
            return record.ended_at is None
        exit_record = ExitRecord.read(Path(record.run_dir))
        if exit_record is not None and not exit_record.damaged:
            # The supervisor wrote it after ending the trainer's group, and may itself
            # still be on its way out; anything else carrying the run's marker (a
            # process that left the group, a second supervisor) still lives.
            supervisor = handle_of(record).supervisor
            return any(
                supervisor is None
                or process.pid != supervisor.pid
                or is_alive(supervisor) is not True
                for process in run_processes(Path(record.run_dir))
            )
        if processes_with_env(STOPPER_ENV, marker_value(Path(record.run_dir))):
            return True  # a stopper at work (it writes exit.json once the run has ended)
        state = self._executor_named(record.executor).state(Path(record.run_dir), handle_of(record))
        # Unknown (another machine's run) counts as living until its end is recorded: a
        # resume must not start a second trainer in a folder another machine still uses.
        return state.alive is True or (state.alive is None and record.ended_at is None)

    # -- internals -----------------------------------------------------------------------------

    def _make_process(
        self,
        experiment_id: int,
        config: Mapping[str, Any],
        run_dir: Path,
        handle: RunHandle | None,
    ) -> TrainingProcess:
        from ravelab.core.runs.training_process import TrainingProcess

        executor = self._executor_for(handle.executor) if handle is not None else None
        return TrainingProcess(
            config,
            db=self.db,
            experiment_id=experiment_id,
            run_dir=run_dir,
            executor=executor,
            handle=handle,
            poll_interval=self.poll_interval,
            stalled_after_s=self.stalled_after_s,
            out_of_process=self.follow_out_of_process,
        )

    def _rave_for(self, executor: Executor, explicit: str | None = None) -> str:
        """The ``rave`` a run's argv starts with: found here, unless the executor runs it
        elsewhere (an SSH run uses the remote's, put in place there)."""
        if not getattr(executor, "runs_rave_locally", True):
            return "rave"
        return find_rave(explicit if explicit is not None else self.rave, self.db)

    def _executor_for(self, name: str) -> Executor | None:
        """The executor of that name; the SSH one is made on first use (its modules are
        left unloaded by commands that never meet an SSH run)."""
        executor = self.executors.get(name)
        if executor is None and name == "ssh":
            from ravelab.core.ssh.executor import SshExecutor

            executor = self.executors.setdefault(name, SshExecutor(self.db))
        return executor

    def _executor_named(self, name: str) -> Executor:
        executor = self._executor_for(name)
        if executor is None:
            raise ConfigError(
                f"executor {name!r} is not available here: use one of "
                f"{', '.join(sorted({*self.executors, 'ssh'}))}"
            )
        return executor

    def _record_handle(self, experiment_id: int, handle: RunHandle) -> None:
        supervisor = handle.supervisor
        rows.update_fields(
            self.db,
            experiment_id,
            executor=handle.executor,
            job_id=handle.job_id,
            pid=supervisor.pid if supervisor else None,
            pid_start_time=supervisor.start_time if supervisor else None,
            host=supervisor.host if supervisor else None,
        )

    def _on_finished(self, experiment_id: int) -> None:
        self.unregister_process(experiment_id)
        record = rows.get_experiment(self.db, experiment_id)
        self.run_finished.emit(experiment_id, str(record.status) if record else "unknown")


def handle_of(record: ExperimentRecord) -> RunHandle:
    supervisor = None
    if record.pid is not None and record.pid_start_time is not None:
        supervisor = ProcessIdentity(record.pid, record.pid_start_time, record.host or "")
    return RunHandle(record.executor, supervisor=supervisor, job_id=record.job_id)
