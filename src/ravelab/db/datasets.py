"""Registered RAVE datasets.

Rows are read back as untrusted: a number column holding text, a float where an integer
belongs, an infinity or a negative length (stored by an older version, or by hand) comes
back as None, "unknown", so one bad row never breaks a listing, a sort or a sum.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from typing import Any

from ravelab.db.database import Database
from ravelab.db.dataset_records import DatasetRecord
from ravelab.db.experiments import known_column, utc_now
from ravelab.db.vocabulary import DatasetStatus


def insert_dataset(
    db: Database,
    *,
    name: str,
    path: str,
    channels: int | None,
    sample_rate: int | None,
    n_seconds: float | None,
    lazy: bool = False,
    project_id: int = 1,
    status: DatasetStatus = DatasetStatus.READY,
    sources: list[str] | None = None,
    num_signal: int | None = None,
) -> int:
    """Insert a dataset row and return its id."""
    cursor = db.execute(
        "INSERT INTO datasets(project_id, name, path, channels, sample_rate, n_seconds, lazy, "
        "status, created_at, sources, num_signal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            project_id,
            name,
            path,
            channels,
            sample_rate,
            n_seconds,
            int(lazy),
            status,
            utc_now(),
            json.dumps(sources or []),
            num_signal,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def get_dataset(db: Database, dataset_id: int) -> DatasetRecord | None:
    """One dataset by id, or None."""
    row = db.query_one("SELECT * FROM datasets WHERE id = ?", (dataset_id,))
    return None if row is None else _record(row)


def find_dataset(
    db: Database, *, name: str | None = None, path: str | None = None
) -> DatasetRecord | None:
    """A dataset by name or by path, or None."""
    if name is not None:
        row = db.query_one("SELECT * FROM datasets WHERE name = ?", (name,))
    elif path is not None:
        row = db.query_one("SELECT * FROM datasets WHERE path = ?", (path,))
    else:
        return None
    return None if row is None else _record(row)


def list_datasets(db: Database, project_id: int | None = None) -> list[DatasetRecord]:
    """Datasets ordered by id, optionally of one project."""
    if project_id is None:
        rows = db.query("SELECT * FROM datasets ORDER BY id")
    else:
        rows = db.query("SELECT * FROM datasets WHERE project_id = ? ORDER BY id", (project_id,))
    return [_record(row) for row in rows]


def _record(row: sqlite3.Row) -> DatasetRecord:
    record = DatasetRecord.from_row(row)
    seconds = record.n_seconds
    return dataclasses.replace(
        record,
        channels=_count(record.channels),
        sample_rate=_count(record.sample_rate),
        num_signal=_count(record.num_signal),
        n_seconds=(
            float(seconds)
            if isinstance(seconds, int | float)
            and not isinstance(seconds, bool)
            and math.isfinite(seconds)
            and seconds >= 0
            else None
        ),
    )


def _count(value: object) -> int | None:
    """A positive integer column, or None when the row holds anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def experiments_using(db: Database, dataset_id: int) -> list[int]:
    """Ids of the experiments trained on a dataset."""
    rows = db.query("SELECT id FROM experiments WHERE dataset_id = ? ORDER BY id", (dataset_id,))
    return [int(row[0]) for row in rows]


#: The dataset columns ``update_dataset`` may set (a closed set; ``id`` is never updated).
DATASET_COLUMNS = frozenset(
    {
        "project_id", "name", "path", "channels", "sample_rate", "n_seconds", "lazy",
        "status", "reason", "created_at", "job_id", "sources", "num_signal",
    }
)  # fmt: skip


def update_dataset(db: Database, dataset_id: int, **fields: Any) -> None:
    """Update columns of a dataset.

    Raises:
        ValueError: a name that is not one of ``DATASET_COLUMNS`` (nothing is written).
    """
    if fields:
        names = [f"{known_column(key, DATASET_COLUMNS, 'datasets')} = ?" for key in fields]
        values = [json.dumps(v) if isinstance(v, list | dict) else v for v in fields.values()]
        db.execute(f"UPDATE datasets SET {', '.join(names)} WHERE id = ?", [*values, dataset_id])


def delete_dataset(db: Database, dataset_id: int) -> None:
    """Remove a dataset row (never its files)."""
    db.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
