"""``TrainingManager``: the original API's entry point for starting, following and stopping runs.

Creating one re-attaches to every run the database shows as unfinished: live ones are
followed (a thread each), dead ones are settled from their ``exit.json`` or marked
failed ("process lost"), so no run ever stays falsely ``running``.

A run being launched belongs to the process that inserted its row (its pid, start time
and host are stored with the row, plus a lease for other hosts): re-attaching leaves it
alone while that launcher lives, and once the launcher is provably gone it adopts the
run's processes (found by their ``RAVELAB_RUN_DIR`` marker) or settles it as never
started. Each run is re-attached on its own: a damaged run file flags that run (its
``reason`` names the file and field) and never stops the others.

Run folders are created exclusively: a folder that exists already (from another
database, or another database's live run sharing the runs folder) is never touched;
the new run gets a suffixed name instead. ravelab removes only files it created in the
same call, and a resume sets the previous attempt's files aside under a new name. A
resume claims the row the way a launch owns a new one (no process, its launcher
recorded) and only if the row is still as it read it: of two resumes at once, one wins.

Test-only fault hook: ``RAVELAB_FAULT_LAUNCH=after-insert`` (or ``after-launch``) with
``RAVELAB_FAULT_LAUNCH_GATE=PATH`` pauses ``start_training`` at that point until ``PATH``
exists (after touching ``PATH.reached``), so a test can kill the launching command exactly
there; ``resume-checked`` pauses ``resume_training`` after its checks, before it claims
the row, and ``resume-claimed`` after the claim, before it starts anything. Nothing else
reads these variables.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ravelab.core import datasets as core_datasets
from ravelab.core.errors import ConfigError, LaunchError, NotFoundError
from ravelab.core.jobs.job_manager import JobManager
from ravelab.core.lazy_signal import LazySignal
from ravelab.core.paths import RUNS_ENV, user_data_dir
from ravelab.core.rave.checkpoints import find_checkpoints
from ravelab.core.rave.locator import find_rave
from ravelab.core.rave.training_config import (
    TrainingSpec,
    build_train_argv,
    validate_training_config,
)
from ravelab.core.runs.executor import (
    STOPPER_ENV,
    Executor,
    LocalExecutor,
    RunHandle,
    is_live_supervisor,
    newest_checkpoint_time,
    pick_supervisor,
    run_processes,
    stop_run_processes,
)
from ravelab.core.runs.follow_defaults import DEFAULT_STALLED_AFTER_S
from ravelab.core.runs.launch_owner import launcher_gone, this_launcher
from ravelab.core.runs.process_identity import HOST, ProcessIdentity, is_alive, processes_with_env
from ravelab.core.runs.run_files import (
    DAMAGED_PREFIX,
    EXIT_FILE,
    STDOUT_LOG,
    SUPERVISOR_FILE,
    ExitRecord,
    LaunchSpec,
    SupervisorInfo,
    create_run_dir,
    fault_point,
    marker_value,
    remove_created_run_dir,
)
from ravelab.core.slurm.executor import SlurmExecutor
from ravelab.core.slurm.settings import SlurmSettings
from ravelab.db import Database, DatabaseError, ExperimentRecord, artifacts
from ravelab.db import experiments as rows
from ravelab.db.experiments import DuplicateNameError, utc_now
from ravelab.db.records import LaunchOwner
from ravelab.db.vocabulary import RunStatus

if TYPE_CHECKING:
    # The follower (and with it NumPy, protobuf and psygnal) is imported when a run is
    # followed: a manager made to list or show runs that have all ended never needs it.
    from ravelab.core.runs.training_process import TrainingProcess
    from ravelab.db import point_blocks

logger = logging.getLogger(__name__)

RUNS_SETTING = "runs_dir"
STALLED_SETTING = "stalled_after_minutes"

_FAULT_ENV = "RAVELAB_FAULT_LAUNCH"


class TrainingManager:
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

    run_started = LazySignal(int)
    run_finished = LazySignal(int, str)

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
        # SLURM is always known by name: re-attaching a SLURM run needs it, and a submission
        # where SLURM is missing fails with what to do. Its settings are read at each launch.
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
        self.active_processes: dict[int, TrainingProcess] = {}
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

    # -- the original API -----------------------------------------------------------------------

    def start_training(self, config: Mapping[str, Any]) -> int:
        """Validate ``config``, start ``rave train`` detached, and return the experiment id.

        Raises:
            ConfigError: a bad value (nothing is created).
            RaveNotFoundError: no ``rave`` executable (nothing is created).
            LaunchError: the run could not be started (nothing is left behind).
        """
        spec = validate_training_config(config, self.db)
        executor = self._executor_named(spec.executor)
        runs_dir = self._runs_dir_for(spec)
        rave = find_rave(self.rave, self.db)
        owner = this_launcher()
        try:
            with self.db.atomic():
                if spec.dataset_id < 0:
                    record = core_datasets.register_dataset(
                        self.db, spec.dataset_path, project_id=spec.project_id
                    )
                    spec = dataclasses.replace(spec, dataset_id=record.id)
                experiment_id = rows.insert_experiment(
                    self.db,
                    name=spec.name,
                    project_id=spec.project_id,
                    dataset_id=spec.dataset_id,
                    config=spec.as_config(),
                    owner=owner,
                )
        except DuplicateNameError as error:
            raise ConfigError(str(error)) from None
        fault_point(_FAULT_ENV, "after-insert")
        run_dir: Path | None = None
        handle: RunHandle | None = None
        try:
            run_dir = create_run_dir(runs_dir, f"{experiment_id:04d}-{spec.name}")
            argv = build_train_argv(rave, spec, out_path=run_dir)
            rows.update_fields(self.db, experiment_id, run_dir=str(run_dir), argv=argv)
            handle = executor.launch(
                run_dir, LaunchSpec(argv=argv, cwd=str(run_dir)), spec.executor_options
            )
            fault_point(_FAULT_ENV, "after-launch")
            self._record_handle(experiment_id, handle)
        except BaseException as error:
            if handle is not None:
                # The run is going but could not be recorded: leave its row to re-attach,
                # which adopts the run's processes once this launcher is gone.
                raise
            rows.delete_experiment(self.db, experiment_id)
            if run_dir is not None:
                remove_created_run_dir(run_dir)
            if isinstance(error, OSError | LaunchError):
                raise LaunchError(f"could not start run {spec.name!r}: {error}") from error
            raise
        rows.update_fields(
            self.db, experiment_id, progress={"step": 0, "max_steps": spec.max_steps, "percent": 0}
        )
        self._stop_if_asked_meanwhile(experiment_id, run_dir, handle)
        logger.info("started run %s (%s): %s", experiment_id, spec.name, " ".join(argv))
        process = self._make_process(experiment_id, spec.as_config(), run_dir, handle)
        self.register_process(experiment_id, process)
        if self.follow:
            process.start()
        self.run_started.emit(experiment_id)
        return experiment_id

    def get_experiment(self, experiment_id: int) -> dict[str, Any] | None:
        """The experiment dict, or None for an unknown id."""
        record = rows.get_experiment(self.db, experiment_id)
        return None if record is None else _as_dict(record)

    def list_experiments(self, project_id: int | None = None) -> list[dict[str, Any]]:
        """Experiment dicts, newest first, optionally of one project."""
        return [_as_dict(record) for record in rows.list_experiments(self.db, project_id)]

    def get_record(self, experiment_id: int) -> ExperimentRecord | None:
        """The experiment as a typed record, or None for an unknown id."""
        return rows.get_experiment(self.db, experiment_id)

    def list_records(self, project_id: int | None = None) -> list[ExperimentRecord]:
        """Experiments as typed records, newest first, optionally of one project."""
        return rows.list_experiments(self.db, project_id)

    def update_experiment_status(
        self, experiment_id: int, status: str, completed_at: str | None = None
    ) -> None:
        """Set an experiment's status (and its end time for a final status).

        Raises:
            ValueError: an unknown status.
            NotFoundError: an unknown experiment.
        """
        try:
            known = RunStatus(status)
        except ValueError:
            names = ", ".join(RunStatus)
            raise ConfigError(f"unknown status {status!r}: use one of {names}") from None
        if rows.get_experiment(self.db, experiment_id) is None:
            raise NotFoundError(f"experiment {experiment_id} not found")
        if completed_at is None and known.is_final:
            completed_at = utc_now()
        rows.update_fields(self.db, experiment_id, status=str(known), completed_at=completed_at)

    def update_training_metrics(self, experiment_id: int, metrics: Mapping[str, Any]) -> None:
        """Merge the latest metric values into the experiment (the original API's metrics JSON).

        Numeric values are also stored as points at ``metrics['step']`` (or the current
        step), so the history of what a caller reports is kept too.
        """
        record = rows.get_experiment(self.db, experiment_id)
        if record is None:
            raise NotFoundError(f"experiment {experiment_id} not found")
        step_value = metrics.get("step", record.progress.step)
        step = int(step_value) if isinstance(step_value, int | float) else 0
        wall = time.time()
        points = [
            (name, step, float(value), wall)
            for name, value in metrics.items()
            if name not in ("step", "epoch")
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ]
        with self.db.atomic():
            rows.insert_points(self.db, experiment_id, points)
            rows.merge_metrics(self.db, experiment_id, dict(metrics))

    def get_training_metrics(self, experiment_id: int) -> dict[str, Any]:
        """The latest value of every metric (``{}`` before any, or for an unknown id)."""
        record = rows.get_experiment(self.db, experiment_id)
        return {} if record is None else dict(record.metrics)

    def get_metric_history(
        self,
        experiment_id: int,
        name: str,
        after_step: int | None = None,
        until_step: int | None = None,
    ) -> list[tuple[int, float]]:
        """All (step, value) points of one metric, ordered by step (those after
        ``after_step`` and up to ``until_step`` only, when given)."""
        return rows.metric_history(self.db, experiment_id, name, after_step, until_step)

    def get_metric_columns(
        self,
        experiment_id: int,
        name: str,
        after_step: int | None = None,
        until_step: int | None = None,
    ) -> point_blocks.Columns:
        """The points of :meth:`get_metric_history`, with wall times, as NumPy arrays
        (``steps``, ``values``, ``walls``): no Python object per point, for plots."""
        return rows.metric_columns(self.db, experiment_id, name, after_step, until_step)

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
                Path(record.run_dir), _handle(record)
            )
            return True
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
            if self._executor_named(record.executor).request_checkpoint_stop(
                Path(record.run_dir), _handle(record)
            ):
                return True
            rows.update_fields(self.db, experiment_id, stop_at_checkpoint=0)
            rows.merge_progress(self.db, experiment_id, {"stopping_at_checkpoint": False})
            return False
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
            self._executor_named(record.executor).request_stop(
                Path(record.run_dir), _handle(record)
            )
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

    def list_checkpoints(self, experiment_id: int) -> list[dict[str, Any]]:
        """An experiment's checkpoints (every version): path, kind, step, size, time."""
        record = rows.get_experiment(self.db, experiment_id)
        if record is None:
            raise NotFoundError(f"experiment {experiment_id} not found")
        known = {c.path: c for c in artifacts.list_checkpoints(self.db, experiment_id)}
        result = []
        for found in find_checkpoints(Path(record.run_dir)) if record.run_dir else []:
            stored = known.get(str(found.path))
            result.append(
                {
                    "path": str(found.path),
                    "kind": found.kind,
                    "version": found.version,
                    "step": stored.step if stored else None,
                    "size_bytes": found.size_bytes,
                    "modified_at": found.modified_at,
                }
            )
        return result

    def resume_training(
        self,
        experiment_id: int,
        *,
        checkpoint: str | None = None,
        max_steps: int | None = None,
    ) -> int:
        """Continue a stopped or failed experiment from a checkpoint (a new ``version_N``).

        Same name, dataset, channels and run folder plus ``--ckpt``; metrics continue at
        the right step (the step RAVE logs again is not stored twice).

        Raises:
            NotFoundError: unknown experiment, or no checkpoint (nothing changes).
            ConfigError: the run is still going, or a bad ``max_steps``.
        """
        record = rows.get_experiment(self.db, experiment_id)
        if record is None:
            raise NotFoundError(f"experiment {experiment_id} not found")
        if record.ended_at is None and record.status.is_live:
            raise ConfigError(f"experiment {experiment_id} is still {record.status}")
        if record.run_dir is None or not Path(record.run_dir).is_dir():
            raise NotFoundError(f"experiment {experiment_id} has no run folder to resume")
        if record.config.get("imported_from"):
            raise ConfigError(f"experiment {experiment_id} was imported: ravelab did not start it")
        run_dir = Path(record.run_dir)
        from ravelab.core.jobs.export import choose_checkpoint

        chosen = choose_checkpoint(run_dir, checkpoint or "latest")
        config = dict(record.config)
        if max_steps is not None:
            current = record.progress.step
            if isinstance(max_steps, bool) or not current < max_steps <= 1_000_000_000:
                raise ConfigError(f"max_steps {max_steps} must be above the current step {current}")
            config["max_steps"] = max_steps
        fields = {f.name for f in dataclasses.fields(TrainingSpec)}
        spec = TrainingSpec(**{k: v for k, v in config.items() if k in fields})
        executor = self._executor_named(record.executor)
        rave = find_rave(self.rave, self.db)
        argv = build_train_argv(rave, spec, out_path=run_dir, ckpt=str(chosen.path))
        if self._still_lives(record):
            raise ConfigError(
                f"experiment {experiment_id} is still shutting down: wait until "
                f"`ravelab list` shows it ended (or `ravelab stop {experiment_id}` again)"
            )
        fault_point(_FAULT_ENV, "resume-checked")
        owner = this_launcher()
        if not self._claim_for_resume(record, owner, config, argv):
            raise ConfigError(
                f"experiment {experiment_id} was resumed or changed by another command "
                "meanwhile: see `ravelab list`"
            )
        resumes = record.progress.resumes + 1
        handle: RunHandle | None = None
        try:
            # The previous attempt's files are set aside, never deleted; only the command
            # that won the claim touches them, so no other resume's files are moved.
            _set_aside(run_dir / EXIT_FILE)
            _set_aside(run_dir / SUPERVISOR_FILE)
            fault_point(_FAULT_ENV, "resume-claimed")
            handle = executor.launch(
                run_dir, LaunchSpec(argv=argv, cwd=str(run_dir)), spec.executor_options
            )
            self._record_handle(experiment_id, handle)
        except BaseException as error:
            if handle is not None:
                raise  # the run is going: re-attaching adopts it once this launcher is gone
            self._unclaim(record)
            if isinstance(error, OSError | LaunchError):
                raise LaunchError(f"could not resume run {record.name!r}: {error}") from error
            raise
        rows.merge_progress(
            self.db,
            experiment_id,
            {
                "max_steps": spec.max_steps,
                "resumes": resumes,
                "resumed_from": str(chosen.path),
                "stopping_at_checkpoint": False,
            },
        )
        self._stop_if_asked_meanwhile(experiment_id, run_dir, handle)
        process = self._make_process(experiment_id, config, run_dir, handle)
        self.register_process(experiment_id, process)
        if self.follow:
            process.start()
        self.run_started.emit(experiment_id)
        return experiment_id

    def _claim_for_resume(
        self,
        record: ExperimentRecord,
        owner: LaunchOwner,
        config: Mapping[str, Any],
        argv: list[str],
    ) -> bool:
        """Make the row a run being launched by ``owner``, only if it is still as
        ``record`` shows it (ended or stopped, same process): of two resumes at once,
        exactly one wins, and the other changes nothing. The row then has no process
        and a living launcher, so re-attaching leaves it alone until the launch is
        recorded (or adopts the run once this launcher is gone)."""
        return rows.claim_for_resume(self.db, record, owner, config, argv)

    def _unclaim(self, record: ExperimentRecord) -> None:
        """Give a row back what it held before a resume that could not launch."""
        rows.update_fields(
            self.db,
            record.id,
            status=record.status,
            ended_at=record.ended_at,
            exit_code=record.exit_code,
            reason=record.reason,
            stop_requested_at=record.stop_requested_at,
            completed_at=record.completed_at,
            config=dict(record.config),
            argv=record.argv,
            pid=record.pid,
            pid_start_time=record.pid_start_time,
            host=record.host,
            job_id=record.job_id,
        )

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

    def clone_config(self, experiment_id: int, **changes: Any) -> dict[str, Any]:
        """A config dict with an experiment's settings, for a new run (the wizard's
        "Clone"): ``changes`` replace keys; the name must be given anew."""
        record = rows.get_experiment(self.db, experiment_id)
        if record is None:
            raise NotFoundError(f"experiment {experiment_id} not found")
        if record.config.get("imported_from"):
            raise ConfigError(
                f"experiment {experiment_id} was imported: its settings are not known to ravelab"
            )
        fields = {f.name for f in dataclasses.fields(TrainingSpec)}
        config = {k: v for k, v in record.config.items() if k in fields}
        config.pop("name", None)
        config.update({k: v for k, v in changes.items() if v is not None})
        return config

    def register_process(self, experiment_id: int, process: TrainingProcess) -> None:
        """Track a process as the follower of an experiment (the original API's bookkeeping)."""
        self.active_processes[experiment_id] = process
        process.finished.connect(lambda ok, message: self._on_finished(experiment_id))

    def unregister_process(self, experiment_id: int) -> None:
        """Stop tracking an experiment's process."""
        self.active_processes.pop(experiment_id, None)

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
                    experiment_id, record.config, Path(record.run_dir), _handle(record)
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
            experiment_id, record.config, Path(record.run_dir), _handle(record)
        )

    def refresh(self, experiment_id: int) -> None:
        """Catch up once with what a run wrote (for one-shot readers such as the CLI)."""
        process = self.active_processes.get(experiment_id)
        if process is not None and not process.is_alive() and not process.is_done:
            process.poll()

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
        for record in [*rows.unlaunched_experiments(self.db), *self._stopped_unlaunched()]:
            try:
                self._reattach_unlaunched(record)
            except Exception as error:  # one run's trouble never stops the others
                self._flag(record.id, error)
        for record in rows.unended_experiments(self.db):
            if record.id in self.active_processes or record.run_dir is None:
                continue
            try:
                self._follow_again(record)
            except Exception as error:
                self.active_processes.pop(record.id, None)
                self._flag(record.id, error)

    def _follow_again(self, record: ExperimentRecord) -> None:
        assert record.run_dir is not None
        run_dir = Path(record.run_dir)
        process = self._make_process(record.id, record.config, run_dir, _handle(record))
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
        supervisor = _handle(record).supervisor
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
        launcher = f" (pid {owner.pid})" if owner is not None else ""
        if record.stop_requested_at is not None:
            status, reason = RunStatus.STOPPED, "stopped by the user before it started"
        else:
            status = RunStatus.FAILED
            reason = (
                f"never started: the command that launched it{launcher} ended before starting it"
            )
        rows.settle_unlaunched(self.db, record.id, status, reason)

    def processes_live(self, experiment_id: int) -> bool:
        """Whether any process of an experiment's run still lives (its supervisor, its
        trainer, or what the trainer started), whatever its status says."""
        record = rows.get_experiment(self.db, experiment_id)
        return record is not None and self._still_lives(record)

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
            supervisor = _handle(record).supervisor
            return any(
                supervisor is None
                or process.pid != supervisor.pid
                or is_alive(supervisor) is not True
                for process in run_processes(Path(record.run_dir))
            )
        if processes_with_env(STOPPER_ENV, marker_value(Path(record.run_dir))):
            return True  # a stopper at work (it writes exit.json once the run has ended)
        state = self._executor_named(record.executor).state(Path(record.run_dir), _handle(record))
        # Unknown (another machine's run) counts as living until its end is recorded: a
        # resume must not start a second trainer in a folder another machine still uses.
        return state.alive is True or (state.alive is None and record.ended_at is None)

    def _flag(self, experiment_id: int, error: Exception) -> None:
        # A database error is the user's to act on (disk full, a damaged file): its one
        # line says what to do, a traceback would only bury it.
        trace = None if isinstance(error, DatabaseError) else error
        logger.error("run %s cannot be followed: %s", experiment_id, error, exc_info=trace)
        self._set_reason(experiment_id, f"ravelab cannot follow this run: {error}")

    def _set_reason(self, experiment_id: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # flagging must never fail the re-attach
            rows.set_unended_reason(self.db, experiment_id, reason[:500])

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

    # -- internals -----------------------------------------------------------------------------

    def _make_process(
        self,
        experiment_id: int,
        config: Mapping[str, Any],
        run_dir: Path,
        handle: RunHandle | None,
    ) -> TrainingProcess:
        from ravelab.core.runs.training_process import TrainingProcess

        executor = self.executors.get(handle.executor) if handle is not None else None
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

    def _executor_named(self, name: str) -> Executor:
        executor = self.executors.get(name)
        if executor is None:
            raise ConfigError(
                f"executor {name!r} is not available here: use one of "
                f"{', '.join(sorted(self.executors))}"
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


def _set_aside(path: Path) -> None:
    """Rename a previous attempt's file to ``<stem>.<n><suffix>`` (first free n)."""
    if not os.path.lexists(path):
        return
    for n in range(10_000):
        target = path.with_name(f"{path.stem}.{n}{path.suffix}")
        if not os.path.lexists(target):
            path.rename(target)
            return
    raise LaunchError(f"cannot set {path} aside: too many earlier attempts")


def _handle(record: ExperimentRecord) -> RunHandle:
    supervisor = None
    if record.pid is not None and record.pid_start_time is not None:
        supervisor = ProcessIdentity(record.pid, record.pid_start_time, record.host or "")
    return RunHandle(record.executor, supervisor=supervisor, job_id=record.job_id)


def _as_dict(record: ExperimentRecord) -> dict[str, Any]:
    return record.as_dict()


__all__ = ["TrainingManager", "TrainingSpec"]
