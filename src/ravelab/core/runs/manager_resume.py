"""``ResumeMixin.resume_training``: continuing a stopped or failed run from a checkpoint.

A resume claims the row the way a launch owns a new one (no process, its launcher
recorded) and only if the row is still as it read it: of two resumes at once, one wins.
The previous attempt's files are set aside under a new name, never deleted.

Test-only fault hook: ``RAVELAB_FAULT_LAUNCH=resume-checked`` (with
``RAVELAB_FAULT_LAUNCH_GATE=PATH``, as for a launch) pauses ``resume_training`` after its
checks, before it claims the row, and ``resume-claimed`` after the claim, before it starts
anything. Nothing else reads these variables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ravelab.core.errors import ConfigError, LaunchError, NotFoundError
from ravelab.core.rave.training_config import TrainingSpec, build_train_argv
from ravelab.core.runs.executor import RunHandle
from ravelab.core.runs.launch_owner import this_launcher
from ravelab.core.runs.manager_base import FAULT_ENV, ManagerBase
from ravelab.core.runs.merged_log import RESUME_STEP_ENV
from ravelab.core.runs.run_files import (
    EXIT_FILE,
    SUPERVISOR_FILE,
    LaunchSpec,
    fault_point,
    set_aside,
)
from ravelab.db import ExperimentRecord
from ravelab.db import experiments as rows
from ravelab.db.artifacts import list_checkpoints
from ravelab.db.records import LaunchOwner


class ResumeMixin(ManagerBase):
    """The resume part of ``TrainingManager``."""

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
        rave = self._rave_for(executor)
        argv = build_train_argv(rave, spec, out_path=run_dir, ckpt=str(chosen.path))
        if self._still_lives(record):
            raise ConfigError(
                f"experiment {experiment_id} is still shutting down: wait until "
                f"`ravelab list` shows it ended (or `ravelab stop {experiment_id}` again)"
            )
        fault_point(FAULT_ENV, "resume-checked")
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
            set_aside(run_dir / EXIT_FILE)
            set_aside(run_dir / SUPERVISOR_FILE)
            fault_point(FAULT_ENV, "resume-claimed")
            handle = executor.launch(
                run_dir,
                LaunchSpec(argv=argv, cwd=str(run_dir), env=_resume_env(self, record, chosen.path)),
                spec.executor_options,
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
        self.ensure_warden()
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


def _resume_env(manager: ManagerBase, record: ExperimentRecord, ckpt: Path) -> dict[str, str]:
    """The step the checkpoint holds, for merged.log's attempt separator (when known)."""
    steps = [c.step for c in list_checkpoints(manager.db, record.id) if c.path == str(ckpt)]
    step = steps[0] if steps else None
    return {RESUME_STEP_ENV: str(step)} if isinstance(step, int) and step >= 0 else {}
