"""``LaunchMixin.start_training``: a new run's row, folder and processes.

The launch of an existing row (folder, argv, processes, record) is shared by a direct
start (``start_training``) and a start from the queue (``start_claimed``, for a row the
queue's claim gave this process; see ``ravelab.core.operations.queue``).

A run being launched belongs to the process that inserted its row (its pid, start time
and host are stored with the row, plus a lease for other hosts): re-attaching leaves it
alone while that launcher lives (see ``manager_reattach``). Run folders are created
exclusively: a folder that exists already (from another database, or another database's
live run sharing the runs folder) is never touched; the new run gets a suffixed name
instead. A launch that fails removes only what it created in the same call.

Test-only fault hook: ``RAVELAB_FAULT_LAUNCH=after-insert`` (or ``after-launch``) with
``RAVELAB_FAULT_LAUNCH_GATE=PATH`` pauses ``start_training`` at that point until ``PATH``
exists (after touching ``PATH.reached``), so a test can kill the launching command exactly
there. Nothing else reads these variables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ravelab.core import datasets as core_datasets
from ravelab.core.errors import ConfigError, DatasetError, LaunchError, RavelabError
from ravelab.core.operations.checkpoint_retention import (
    check_retention_choice,
    store_retention_choice,
)
from ravelab.core.projects import require_project
from ravelab.core.rave.training_config import (
    TrainingSpec,
    build_train_argv,
    validate_training_config,
)
from ravelab.core.runs.executor import Executor, RunHandle
from ravelab.core.runs.launch_owner import this_launcher
from ravelab.core.runs.manager_base import FAULT_ENV, ManagerBase, logger
from ravelab.core.runs.run_files import (
    LaunchSpec,
    create_run_dir,
    fault_point,
    remove_created_run_dir,
)
from ravelab.db import datasets as dataset_rows
from ravelab.db import experiments as rows
from ravelab.db import run_queue as queue_rows
from ravelab.db.experiments import DuplicateNameError
from ravelab.db.vocabulary import DatasetStatus, RunStatus

#: The checkpoints a chained export (``then_export``) may take.
THEN_EXPORT_CHOICES = ("best", "latest")


class LaunchMixin(ManagerBase):
    """The launch part of ``TrainingManager``."""

    def start_training(
        self,
        config: Mapping[str, Any],
        *,
        then_export: str | None = None,
        keep_periodic: int | str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> int:
        """Validate ``config``, start ``rave train`` detached, and return the experiment id.

        ``then_export`` (``best`` or ``latest``): once the run completes, export that
        checkpoint (the warden's queue duty starts the export, once). ``keep_periodic``:
        how many of RAVE's periodic checkpoints the run keeps (a number, or ``"all"``;
        None: the stored default), pruned by the warden as they appear. ``progress``
        hears what a launch elsewhere is doing (an SSH run: sending its dataset), from
        this thread.

        Raises:
            ConfigError: a bad value (nothing is created).
            RaveNotFoundError: no ``rave`` executable (nothing is created).
            LaunchError: the run could not be started (nothing is left behind).
        """
        spec = validate_training_config(config, self.db)
        retention = check_retention_choice(keep_periodic)
        executor = self._executor_named(spec.executor)
        runs_dir = self._runs_dir_for(spec)
        rave = self._rave_for(executor)
        owner = this_launcher()
        stored = spec.as_config()
        if then_export is not None:
            stored["then_export"] = check_then_export(then_export)
        try:
            with self.db.atomic():
                if spec.dataset_id < 0:
                    record = core_datasets.register_dataset(
                        self.db, spec.dataset_path, project_id=spec.project_id
                    )
                    spec = dataclasses.replace(spec, dataset_id=record.id)
                    stored["dataset_id"] = record.id
                experiment_id = rows.insert_experiment(
                    self.db,
                    name=spec.name,
                    project_id=spec.project_id,
                    dataset_id=spec.dataset_id,
                    config=stored,
                    owner=owner,
                )
                store_retention_choice(self.db, experiment_id, retention)
        except DuplicateNameError as error:
            raise ConfigError(str(error)) from None
        fault_point(FAULT_ENV, "after-insert")

        def undo(run_dir: Path | None) -> None:
            rows.delete_experiment(self.db, experiment_id)
            if run_dir is not None:
                remove_created_run_dir(run_dir)

        previous = getattr(executor, "on_progress", None)
        if progress is not None and hasattr(executor, "on_progress"):
            executor.on_progress = progress
        try:
            self._launch_row(experiment_id, spec, stored, executor, runs_dir, rave, undo)
        finally:
            if progress is not None and hasattr(executor, "on_progress"):
                executor.on_progress = previous
        return experiment_id

    def start_claimed(self, experiment_id: int) -> bool:
        """Start a run the queue claimed for this process (see ``db.run_queue``): its
        stored settings are checked again (the dataset may be gone since it was queued),
        then it is launched like a new run. Whether it started; a run that cannot start is
        settled ``failed`` with the reason (the queue goes on with the next one)."""
        record = rows.get_experiment(self.db, experiment_id)
        if record is None or record.ended_at is not None or record.pid is not None:
            return False
        stored = dict(record.config)
        # Renamed while it waited: it starts under its name now (folder, --name).
        stored["name"] = record.name
        marker = stored.get(queue_rows.QUEUE_KEY)
        kept = marker if isinstance(marker, dict) else {}
        try:
            spec = self._checked_again(stored)
            executor = self._executor_named(spec.executor)
            # The rave and runs folder of whoever queued it, when it said.
            kept_runs = kept.get("runs_dir")
            runs_dir = Path(kept_runs) if isinstance(kept_runs, str) and kept_runs else None
            runs_dir = runs_dir or self._runs_dir_for(spec)
            kept_rave = kept.get("rave")
            rave = self._rave_for(executor, kept_rave if isinstance(kept_rave, str) else None)
        except RavelabError as error:
            self._fail_unlaunched(experiment_id, f"could not start from the queue: {error}")
            return False

        def undo(run_dir: Path | None) -> None:
            if run_dir is not None:
                remove_created_run_dir(run_dir)
                rows.update_fields(self.db, experiment_id, run_dir=None, run_dir_created=0)

        try:
            self._launch_row(experiment_id, spec, stored, executor, runs_dir, rave, undo)
        except LaunchError as error:
            self._fail_unlaunched(experiment_id, str(error))
            return False
        # Its process is recorded: re-attaching must never put it back in the queue.
        queue_rows.clear_marker(self.db, experiment_id)
        return True

    def _checked_again(self, stored: Mapping[str, Any]) -> TrainingSpec:
        """The spec a queued row stored, with what may have changed since checked again:
        its dataset (still registered, ready, and a RAVE dataset on disk) and project."""
        fields = {f.name for f in dataclasses.fields(TrainingSpec)}
        try:
            spec = TrainingSpec(**{k: v for k, v in stored.items() if k in fields})
        except TypeError as error:
            raise ConfigError(f"its stored settings are incomplete ({error})") from None
        dataset = dataset_rows.get_dataset(self.db, spec.dataset_id)
        if dataset is None:
            raise ConfigError(f"its dataset (id {spec.dataset_id}) was removed")
        if dataset.status != DatasetStatus.READY:
            raise ConfigError(f"dataset {dataset.name!r} is not ready (status {dataset.status})")
        try:
            core_datasets.read_dataset_folder(dataset.path)
        except DatasetError as error:
            raise ConfigError(f"dataset {dataset.name!r}: {error}") from None
        require_project(self.db, spec.project_id)
        return spec

    def _fail_unlaunched(self, experiment_id: int, reason: str) -> None:
        logger.warning("run %s: %s", experiment_id, reason)
        rows.settle_unlaunched(self.db, experiment_id, RunStatus.FAILED, reason[:500])

    def _launch_row(
        self,
        experiment_id: int,
        spec: TrainingSpec,
        config: dict[str, Any],
        executor: Executor,
        runs_dir: Path,
        rave: str,
        undo: Callable[[Path | None], None],
    ) -> None:
        """Launch the run of an existing row that this process owns (a new run, or one
        the queue claimed): its folder (created exclusively), argv, processes and record.
        A launch that fails before a process started calls ``undo`` with the folder it
        made (if any) and raises (a ``LaunchError`` for OS and launch errors)."""
        run_dir: Path | None = None
        handle: RunHandle | None = None
        try:
            run_dir = create_run_dir(runs_dir, f"{experiment_id:04d}-{spec.name}")
            argv = build_train_argv(rave, spec, out_path=run_dir)
            rows.update_fields(
                self.db,
                experiment_id,
                run_dir=str(run_dir),
                argv=argv,
                run_dir_created=1,
                # Known before the launch is sent: a launcher that dies after sending it
                # leaves a row that re-attaching must ask the remote about.
                **({"executor": executor.name} if executor.name == "ssh" else {}),
            )
            handle = executor.launch(
                run_dir, LaunchSpec(argv=argv, cwd=str(run_dir)), spec.executor_options
            )
            fault_point(FAULT_ENV, "after-launch")
            self._record_handle(experiment_id, handle)
        except BaseException as error:
            if handle is not None:
                # The run is going but could not be recorded: leave its row to re-attach,
                # which adopts the run's processes once this launcher is gone.
                raise
            undo(run_dir)
            if isinstance(error, OSError | LaunchError):
                raise LaunchError(f"could not start run {spec.name!r}: {error}") from error
            raise
        rows.update_fields(
            self.db, experiment_id, progress={"step": 0, "max_steps": spec.max_steps, "percent": 0}
        )
        self._stop_if_asked_meanwhile(experiment_id, run_dir, handle)
        logger.info("started run %s (%s): %s", experiment_id, spec.name, " ".join(argv))
        process = self._make_process(experiment_id, config, run_dir, handle)
        self.register_process(experiment_id, process)
        if self.follow:
            process.start()
        self.run_started.emit(experiment_id)
        self.ensure_warden()


def check_then_export(value: str) -> str:
    """``best`` or ``latest``: the checkpoint a chained export takes.

    Raises:
        ConfigError: anything else.
    """
    if value not in THEN_EXPORT_CHOICES:
        raise ConfigError(
            f"then_export must be one of {', '.join(THEN_EXPORT_CHOICES)}, not {value!r}"
        )
    return value
