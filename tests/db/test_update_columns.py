"""``UPDATE ... SET`` built from keyword names takes known columns only: an unknown name is
refused with a clear error before any SQL runs, so no name from outside reaches SQL text."""

from __future__ import annotations

from typing import Any

import pytest

from ravelab.db import Database
from ravelab.db import datasets as dataset_rows
from ravelab.db import experiments as rows
from ravelab.db import jobs as job_rows


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("experiments", rows.EXPERIMENT_COLUMNS),
        ("jobs", job_rows.JOB_COLUMNS),
        ("datasets", dataset_rows.DATASET_COLUMNS),
    ],
)
def test_the_closed_sets_are_the_tables_columns_but_the_key(
    db: Database, table: str, columns: frozenset[str]
) -> None:
    # A migration that adds a column must add it here too (or updating it is refused).
    names = {row[1] for row in db.query(f"PRAGMA table_info({table})")}
    assert columns == names - {"id"}


HOSTILE = ["status = 'failed', reason", "nope", "id", "status;--", ""]


@pytest.mark.parametrize("name", HOSTILE)
def test_an_unknown_experiment_column_is_refused_and_nothing_written(
    db: Database, dataset_id: int, name: str
) -> None:
    experiment_id = rows.insert_experiment(
        db, name="run", project_id=1, dataset_id=dataset_id, config={}
    )
    before = rows.get_experiment(db, experiment_id)
    fields: dict[str, Any] = {"reason": "changed", name: "x"}
    with pytest.raises(ValueError, match=r"experiments has no updatable column"):
        rows.update_fields(db, experiment_id, **fields)
    assert rows.get_experiment(db, experiment_id) == before


@pytest.mark.parametrize("name", HOSTILE)
def test_an_unknown_dataset_or_job_column_is_refused(
    db: Database, dataset_id: int, name: str
) -> None:
    before = dataset_rows.get_dataset(db, dataset_id)
    with pytest.raises(ValueError, match=r"datasets has no updatable column"):
        dataset_rows.update_dataset(db, dataset_id, **{name: "x"})
    assert dataset_rows.get_dataset(db, dataset_id) == before
    job_id = job_rows.insert_job(db, "preprocess", dataset_id=dataset_id)
    with pytest.raises(ValueError, match=r"jobs has no updatable column"):
        job_rows.update_job(db, job_id, **{name: "x"})


def test_known_columns_are_updated(db: Database, dataset_id: int) -> None:
    experiment_id = rows.insert_experiment(
        db, name="run", project_id=1, dataset_id=dataset_id, config={}
    )
    rows.update_fields(db, experiment_id, reason="why", progress={"step": 3})
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.reason == "why"
    assert record.progress.as_dict() == {"step": 3}
