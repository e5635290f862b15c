"""import-run: an experiment from a plain `rave train` folder."""

from __future__ import annotations

from pathlib import Path

from ravelab.core.jobs.importer import import_run
from ravelab.db import Database
from ravelab.db import experiments as rows


def test_an_imported_run_spans_its_logged_times_not_the_time_of_import(
    db: Database, tmp_path: Path
) -> None:
    from datetime import datetime

    from tests.core.tensorboard.test_run_events import _make_run_layout

    run = _make_run_layout(tmp_path / "outside")
    experiment_id = import_run(db, run, name="spanned")
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.started_at and record.completed_at
    walls = [
        wall
        for name in rows.metric_names(db, experiment_id)
        if name != "lr"  # computed by ravelab when read, stamped with the import's time
        for wall in rows.metric_columns(db, experiment_id, name).walls.tolist()
    ]
    started = datetime.fromisoformat(record.started_at).timestamp()
    completed = datetime.fromisoformat(record.completed_at).timestamp()
    assert abs(started - min(walls)) < 1 and abs(completed - max(walls)) < 1
