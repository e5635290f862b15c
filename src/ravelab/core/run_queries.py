"""What the front ends read about runs: a run by id or name, its metrics, checkpoints,
exported models and managed jobs. The CLI and the app read through here, never through
the repositories (``ravelab.db``), so the data layer's shape stays the core's business."""

from __future__ import annotations

from ravelab.db.artifacts import CheckpointRecord, list_checkpoints
from ravelab.db.experiments import (
    count_points,
    find_experiment_by_name,
    get_experiment,
    metric_columns,
    metric_names,
)
from ravelab.db.jobs import get_job, list_jobs, list_models
from ravelab.db.point_blocks import Columns

__all__ = [
    "CheckpointRecord",
    "Columns",
    "count_points",
    "find_experiment_by_name",
    "get_experiment",
    "get_job",
    "list_checkpoints",
    "list_jobs",
    "list_models",
    "metric_columns",
    "metric_names",
]
