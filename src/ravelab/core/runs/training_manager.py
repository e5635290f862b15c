"""``TrainingManager``: the original API's entry point for starting, following and stopping runs.

Creating one re-attaches to every run the database shows as unfinished: live ones are
followed (a thread each), dead ones are settled from their ``exit.json`` or marked
failed ("process lost"), so no run ever stays falsely ``running``.

The class is assembled from parts, one module each, all sharing ``ManagerBase``'s state:

- ``manager_launch``: ``start_training`` (a new run's row, folder and processes) and
  ``start_claimed`` (a run the queue claimed); ``queue_training`` is here, over
  ``ravelab.core.operations.queue``;
- ``manager_resume``: ``resume_training`` (a claimed row, the previous attempt set aside);
- ``manager_stop``: ``stop_training`` and what a stop would lose;
- ``manager_reattach``: re-attaching at creation (follow, adopt, or settle each run);
- ``manager_records``: the original API's dicts, metrics and checkpoints;
- this module: creation, waiting and following.

Every public name stays importable from here (and ``TrainingManager`` from ``ravelab``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ravelab.core.errors import NotFoundError
from ravelab.core.jobs.job_manager import JobManager
from ravelab.core.rave.training_config import TrainingSpec
from ravelab.core.runs.executor import Executor, LocalExecutor
from ravelab.core.runs.follow_defaults import DEFAULT_STALLED_AFTER_S
from ravelab.core.runs.manager_base import RUNS_SETTING as RUNS_SETTING
from ravelab.core.runs.manager_base import STALLED_SETTING as STALLED_SETTING
from ravelab.core.runs.manager_base import handle_of
from ravelab.core.runs.manager_launch import LaunchMixin
from ravelab.core.runs.manager_reattach import ReattachMixin
from ravelab.core.runs.manager_records import RecordsMixin
from ravelab.core.runs.manager_resume import ResumeMixin
from ravelab.core.runs.manager_stop import StopMixin
from ravelab.core.slurm.executor import SlurmExecutor
from ravelab.db import Database
from ravelab.db import experiments as rows


class TrainingManager(LaunchMixin, ResumeMixin, StopMixin, ReattachMixin, RecordsMixin):
    """Starts RAVE trainings, keeps the database current, and stops them.

    Args:
        db: the database.
        executor: the default executor (default: this machine, detached).
        executors: more executors by name (e.g. ``{"slurm": SlurmExecutor(...)}``); a
            config's ``executor`` key picks one, and each experiment remembers its own.
        rave: the ``rave`` executable to use (default: ``RAVELAB_RAVE``, the stored
            setting, then PATH).
        runs_dir: where run folders go (default: ``RAVELAB_RUNS_DIR``, the stored
            setting, then ``runs/`` next to the database).
        follow: follow live runs in threads (the app); False for one-shot CLI commands,
            which still catch up with what runs wrote and settle the ones that ended.
        poll_interval: seconds between polls of a quiet run.
        stalled_after_s: a live run whose step has not moved for this long is
            ``stalled`` (default: the ``stalled_after_minutes`` setting, else 30 min).
        follow_out_of_process: the follower threads read and parse each run in a child
            process and relay its signals (the app: a run's output then never holds up the
            GUI thread). Ignored for an in-memory database.
        reattach: follow the unfinished runs and jobs now (False: a manager that only
            starts or follows what it is asked to, such as a follower child).

    Signals:
        run_started(int): an experiment was started.
        run_finished(int, str): an experiment ended, with its final status.
    """

    def __init__(
        self,
        db: Database,
        *,
        executor: Executor | None = None,
        executors: Mapping[str, Executor] | None = None,
        rave: str | None = None,
        runs_dir: str | Path | None = None,
        follow: bool = True,
        poll_interval: float = 0.25,
        stalled_after_s: float | None = None,
        follow_out_of_process: bool = False,
        reattach: bool = True,
    ) -> None:
        self.db = db
        self.follow_out_of_process = follow_out_of_process and db.path != ":memory:"
        self.executor: Executor = executor or LocalExecutor()
        # SLURM and SSH are always known by name (SSH's made on first use: see
        # ``_executor_for``): re-attaching such a run needs its executor, and a submission
        # where SLURM is missing fails with what to do. Their settings (the cluster's, the
        # remotes) are read at each launch.
        self.executors: dict[str, Executor] = {"slurm": SlurmExecutor(db=db)}
        self.executors[self.executor.name] = self.executor
        self.executors.update(executors or {})
        self.rave = rave
        self.follow = follow
        self.poll_interval = poll_interval
        stored = db.get_setting(STALLED_SETTING)
        self.stalled_after_s = (
            stalled_after_s
            if stalled_after_s is not None
            else float(stored) * 60
            if stored
            else DEFAULT_STALLED_AFTER_S
        )
        self.active_processes = {}
        self._runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.jobs = JobManager(
            db,
            self.executor,
            rave=rave,
            runs_dir=lambda: self.runs_dir,
            follow=follow,
            poll_interval=poll_interval,
        )
        if reattach:
            self.reattach()
            self.ensure_warden()

    # -- beyond the original API -------------------------------------------------------------

    def wait(self, experiment_id: int, timeout: float | None = None) -> dict[str, Any]:
        """Follow an experiment until it has ended (or ``timeout``); return its dict.

        Raises:
            NotFoundError: an unknown experiment.
            TimeoutError: still running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        process = self.active_processes.get(experiment_id)
        if process is None:
            record = rows.get_experiment(self.db, experiment_id)
            if record is None:
                raise NotFoundError(f"experiment {experiment_id} not found")
            if record.ended_at is None and record.run_dir is not None:
                process = self._make_process(
                    experiment_id, record.config, Path(record.run_dir), handle_of(record)
                )
        if process is not None:
            if process.is_alive():
                if not process.wait(timeout):
                    raise TimeoutError(f"experiment {experiment_id} is still running")
                # The end is recorded; the thread then tells its listeners (``finished``,
                # ``run_finished``) and ends: wait for that too, so that the caller finds
                # the signals delivered and the run no longer among the active ones.
                if process is not threading.current_thread():
                    left = 30.0 if deadline is None else deadline - time.monotonic()
                    process.join(max(left, 1.0))
            else:
                while not process.is_done:
                    if not process.poll():
                        if deadline is not None and time.monotonic() > deadline:
                            raise TimeoutError(f"experiment {experiment_id} is still running")
                        time.sleep(self.poll_interval)
        result = self.get_experiment(experiment_id)
        assert result is not None
        return result

    def queue_training(
        self,
        config: Mapping[str, Any],
        *,
        then_export: str | None = None,
        start_if_free: bool = True,
        keep_periodic: int | str | None = None,
    ) -> int:
        """Validate ``config`` and queue the run on its device (``gpu``: a GPU or the CPU);
        the experiment id (status ``queued``). It starts when the run before it on that
        device ends, however it ends; with ``start_if_free`` at once if the device is free.
        ``then_export`` (``best``/``latest``) exports that checkpoint once it completes;
        ``keep_periodic`` as for ``start_training``.

        Raises:
            ConfigError: a bad value, or a SLURM run (SLURM queues it itself).
        """
        from ravelab.core.operations.queue import queue_training

        return queue_training(
            self,
            config,
            then_export=then_export,
            start_if_free=start_if_free,
            keep_periodic=keep_periodic,
        )

    def refresh(self, experiment_id: int) -> None:
        """Catch up once with what a run wrote (for one-shot readers such as the CLI)."""
        process = self.active_processes.get(experiment_id)
        if process is not None and not process.is_alive() and not process.is_done:
            process.poll()

    def processes_live(self, experiment_id: int) -> bool:
        """Whether any process of an experiment's run still lives (its supervisor, its
        trainer, or what the trainer started), whatever its status says."""
        record = rows.get_experiment(self.db, experiment_id)
        return record is not None and self._still_lives(record)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop following (runs keep going: they are detached)."""
        self.jobs.shutdown(timeout)
        for process in list(self.active_processes.values()):
            process.halt()
        for process in list(self.active_processes.values()):
            if process.is_alive():
                process.join(timeout)

    def running_count(self) -> int:
        """How many runs are still going."""
        return sum(1 for record in rows.unended_experiments(self.db))


__all__ = ["TrainingManager", "TrainingSpec"]
