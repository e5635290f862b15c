"""``JobManager``: ``rave preprocess`` and ``rave export`` as managed, detached jobs.

Same supervision as a training run (detached supervisor, logs in a job folder,
``exit.json``, re-attach on start), with a DB row in ``jobs``, a health check before
preprocessing and a check of what each job left behind after it (``job_results``). A job
being launched has an owner, as a run has (``launch_owner``): re-attaching never fails a
job whose launcher may still be starting it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ravelab.core.display import human_bytes
from ravelab.core.errors import ConfigError, DatasetError, LaunchError, NotFoundError
from ravelab.core.jobs.export import (
    build_export_argv,
    choose_checkpoint,
    expected_model_path,
    fix_stereo_config,
    parse_export_line,
)
from ravelab.core.jobs.job_results import (
    finish_export,
    finish_export_and_check,
    finish_preprocess,
)
from ravelab.core.jobs.preprocess import (
    HealthReport,
    build_preprocess_argv,
    check_audio_inputs,
    check_output_folder,
    parse_preprocess_line,
)
from ravelab.core.names import check_name
from ravelab.core.projects import require_project
from ravelab.core.rave.locator import find_rave
from ravelab.core.rave.preprocess_defaults import AUDIO_EXTENSIONS, DEFAULT_NUM_SIGNAL
from ravelab.core.runs.executor import Executor, RunHandle, pick_supervisor, run_processes
from ravelab.core.runs.launch_owner import launcher_gone, this_launcher
from ravelab.core.runs.process_identity import ProcessIdentity
from ravelab.core.runs.run_files import (
    STDOUT_LOG,
    LaunchSpec,
    create_run_dir,
    fault_point,
    remove_created_run_dir,
)
from ravelab.db import Database, DatabaseError, JobRecord, artifacts
from ravelab.db import datasets as dataset_rows
from ravelab.db import experiments as experiment_rows
from ravelab.db import jobs as job_rows
from ravelab.db.experiments import utc_now
from ravelab.db.vocabulary import DatasetStatus

if TYPE_CHECKING:
    # The follower (psygnal, and the run follower's imports) waits until a job is followed.
    from ravelab.core.jobs.job_process import Finisher, JobProcess, LineParser

logger = logging.getLogger(__name__)

#: How many suffixed default names (``-2``, ``-3``...) an export may try.
_MAX_MODEL_NAMES = 1000

#: The test-only pause point of a launch (see ``manager_launch``): ``after-insert``.
_FAULT_ENV = "RAVELAB_FAULT_LAUNCH"


class JobManager:
    """Starts, follows and stops preprocess and export jobs.

    Args:
        db: the database.
        executor: runs the jobs' supervisors (the local one).
        rave: an explicit ``rave`` executable, or None to look it up.
        runs_dir: a callable giving the folder for run folders (jobs go in ``jobs/``,
            new datasets next to it in ``datasets/``).
        follow: follow jobs in threads (the app) or only when asked (the CLI).
        check_models: run the export check (``core.rave.model_check``) on each exported
            model, in RAVE's environment, before its job ends.
    """

    def __init__(
        self,
        db: Database,
        executor: Executor,
        *,
        rave: str | None,
        runs_dir: Callable[[], Path],
        follow: bool = True,
        poll_interval: float = 0.2,
        check_models: bool = True,
    ) -> None:
        self.db = db
        self.check_models = check_models
        self.executor = executor
        self.rave = rave
        self._runs_dir = runs_dir
        self.follow = follow
        self.poll_interval = poll_interval
        self.active_jobs: dict[int, JobProcess] = {}

    @property
    def datasets_dir(self) -> Path:
        """Where ``dataset create`` writes preprocessed datasets by default."""
        return self._runs_dir().parent / "datasets"

    # -- datasets from raw audio ---------------------------------------------------------------

    def check_dataset_inputs(
        self,
        inputs: Sequence[str | Path],
        *,
        num_signal: int = DEFAULT_NUM_SIGNAL,
        sample_rate: int = 44_100,
        extensions: Sequence[str] = AUDIO_EXTENSIONS,
    ) -> HealthReport:
        """The health check alone (what the GUI shows before it starts)."""
        return check_audio_inputs(
            inputs, num_signal=num_signal, sample_rate=sample_rate, extensions=extensions
        )

    def create_dataset(
        self,
        inputs: Sequence[str | Path],
        name: str,
        *,
        output: str | Path | None = None,
        sample_rate: int = 44_100,
        channels: int = 1,
        num_signal: int = DEFAULT_NUM_SIGNAL,
        lazy: bool = False,
        extensions: Sequence[str] | None = None,
        project_id: int = 1,
    ) -> tuple[int, int, HealthReport]:
        """Check the audio, then run ``rave preprocess`` as a managed job.

        Returns:
            (job id, dataset id, the health report with its warnings).

        Raises:
            ConfigError: a bad name or number (nothing is created).
            DatasetError: the health check found a blocking problem (nothing is created).
        """
        name = check_name(name, "dataset name")
        require_project(self.db, project_id)
        if dataset_rows.find_dataset(self.db, name=name) is not None:
            raise ConfigError(f"a dataset named {name!r} exists already: choose another --name")
        for label, value, low, high in (
            ("num_signal", num_signal, 2048, 4_194_304),
            ("channels", channels, 1, 64),
            ("sample_rate", sample_rate, 8000, 384_000),
        ):
            if not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"{label} {value!r} is out of range: use {low} to {high}")
        target = check_output_folder(output if output else self.datasets_dir / name)
        report = check_audio_inputs(
            inputs,
            num_signal=num_signal,
            sample_rate=sample_rate,
            extensions=extensions or AUDIO_EXTENSIONS,
        )
        if report.problems:
            raise DatasetError("cannot preprocess: " + "; ".join(report.problems))
        if not lazy:  # a lazy dataset stores where the files are, not their audio
            from ravelab.core.operations.disk_space import check_space, dataset_bytes

            space = check_space(target, dataset_bytes(report.kept_chunks, num_signal, channels))
            if not space.enough and space.free_bytes is not None:
                report.warnings.append(
                    f"the dataset needs about {human_bytes(space.needed_bytes)} and only "
                    f"{human_bytes(space.free_bytes)} is free under {target.parent}: free "
                    "some space, or preprocess with --lazy (it stores where the files are)"
                )
        rave = find_rave(self.rave, self.db)
        folders = [Path(i).expanduser().resolve() for i in inputs]
        argv = build_preprocess_argv(
            rave,
            folders,
            target,
            num_signal=num_signal,
            channels=channels,
            sample_rate=sample_rate,
            lazy=lazy,
            extensions=extensions,
        )
        with self.db.atomic():
            dataset_id = dataset_rows.insert_dataset(
                self.db,
                name=name,
                path=str(target),
                channels=channels,
                sample_rate=sample_rate,
                n_seconds=None,
                lazy=lazy,
                project_id=project_id,
                status=DatasetStatus.PREPROCESSING,
                sources=[str(f) for f in folders],
                num_signal=num_signal,
            )
            job_id = job_rows.insert_job(
                self.db,
                "preprocess",
                dataset_id=dataset_id,
                options={"name": name, "health": report.as_dict()},
            )
            _record_owner(self.db, job_id)
            dataset_rows.update_dataset(self.db, dataset_id, job_id=job_id)
        try:
            self._launch(job_id, f"preprocess-{name}", argv, "y\n" if lazy else None)
        except LaunchError:
            dataset_rows.delete_dataset(self.db, dataset_id)
            raise
        return job_id, dataset_id, report

    # -- export ----------------------------------------------------------------------------------

    def export_model(
        self,
        experiment_id: int,
        *,
        checkpoint: str = "best",
        streaming: bool = True,
        fidelity: float | None = None,
        output: str | Path | None = None,
    ) -> int:
        """Run ``rave export`` on one of an experiment's checkpoints; return the job id.

        Raises:
            NotFoundError: unknown experiment or no such checkpoint (nothing is started).
            ConfigError: a bad fidelity or output name.
        """
        record = experiment_rows.get_experiment(self.db, experiment_id)
        if record is None:
            raise NotFoundError(f"experiment {experiment_id} not found")
        if record.run_dir is None:
            raise NotFoundError(f"experiment {experiment_id} has no run folder (never started)")
        chosen = choose_checkpoint(Path(record.run_dir), checkpoint)
        model_path, extra = expected_model_path(
            chosen.path, streaming, Path(output) if output else None
        )
        remote = record.executor == "ssh"
        rave = "rave" if remote else find_rave(self.rave, self.db)
        channels = int(record.config.get("channels") or 1)
        # A remote run's config.gin is fixed there, by its agent.
        stereo_fixed = False if remote else fix_stereo_config(chosen.path, channels)
        step = next(
            (
                c.step
                for c in artifacts.list_checkpoints(self.db, experiment_id)
                if Path(c.path) == chosen.path
            ),
            None,
        )
        with self.db.atomic():
            if not output:
                # Chosen inside the write transaction, so two exports at once never pick
                # the same name; an earlier model is never overwritten by default.
                model_path, extra = _free_model_path(self.db, chosen.path, streaming)
            argv = build_export_argv(
                rave, chosen.path, streaming=streaming, fidelity=fidelity, extra=extra
            )
            if remote:
                argv = remote_export_argv(
                    self.db.path,
                    Path(record.run_dir),
                    chosen.path,
                    model_path,
                    streaming,
                    fidelity,
                    channels,
                )
            job_id = job_rows.insert_job(
                self.db,
                "export",
                experiment_id=experiment_id,
                options={
                    "checkpoint": str(chosen.path),
                    "streaming": streaming,
                    "fidelity": fidelity if fidelity is not None else 0.95,
                    "expected_path": str(model_path),
                    "step": step,
                    "stereo_config_fixed": stereo_fixed,
                },
            )
            _record_owner(self.db, job_id)
        self._launch(job_id, f"export-{record.name}", argv, None)
        return job_id

    # -- following -------------------------------------------------------------------------------

    def _launch(self, job_id: int, label: str, argv: list[str], stdin: str | None) -> None:
        # Created exclusively (a suffixed name when taken): a folder left by another
        # database is never reused, and a failed launch removes only what it wrote.
        fault_point(_FAULT_ENV, "after-insert")
        run_dir: Path | None = None
        try:
            run_dir = create_run_dir(self._runs_dir() / "jobs", f"{job_id:04d}-{label}")
            job_rows.update_job(self.db, job_id, run_dir=str(run_dir), argv=argv)
            handle = self.executor.launch(
                run_dir, LaunchSpec(argv=argv, cwd=str(run_dir), stdin_text=stdin)
            )
        except (OSError, LaunchError) as error:
            job_rows.delete_job(self.db, job_id)
            if run_dir is not None:
                remove_created_run_dir(run_dir)
            raise LaunchError(f"could not start {argv[1]}: {error}") from error
        supervisor = handle.supervisor
        job_rows.update_job(
            self.db,
            job_id,
            pid=supervisor.pid if supervisor else None,
            pid_start_time=supervisor.start_time if supervisor else None,
            host=supervisor.host if supervisor else None,
        )
        current = job_rows.get_job(self.db, job_id)
        if current is not None and current.stop_requested_at is not None:
            # A stop that came while it was being launched found no process to ask.
            self.executor.request_stop(run_dir, handle)
        process = self._make_process(job_id, run_dir, handle)
        self.active_jobs[job_id] = process
        if self.follow:
            process.start()

    def _make_process(self, job_id: int, run_dir: Path, handle: RunHandle) -> JobProcess:
        from ravelab.core.jobs.job_process import JobProcess

        job = job_rows.get_job(self.db, job_id)
        assert job is not None
        parse: LineParser = parse_preprocess_line if job.kind == "preprocess" else parse_export_line
        finish: Finisher = finish_preprocess if job.kind == "preprocess" else finish_export
        if job.kind == "export" and self.check_models:
            finish = finish_export_and_check
        process = JobProcess(
            self.db,
            job_id,
            run_dir,
            parse_line=parse,
            finish=finish,
            executor=self.executor,
            handle=handle,
            poll_interval=self.poll_interval,
        )
        process.finished.connect(lambda ok, message: self.active_jobs.pop(job_id, None))
        return process

    def reattach(self) -> None:
        """Follow unfinished jobs again; settle those that ended meanwhile. Each job is
        taken on its own: one job's trouble is logged and never stops the others."""
        for job in job_rows.unlaunched_jobs(self.db):
            try:
                self._reattach_unlaunched(job)
            except Exception as error:
                # A database error's one line says what to do: no traceback for it.
                trace = None if isinstance(error, DatabaseError) else error
                logger.error("job %s cannot be re-attached: %s", job.id, error, exc_info=trace)
        for job in job_rows.unended_jobs(self.db):
            if job.id in self.active_jobs or job.run_dir is None:
                continue
            try:
                self._follow_again(job)
            except Exception as error:
                self.active_jobs.pop(job.id, None)
                trace = None if isinstance(error, DatabaseError) else error
                logger.error("job %s cannot be followed: %s", job.id, error, exc_info=trace)

    def _follow_again(self, job: JobRecord) -> None:
        assert job.run_dir is not None
        supervisor = None
        if job.pid is not None and job.pid_start_time is not None:
            supervisor = ProcessIdentity(job.pid, job.pid_start_time, job.host or "")
        handle = RunHandle(self.executor.name, supervisor=supervisor)
        process = self._make_process(job.id, Path(job.run_dir), handle)
        self.active_jobs[job.id] = process
        if self.follow:
            process.start()
        else:
            process.poll()

    def _reattach_unlaunched(self, job: JobRecord) -> None:
        """A job with no process recorded (as for runs): left to a launcher that still
        lives; else its processes are adopted, or it is followed from what it left, or
        it is failed as never started (its dataset too)."""
        owner = experiment_rows.launch_owner(self.db, job.id, table="jobs")
        if not launcher_gone(owner):
            return
        run_dir = Path(job.run_dir) if job.run_dir else None
        if run_dir is not None:
            chosen = pick_supervisor(run_processes(run_dir))
            if chosen is None and owner is not None and (run_dir / STDOUT_LOG).exists():
                # It ran and ended unseen: the (dead) launcher stands in for its process.
                chosen = ProcessIdentity(owner.pid, owner.start_time, owner.host)
            if chosen is not None:
                job_rows.claim_job_process(
                    self.db, job.id, chosen.pid, chosen.start_time, chosen.host
                )
                return  # followed by the loop over unended jobs
        launcher = f" (pid {owner.pid})" if owner is not None else ""
        reason = f"never started: the command that launched it{launcher} ended before starting it"
        with self.db.atomic():
            failed = job_rows.fail_unlaunched_job(self.db, job.id, reason)
            if failed and job.kind == "preprocess" and job.dataset_id is not None:
                dataset_rows.update_dataset(
                    self.db,
                    job.dataset_id,
                    status=DatasetStatus.FAILED,
                    reason=f"preprocess {reason}",
                )

    def get_job(self, job_id: int) -> JobRecord:
        """A job by id.

        Raises:
            NotFoundError: unknown id.
        """
        job = job_rows.get_job(self.db, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found: `ravelab jobs` lists them")
        return job

    def wait(self, job_id: int, timeout: float | None = None) -> JobRecord:
        """Follow a job until it has ended; return its record.

        Raises:
            TimeoutError: still running after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        process = self.active_jobs.get(job_id)
        if process is not None:
            if process.is_alive():
                if not process.wait(timeout):
                    raise TimeoutError(f"job {job_id} is still running")
            else:
                while not process.is_done:
                    if not process.poll():
                        if deadline is not None and time.monotonic() > deadline:
                            raise TimeoutError(f"job {job_id} is still running")
                        time.sleep(self.poll_interval)
        return self.get_job(job_id)

    def refresh(self, job_id: int) -> None:
        """Catch up once with a job followed without a thread."""
        process = self.active_jobs.get(job_id)
        if process is not None and not process.is_alive() and not process.is_done:
            process.poll()

    def stop_job(self, job_id: int) -> bool:
        """Ask a running job to stop; False when it is not running."""
        job = self.get_job(job_id)
        if job.ended_at is not None or job.run_dir is None:
            return False
        run_dir = Path(job.run_dir)
        job_rows.update_job(self.db, job_id, stop_requested_at=utc_now())
        # Read again: a launch may have recorded its process since the read above. Either
        # this read sees it, or the launcher sees this stop once it has recorded it.
        job = self.get_job(job_id)
        supervisor = None
        if job.pid is not None and job.pid_start_time is not None:
            supervisor = ProcessIdentity(job.pid, job.pid_start_time, job.host or "")
        return self.executor.request_stop(
            run_dir, RunHandle(self.executor.name, supervisor=supervisor)
        )

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop following (jobs keep going)."""
        for process in list(self.active_jobs.values()):
            process.halt()
            if process.is_alive():
                process.join(timeout)


def _record_owner(db: Database, job_id: int) -> None:
    """Store this process as the launcher of a job (see ``launch_owner``)."""
    owner = this_launcher()
    job_rows.update_job(
        db,
        job_id,
        launcher_pid=owner.pid,
        launcher_start_time=owner.start_time,
        launcher_host=owner.host,
        launch_lease_until=owner.lease_until,
    )


def remote_export_argv(
    db_path: str,
    run_dir: Path,
    checkpoint: Path,
    model_path: Path,
    streaming: bool,
    fidelity: float | None,
    channels: int,
) -> list[str]:
    """The export job's argv for a run on a remote: ``ravelab.core.ssh.remote_export``
    exports there and pulls the model to ``model_path``."""
    argv = [sys.executable, "-m", "ravelab.core.ssh.remote_export", str(Path(db_path).resolve())]
    argv += [str(run_dir), str(checkpoint), str(model_path), "--channels", str(channels)]
    if streaming:
        argv.append("--streaming")
    if fidelity is not None:
        argv += ["--fidelity", repr(fidelity)]
    return argv


def _free_model_path(db: Database, checkpoint: Path, streaming: bool) -> tuple[Path, list[str]]:
    """The default ``.ts`` of an export (``<run>[_streaming].ts`` next to the checkpoint),
    else ``<run>-2``, ``-3``...: never a file that exists, nor one an unfinished export
    is writing (RAVE overwrites without a word, and the models of two checkpoints would
    share one file)."""
    writing = {
        str(job.options.get("expected_path"))
        for job in job_rows.list_jobs(db, "export")
        if job.ended_at is None
    }
    default, extra = expected_model_path(checkpoint, streaming, None)
    name = default.name.removesuffix(".ts").removesuffix("_streaming" if streaming else "")
    for attempt in range(1, _MAX_MODEL_NAMES + 1):
        if attempt > 1:
            default, extra = expected_model_path(
                checkpoint, streaming, checkpoint.parent / f"{name}-{attempt}.ts"
            )
        if not os.path.lexists(default) and str(default) not in writing:
            return default, extra
    raise ConfigError(
        f"{default.parent} holds {_MAX_MODEL_NAMES} exported models of {name!r} already: "
        "give --output"
    )
