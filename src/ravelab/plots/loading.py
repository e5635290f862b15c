"""Reading what a plot needs from the database: a metric's points and a run's markers."""

from __future__ import annotations

import numpy as np

from ravelab.db import Database, artifacts
from ravelab.db import experiments as rows
from ravelab.plots.comparison import RunSeries


def load_run_series(db: Database, experiment_id: int, metric: str) -> RunSeries:
    """One run's ``metric`` with wall times, phase boundary and checkpoint steps.

    Raises:
        LookupError: unknown experiment.
    """
    record = rows.get_experiment(db, experiment_id)
    if record is None:
        raise LookupError(f"experiment {experiment_id} not found")
    columns = rows.metric_columns(db, experiment_id, metric)
    phase = record.progress.phase_1_duration
    checkpoints = [
        c.step for c in artifacts.list_checkpoints(db, experiment_id) if c.step is not None
    ]
    return RunSeries(
        label=f"{record.id} {record.name}",
        steps=columns.steps.astype(np.float64),
        values=np.array(columns.values, dtype=np.float64),
        wall_times=np.array(columns.walls, dtype=np.float64),
        phase_1_duration=int(phase) if isinstance(phase, int | float) else None,
        checkpoint_steps=sorted(set(checkpoints)),
    )
