"""What the front ends read about runs: a run by id or name, its metrics, checkpoints,
exported models and managed jobs. The CLI and the app read through here, never through
the repositories (``ravelab.db``), so the data layer's shape stays the core's business.

``Columns`` (NumPy arrays) and the checkpoint reads are imported on first use: ``ravelab
list`` reads through here and needs neither NumPy nor the artifact tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ravelab.db import experiments, jobs
from ravelab.db.database import Database
from ravelab.db.experiments import (
    count_points,
    find_experiment_by_name,
    get_experiment,
    list_experiments,
    metric_columns,
    metric_names,
)
from ravelab.db.jobs import get_job, list_jobs, list_models

if TYPE_CHECKING:
    from ravelab.db.artifacts import CheckpointRecord, list_checkpoints
    from ravelab.db.point_blocks import Columns

__all__ = [
    "CheckpointRecord",
    "Columns",
    "anything_unended",
    "count_points",
    "find_experiment_by_name",
    "get_experiment",
    "get_job",
    "list_checkpoints",
    "list_experiments",
    "list_jobs",
    "list_models",
    "metric_columns",
    "metric_names",
]


def anything_unended(db: Database) -> bool:
    """Whether some run's or job's end is not recorded: the only rows that re-attaching
    (creating a ``TrainingManager``) looks at, so with none it has nothing to do."""
    return experiments.any_unended(db) or jobs.any_unended(db)


def anything_to_look_after(db: Database) -> bool:
    """Whether a one-shot command should create a ``TrainingManager`` (which re-attaches
    and starts the warden where it is needed): a run or job not ended, a queued run, or a
    notification still to send (its warden may have been killed)."""
    from ravelab.db.events import deliveries_pending

    return anything_unended(db) or deliveries_pending(db)


def __getattr__(name: str) -> Any:
    if name == "Columns":
        from ravelab.db.point_blocks import Columns

        return Columns
    if name in ("CheckpointRecord", "list_checkpoints"):
        from ravelab.db import artifacts

        return getattr(artifacts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
