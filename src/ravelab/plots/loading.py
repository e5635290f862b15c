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
    points = db.query(
        "SELECT step, value, wall_time FROM metric_points WHERE experiment_id = ? AND name = ? "
        "ORDER BY step",
        (experiment_id, metric),
    )
    table = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    phase = record.progress.get("phase_1_duration")
    checkpoints = [
        c.step for c in artifacts.list_checkpoints(db, experiment_id) if c.step is not None
    ]
    return RunSeries(
        label=f"{record.id} {record.name}",
        steps=np.ascontiguousarray(table[:, 0]),
        values=np.ascontiguousarray(table[:, 1]),
        wall_times=np.ascontiguousarray(table[:, 2]),
        phase_1_duration=int(phase) if isinstance(phase, int | float) else None,
        checkpoint_steps=sorted(set(checkpoints)),
    )
