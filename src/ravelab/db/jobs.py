"""Managed jobs besides training (``rave preprocess``, ``rave export``) and exported models."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ravelab.db.database import Database
from ravelab.db.experiments import known_column, utc_now
from ravelab.db.vocabulary import RunStatus

if TYPE_CHECKING:
    import sqlite3

    from ravelab.db.job_records import JobRecord, ModelRecord


# The record classes are imported when a row is read: a command that only asks whether a
# job is unended (``ravelab list``, through re-attaching) does not build them.
def _job(row: sqlite3.Row) -> JobRecord:
    from ravelab.db.job_records import JobRecord

    return JobRecord.from_row(row)


def _model(row: sqlite3.Row) -> ModelRecord:
    from ravelab.db.job_records import ModelRecord

    return ModelRecord.from_row(row)


def insert_job(
    db: Database,
    kind: str,
    *,
    dataset_id: int | None = None,
    experiment_id: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> int:
    """Insert a running job and return its id."""
    cursor = db.execute(
        "INSERT INTO jobs(kind, dataset_id, experiment_id, status, options, created_at) "
        f"VALUES (?, ?, ?, '{RunStatus.RUNNING}', ?, ?)",
        (kind, dataset_id, experiment_id, json.dumps(dict(options or {})), utc_now()),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def get_job(db: Database, job_id: int) -> JobRecord | None:
    """One job, or None."""
    row = db.query_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
    return None if row is None else _job(row)


def list_jobs(db: Database, kind: str | None = None) -> list[JobRecord]:
    """Jobs, newest first."""
    if kind is None:
        rows = db.query("SELECT * FROM jobs ORDER BY id DESC")
    else:
        rows = db.query("SELECT * FROM jobs WHERE kind = ? ORDER BY id DESC", (kind,))
    return [_job(row) for row in rows]


def any_unended(db: Database) -> bool:
    """Whether some job's end is not recorded: the only jobs that re-attaching looks at."""
    return db.query_one("SELECT 1 FROM jobs WHERE ended_at IS NULL LIMIT 1") is not None


def unended_jobs(db: Database) -> list[JobRecord]:
    """Jobs that were started and whose end is not recorded."""
    rows = db.query("SELECT * FROM jobs WHERE pid IS NOT NULL AND ended_at IS NULL ORDER BY id")
    return [_job(row) for row in rows]


def unlaunched_jobs(db: Database) -> list[JobRecord]:
    """Running jobs with no process recorded yet (being launched, or whose launcher died
    before it recorded the supervisor)."""
    rows = db.query(
        "SELECT * FROM jobs WHERE pid IS NULL AND ended_at IS NULL "
        f"AND status = '{RunStatus.RUNNING}' ORDER BY id"
    )
    return [_job(row) for row in rows]


def claim_job_process(db: Database, job_id: int, pid: int, start_time: float, host: str) -> bool:
    """Record a process found for a job that had none; False when another process
    recorded one first (or the job has ended meanwhile)."""
    cursor = db.execute(
        "UPDATE jobs SET pid = ?, pid_start_time = ?, host = ? "
        "WHERE id = ? AND pid IS NULL AND ended_at IS NULL",
        (pid, start_time, host, job_id),
    )
    return cursor.rowcount > 0


def fail_unlaunched_job(db: Database, job_id: int, reason: str) -> bool:
    """Fail a job that never got a process (only while it still has none and has not
    ended); False when it got one or ended meanwhile."""
    cursor = db.execute(
        f"UPDATE jobs SET status = '{RunStatus.FAILED}', reason = ?, ended_at = ? "
        "WHERE id = ? AND pid IS NULL AND ended_at IS NULL",
        (reason, utc_now(), job_id),
    )
    return cursor.rowcount > 0


def end_job(
    db: Database, job_id: int, status: str, reason: str | None, exit_code: int | None
) -> bool:
    """Record a job's end, once: False when its end was recorded already (by another
    follower), and then nothing is changed."""
    cursor = db.execute(
        "UPDATE jobs SET status = ?, reason = ?, exit_code = ?, ended_at = ? "
        "WHERE id = ? AND ended_at IS NULL",
        (status, reason, exit_code, utc_now(), job_id),
    )
    return cursor.rowcount > 0


#: The job columns ``update_job`` may set (a closed set; ``id`` is never updated).
JOB_COLUMNS = frozenset(
    {
        "kind", "dataset_id", "experiment_id", "status", "options", "progress", "run_dir",
        "argv", "pid", "pid_start_time", "host", "exit_code", "reason", "created_at",
        "ended_at", "stop_requested_at", "launcher_pid", "launcher_start_time",
        "launcher_host", "launch_lease_until",
    }
)  # fmt: skip


def update_job(db: Database, job_id: int, **fields: Any) -> None:
    """Update columns of a job (dicts and lists stored as JSON).

    Raises:
        ValueError: a name that is not one of ``JOB_COLUMNS`` (nothing is written).
    """
    if not fields:
        return
    names = [f"{known_column(key, JOB_COLUMNS, 'jobs')} = ?" for key in fields]
    values = [json.dumps(v) if isinstance(v, dict | list) else v for v in fields.values()]
    db.execute(f"UPDATE jobs SET {', '.join(names)} WHERE id = ?", [*values, job_id])


def delete_job(db: Database, job_id: int) -> None:
    """Remove a job row."""
    db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))


def insert_model(
    db: Database,
    *,
    experiment_id: int | None,
    job_id: int | None,
    path: str,
    size_bytes: int,
    streaming: bool,
    fidelity: float | None,
    checkpoint: str | None,
    step: int | None,
) -> int:
    """Record an exported model (a path exported again replaces its row)."""
    db.execute("DELETE FROM models WHERE path = ?", (path,))
    cursor = db.execute(
        "INSERT INTO models(experiment_id, job_id, path, size_bytes, streaming, fidelity, "
        "checkpoint, step, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            experiment_id,
            job_id,
            path,
            size_bytes,
            int(streaming),
            fidelity,
            checkpoint,
            step,
            utc_now(),
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def list_models(db: Database, experiment_id: int | None = None) -> list[ModelRecord]:
    """Exported models, newest first."""
    if experiment_id is None:
        rows = db.query("SELECT * FROM models ORDER BY id DESC")
    else:
        rows = db.query(
            "SELECT * FROM models WHERE experiment_id = ? ORDER BY id DESC", (experiment_id,)
        )
    return [_model(row) for row in rows]


def set_model_check(
    db: Database, model_id: int, check_result: str, torch_version: str | None
) -> None:
    """Store the check of an exported model (JSON text) and the torch that made it."""
    db.execute(
        "UPDATE models SET check_result = ?, checked_at = ?, "
        "torch_version = COALESCE(?, torch_version) WHERE id = ?",
        (check_result, utc_now(), torch_version, model_id),
    )


def get_model(db: Database, model_id: int) -> ModelRecord | None:
    """One exported model, or None."""
    rows = db.query("SELECT * FROM models WHERE id = ?", (model_id,))
    return _model(rows[0]) if rows else None
