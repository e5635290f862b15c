"""``LaunchMixin.start_training``: a new run's row, folder and processes.

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ravelab.core import datasets as core_datasets
from ravelab.core.errors import ConfigError, LaunchError
from ravelab.core.rave.locator import find_rave
from ravelab.core.rave.training_config import build_train_argv, validate_training_config
from ravelab.core.runs.executor import RunHandle
from ravelab.core.runs.launch_owner import this_launcher
from ravelab.core.runs.manager_base import FAULT_ENV, ManagerBase, logger
from ravelab.core.runs.run_files import (
    LaunchSpec,
    create_run_dir,
    fault_point,
    remove_created_run_dir,
)
from ravelab.db import experiments as rows
from ravelab.db.experiments import DuplicateNameError


class LaunchMixin(ManagerBase):
    """The launch part of ``TrainingManager``."""

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
        fault_point(FAULT_ENV, "after-insert")
        run_dir: Path | None = None
        handle: RunHandle | None = None
        try:
            run_dir = create_run_dir(runs_dir, f"{experiment_id:04d}-{spec.name}")
            argv = build_train_argv(rave, spec, out_path=run_dir)
            rows.update_fields(
                self.db, experiment_id, run_dir=str(run_dir), argv=argv, run_dir_created=1
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
        self.ensure_warden()
        return experiment_id
