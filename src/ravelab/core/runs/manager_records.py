"""``RecordsMixin``: the original API's reads and writes of experiments as dicts.

Experiments as dicts (and typed records), their status and metrics as the original API
sets them, metric histories, checkpoints, and a config to clone a run from.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.rave.checkpoints import find_checkpoints
from ravelab.core.rave.training_config import TrainingSpec
from ravelab.core.runs.manager_base import ManagerBase
from ravelab.db import ExperimentRecord, artifacts
from ravelab.db import experiments as rows
from ravelab.db.experiments import utc_now
from ravelab.db.vocabulary import RunStatus

if TYPE_CHECKING:
    # Columns are NumPy arrays: NumPy is imported only by the call that reads them.
    from ravelab.db import point_blocks


class RecordsMixin(ManagerBase):
    """The records part of ``TrainingManager`` (the original API's dicts)."""

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

    def list_audio_clips(
        self, experiment_id: int, n_signal: int | None = None
    ) -> list[dict[str, Any]]:
        """An experiment's validation clips by training step: step, version, path,
        sample_rate, seconds, pairs... (see ``ravelab.core.listening.clips.ClipEntry``).
        Clips whose file is gone or damaged are left out (``list_clips`` names them)."""
        from ravelab.core.listening.clips import list_clips  # NumPy: only when asked

        record = rows.get_experiment(self.db, experiment_id)
        if record is None:
            raise NotFoundError(f"experiment {experiment_id} not found")
        return [clip.as_dict() for clip in list_clips(self.db, record, n_signal).clips]

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


def _as_dict(record: ExperimentRecord) -> dict[str, Any]:
    return record.as_dict()
