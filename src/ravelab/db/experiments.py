"""Experiments, their metric points and the read offsets of their sources."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ravelab.db.database import Database
from ravelab.db.progress import ProgressUpdate
from ravelab.db.records import ExperimentRecord, LaunchOwner
from ravelab.db.vocabulary import LIVE_SQL, Health, RunStatus

if TYPE_CHECKING:
    # Imported where points are read or written: it brings NumPy, which listing and
    # showing runs never need.
    from ravelab.db import point_blocks


_SELECT = (
    "SELECT e.*, d.name AS dataset_name, "
    # The attempts (``run_attempts``, one row per launch or resume): how many, the seconds
    # the ended ones trained, and when the open one began (its time grows with the clock).
    "(SELECT COUNT(*) FROM run_attempts a WHERE a.experiment_id = e.id) AS attempts, "
    "(SELECT SUM(julianday(a.ended_at) - julianday(a.started_at)) * 86400.0 "
    "FROM run_attempts a WHERE a.experiment_id = e.id AND a.ended_at IS NOT NULL) "
    "AS attempts_seconds, "
    "(SELECT a.started_at FROM run_attempts a WHERE a.experiment_id = e.id "
    "AND a.ended_at IS NULL ORDER BY a.attempt DESC LIMIT 1) AS attempt_started_at "
    "FROM experiments e LEFT JOIN datasets d ON d.id = e.dataset_id"
)


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class DuplicateNameError(ValueError):
    """A run of that name exists already (names are unique across projects)."""


def insert_experiment(
    db: Database,
    *,
    name: str,
    project_id: int,
    dataset_id: int | None,
    config: Mapping[str, Any],
    status: RunStatus = RunStatus.RUNNING,
    owner: LaunchOwner | None = None,
) -> int:
    """Insert a new experiment row and return its id.

    ``owner`` is the process launching the run (see :class:`LaunchOwner`): until it has
    recorded the run's supervisor, the row belongs to it.

    Raises:
        DuplicateNameError: a run of that name exists (decided in the insert's own
            transaction, so two processes inserting the same name at once cannot both
            succeed, and the loser gets this error rather than an integrity error).
    """
    now = utc_now()
    with db.atomic():
        existing = db.query_one(
            "SELECT e.id, p.name FROM experiments e LEFT JOIN projects p ON p.id = e.project_id "
            "WHERE e.name = ?",
            (name,),
        )
        if existing is not None:
            raise DuplicateNameError(_duplicate_message(name, existing[0], existing[1]))
        try:
            cursor = db.execute(
                "INSERT INTO experiments(project_id, name, dataset_id, config, status, "
                "created_at, started_at, launcher_pid, launcher_start_time, launcher_host, "
                "launch_lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    project_id,
                    name,
                    dataset_id,
                    json.dumps(dict(config)),
                    status,
                    now,
                    now,
                    owner.pid if owner else None,
                    owner.start_time if owner else None,
                    owner.host if owner else None,
                    owner.lease_until if owner else None,
                ),
            )
        except sqlite3.IntegrityError as error:
            if "experiments.name" not in str(error):
                raise
            raise DuplicateNameError(_duplicate_message(name, None, None)) from None
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _duplicate_message(name: str, other_id: int | None, project: str | None) -> str:
    where = f" (run {other_id}, project {project!r})" if other_id is not None else ""
    return f"a run named {name!r} exists already{where}: choose another --name"


def launch_owner(db: Database, row_id: int, table: str = "experiments") -> LaunchOwner | None:
    """The process that launched (or is launching) an experiment (or, with ``table``
    ``"jobs"``, a job), when recorded."""
    if table not in ("experiments", "jobs"):
        raise ValueError(f"no launch owner in table {table!r}")
    row = db.query_one(
        "SELECT launcher_pid, launcher_start_time, launcher_host, launch_lease_until "
        f"FROM {table} WHERE id = ?",
        (row_id,),
    )
    if row is None or row[0] is None or row[1] is None:
        return None
    return LaunchOwner(int(row[0]), float(row[1]), str(row[2] or ""), float(row[3] or 0.0))


def unlaunched_experiments(db: Database) -> list[ExperimentRecord]:
    """Unended experiments that have no process recorded yet (being launched, or whose
    launcher died before it recorded the supervisor)."""
    rows = db.query(
        f"{_SELECT} WHERE e.pid IS NULL AND e.job_id IS NULL AND e.ended_at IS NULL "
        f"AND e.status IN {LIVE_SQL} ORDER BY e.id"
    )
    return [ExperimentRecord.from_row(row) for row in rows]


def claim_process(db: Database, experiment_id: int, pid: int, start_time: float, host: str) -> bool:
    """Record a process found for an experiment that had none; False when another
    process recorded one first (or the run has ended meanwhile)."""
    cursor = db.execute(
        "UPDATE experiments SET pid = ?, pid_start_time = ?, host = ? "
        "WHERE id = ? AND pid IS NULL AND job_id IS NULL AND ended_at IS NULL",
        (pid, start_time, host, experiment_id),
    )
    return cursor.rowcount > 0


def settle_unlaunched(db: Database, experiment_id: int, status: RunStatus, reason: str) -> bool:
    """End an experiment that never got a process (only while it still has none)."""
    now = utc_now()
    cursor = db.execute(
        "UPDATE experiments SET status = ?, reason = ?, ended_at = ?, completed_at = ? "
        "WHERE id = ? AND pid IS NULL AND job_id IS NULL AND ended_at IS NULL "
        # A run put back in the queue meanwhile (by another re-attach) waits there.
        f"AND status != '{RunStatus.QUEUED}' "
        "AND id NOT IN (SELECT experiment_id FROM run_queue)",
        (status, reason, now, now, experiment_id),
    )
    return cursor.rowcount > 0


def claim_for_resume(
    db: Database,
    record: ExperimentRecord,
    owner: LaunchOwner,
    config: Mapping[str, Any],
    argv: list[str],
) -> bool:
    """Make the row a run being launched by ``owner``, only if it is still as ``record``
    shows it (ended or stopped, same process); False (nothing changed) otherwise."""
    cursor = db.execute(
        f"UPDATE experiments SET status = '{RunStatus.RUNNING}', ended_at = NULL, "
        "exit_code = NULL, reason = NULL, stop_requested_at = NULL, completed_at = NULL, "
        f"stop_at_checkpoint = 0, health = '{Health.OK}', health_detail = NULL, config = ?, "
        "argv = ?, pid = NULL, pid_start_time = NULL, host = NULL, job_id = NULL, "
        "launcher_pid = ?, launcher_start_time = ?, launcher_host = ?, "
        "launch_lease_until = ? "
        f"WHERE id = ? AND status NOT IN {LIVE_SQL} AND pid IS ? "
        "AND pid_start_time IS ? AND job_id IS ?",
        (
            json.dumps(dict(config)),
            json.dumps(argv),
            owner.pid,
            owner.start_time,
            owner.host,
            owner.lease_until,
            record.id,
            record.pid,
            record.pid_start_time,
            record.job_id,
        ),
    )
    return cursor.rowcount > 0


def stopped_unlaunched_ids(db: Database) -> list[int]:
    """Ids of rows stopped while being launched: no process recorded and no end."""
    rows = db.query(
        "SELECT id FROM experiments WHERE pid IS NULL AND job_id IS NULL "
        f"AND ended_at IS NULL AND status = '{RunStatus.STOPPED}' ORDER BY id"
    )
    return [int(row[0]) for row in rows]


def set_unended_reason(db: Database, experiment_id: int, reason: str) -> None:
    """Set the reason of a run that has not ended (an ended run's reason is its end's)."""
    db.execute(
        "UPDATE experiments SET reason = ? WHERE id = ? AND ended_at IS NULL",
        (reason, experiment_id),
    )


def mark_queued(db: Database, experiment_id: int, detail: str | None) -> None:
    """A run not ended and queued or running is ``queued`` with the queue's reason."""
    db.execute(
        f"UPDATE experiments SET status = '{RunStatus.QUEUED}', reason = ? WHERE id = ? "
        f"AND ended_at IS NULL AND status IN {LIVE_SQL}",
        (detail, experiment_id),
    )


def mark_left_queue(db: Database, experiment_id: int) -> None:
    """A queued run not ended is ``running``; the queue's reason goes with the queue."""
    db.execute(
        f"UPDATE experiments SET status = '{RunStatus.RUNNING}', reason = NULL WHERE id = ? "
        f"AND ended_at IS NULL AND status = '{RunStatus.QUEUED}'",
        (experiment_id,),
    )


def end_experiment(
    db: Database, experiment_id: int, status: str, reason: str | None, exit_code: int | None
) -> bool:
    """Record a run's end, once: False when its end was recorded already (by another
    follower), and then nothing is changed."""
    now = utc_now()
    cursor = db.execute(
        "UPDATE experiments SET status = ?, reason = ?, exit_code = ?, "
        "completed_at = ?, ended_at = ? WHERE id = ? AND ended_at IS NULL",
        (status, reason, exit_code, now, now, experiment_id),
    )
    return cursor.rowcount > 0


def find_by_run_dir(db: Database, run_dir: str) -> int | None:
    """The id of the experiment whose run folder is ``run_dir``, or None."""
    row = db.query_one("SELECT id FROM experiments WHERE run_dir = ?", (run_dir,))
    return None if row is None else int(row[0])


def get_experiment(db: Database, experiment_id: int) -> ExperimentRecord | None:
    """One experiment, or None when the id is unknown."""
    row = db.query_one(f"{_SELECT} WHERE e.id = ?", (experiment_id,))
    return None if row is None else ExperimentRecord.from_row(row)


def find_experiment_by_name(db: Database, name: str) -> ExperimentRecord | None:
    """The experiment with this name, or None."""
    row = db.query_one(f"{_SELECT} WHERE e.name = ?", (name,))
    return None if row is None else ExperimentRecord.from_row(row)


def list_experiments(db: Database, project_id: int | None = None) -> list[ExperimentRecord]:
    """Experiments, newest first, optionally of one project."""
    if project_id is None:
        rows = db.query(f"{_SELECT} ORDER BY e.id DESC")
    else:
        rows = db.query(f"{_SELECT} WHERE e.project_id = ? ORDER BY e.id DESC", (project_id,))
    return [ExperimentRecord.from_row(row) for row in rows]


def any_unended(db: Database) -> bool:
    """Whether some experiment's end is not recorded: the only rows that re-attaching
    (``TrainingManager``) looks at, so with none it has nothing to do."""
    return db.query_one("SELECT 1 FROM experiments WHERE ended_at IS NULL LIMIT 1") is not None


def unended_experiments(db: Database) -> list[ExperimentRecord]:
    """Experiments whose process was started and whose end has not been recorded."""
    rows = db.query(
        f"{_SELECT} WHERE (e.pid IS NOT NULL OR e.job_id IS NOT NULL) AND e.ended_at IS NULL "
        "ORDER BY e.id"
    )
    return [ExperimentRecord.from_row(row) for row in rows]


#: The experiment columns ``update_fields`` may set: a closed set, so a column name from
#: outside never reaches SQL text (``id``, the key, is never updated).
EXPERIMENT_COLUMNS = frozenset(
    {
        "project_id", "name", "dataset_id", "config", "status", "created_at", "started_at",
        "completed_at", "metrics", "progress", "run_dir", "argv", "pid", "pid_start_time",
        "host", "exit_code", "reason", "ended_at", "stop_requested_at", "executor", "job_id",
        "health", "health_detail", "stop_at_checkpoint", "launcher_pid",
        "launcher_start_time", "launcher_host", "launch_lease_until", "run_dir_created",
        "notes", "tags", "archived_at",
    }
)  # fmt: skip


def update_fields(db: Database, experiment_id: int, **fields: Any) -> None:
    """Update columns of one experiment; dicts and lists are stored as JSON.

    Raises:
        ValueError: a name that is not one of ``EXPERIMENT_COLUMNS`` (nothing is written).
    """
    if not fields:
        return
    names = []
    values: list[Any] = []
    for key, value in fields.items():
        names.append(f"{known_column(key, EXPERIMENT_COLUMNS, 'experiments')} = ?")
        values.append(json.dumps(value) if isinstance(value, dict | list) else value)
    values.append(experiment_id)
    db.execute(f"UPDATE experiments SET {', '.join(names)} WHERE id = ?", values)


def known_column(name: str, columns: frozenset[str], table: str) -> str:
    """``name`` when it is one of ``columns``; the one check every ``UPDATE ... SET``
    built from keyword names goes through.

    Raises:
        ValueError: any other name, said with the table and the columns it has.
    """
    if name not in columns:
        raise ValueError(
            f"{table} has no updatable column {name!r} (known: {', '.join(sorted(columns))})"
        )
    return name


def delete_experiment(db: Database, experiment_id: int) -> None:
    """Remove an experiment row and (by cascade) its points and offsets."""
    db.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,))


def delete_ended_experiment(db: Database, experiment_id: int) -> bool:
    """Remove an ended experiment's row and, by cascade, everything stored with it
    (metric blocks, offsets, clips, texts, checkpoints, validations, attempts, its jobs;
    its exported models stay, no longer linked to it); False when the row is gone or
    not ended (nothing changed)."""
    cursor = db.execute(
        f"DELETE FROM experiments WHERE id = ? AND ended_at IS NOT NULL "
        f"AND status NOT IN {LIVE_SQL}",
        (experiment_id,),
    )
    return cursor.rowcount > 0


def rename_experiment(db: Database, experiment_id: int, name: str) -> bool:
    """Give an experiment another name (its run folder stays where it is); False when
    the row is gone.

    Raises:
        DuplicateNameError: another run has that name (decided in the rename's own
            transaction, as for an insert).
    """
    with db.atomic():
        existing = db.query_one(
            "SELECT e.id, p.name FROM experiments e LEFT JOIN projects p ON p.id = e.project_id "
            "WHERE e.name = ? AND e.id != ?",
            (name, experiment_id),
        )
        if existing is not None:
            raise DuplicateNameError(
                f"a run named {name!r} exists already (run {existing[0]}, project "
                f"{existing[1]!r}): choose another name"
            )
        cursor = db.execute("UPDATE experiments SET name = ? WHERE id = ?", (name, experiment_id))
    return cursor.rowcount > 0


def set_notes(db: Database, experiment_id: int, notes: str) -> bool:
    """Replace an experiment's notes; False when the row is gone."""
    cursor = db.execute("UPDATE experiments SET notes = ? WHERE id = ?", (notes, experiment_id))
    return cursor.rowcount > 0


def set_tags(db: Database, experiment_id: int, tags: Sequence[str]) -> bool:
    """Replace an experiment's tags (stored as a JSON list); False when the row is gone."""
    cursor = db.execute(
        "UPDATE experiments SET tags = ? WHERE id = ?", (json.dumps(list(tags)), experiment_id)
    )
    return cursor.rowcount > 0


def set_archived(db: Database, experiment_id: int, archived: bool) -> bool:
    """Archive (now) or unarchive an experiment; an archived run keeps the time it was
    first archived. False when the row is gone."""
    if archived:
        cursor = db.execute(
            "UPDATE experiments SET archived_at = COALESCE(archived_at, ?) WHERE id = ?",
            (utc_now(), experiment_id),
        )
    else:
        cursor = db.execute(
            "UPDATE experiments SET archived_at = NULL WHERE id = ?", (experiment_id,)
        )
    return cursor.rowcount > 0


def unended_jobs_of(db: Database, experiment_id: int) -> list[int]:
    """Ids of an experiment's managed jobs (exports) whose end is not recorded."""
    rows = db.query(
        "SELECT id FROM jobs WHERE experiment_id = ? AND ended_at IS NULL ORDER BY id",
        (experiment_id,),
    )
    return [int(row[0]) for row in rows]


def recorded_paths(db: Database) -> list[tuple[str, int | None, str]]:
    """Every path a row records: (``run``, id, run folder) for experiments, (``model``,
    id, file) for exported models, (``dataset``, id, folder) and (``job``, id, folder):
    what must survive deleting some other run's folder."""
    found: list[tuple[str, int | None, str]] = [
        ("run", int(row[0]), str(row[1]))
        for row in db.query("SELECT id, run_dir FROM experiments WHERE run_dir IS NOT NULL")
    ]
    found += [
        ("model", int(row[0]), str(row[1])) for row in db.query("SELECT id, path FROM models")
    ]
    found += [
        ("dataset", int(row[0]), str(row[1]))
        for row in db.query("SELECT id, path FROM datasets WHERE path IS NOT NULL")
    ]
    found += [
        ("job", int(row[0]), str(row[1]))
        for row in db.query("SELECT id, run_dir FROM jobs WHERE run_dir IS NOT NULL")
    ]
    return found


def _merge_json_column(
    db: Database, experiment_id: int, column: str, values: Mapping[str, Any]
) -> None:
    # Read-modify-write in Python rather than SQLite's json_patch: metric values may be
    # NaN or inf (a diverging run), which Python's json keeps and SQLite's JSON rejects.
    with db.atomic():
        row = db.query_one(f"SELECT {column} FROM experiments WHERE id = ?", (experiment_id,))
        if row is None:
            return
        current = json.loads(row[0] or "{}")
        current.update(values)
        db.execute(
            f"UPDATE experiments SET {column} = ? WHERE id = ?",
            (json.dumps(current), experiment_id),
        )


def merge_metrics(db: Database, experiment_id: int, latest: Mapping[str, Any]) -> None:
    """Merge latest values into the original API's ``experiments.metrics`` JSON column."""
    if latest:
        _merge_json_column(db, experiment_id, "metrics", latest)


def merge_progress(db: Database, experiment_id: int, progress: ProgressUpdate) -> None:
    """Merge keys into the ``experiments.progress`` JSON column."""
    if progress:
        _merge_json_column(db, experiment_id, "progress", progress)


def insert_points(
    db: Database, experiment_id: int, points: Iterable[tuple[str, int, float, float]]
) -> None:
    """Insert (name, step, value, wall_time) points; a point already stored is kept as is.

    Points are stored in packed blocks (``ravelab.db.point_blocks``); one metric holds at
    most one point per step, so re-reading a source adds nothing twice. NaN values are not
    stored (a run's NaN is its health).
    """
    from ravelab.db import point_blocks

    groups = point_blocks.group_points(points)
    if groups:
        with db.atomic():
            for name, columns in groups.items():
                point_blocks.store_columns(db, experiment_id, name, columns)


def metric_history(
    db: Database,
    experiment_id: int,
    name: str,
    after_step: int | None = None,
    until_step: int | None = None,
) -> list[tuple[int, float]]:
    """The (step, value) points of one metric, ordered by step: only those after
    ``after_step`` when given (a live plot reads what is new), and only those up to
    ``until_step`` when given (a zoomed plot reads the range it shows)."""
    from ravelab.db import point_blocks

    columns = point_blocks.read_columns(db, experiment_id, name, after_step, until_step)
    return list(zip(columns.steps.tolist(), columns.values.tolist(), strict=True))


def metric_columns(
    db: Database,
    experiment_id: int,
    name: str,
    after_step: int | None = None,
    until_step: int | None = None,
) -> point_blocks.Columns:
    """The same points as :func:`metric_history`, with wall times, as NumPy arrays."""
    from ravelab.db import point_blocks

    return point_blocks.read_columns(db, experiment_id, name, after_step, until_step)


def metric_names(db: Database, experiment_id: int) -> list[str]:
    """Names of the metrics that have points, sorted (from the index: no blob is read)."""
    rows = db.query_tuples(
        "SELECT DISTINCT name FROM metric_blocks WHERE experiment_id = ? ORDER BY name",
        (experiment_id,),
    )
    return [str(row[0]) for row in rows]


def count_points(db: Database, experiment_id: int) -> int:
    """How many metric points an experiment has."""
    row = db.query_one(
        "SELECT COALESCE(SUM(count), 0) FROM metric_blocks WHERE experiment_id = ?",
        (experiment_id,),
    )
    return 0 if row is None else int(row[0])


def get_offsets(db: Database, experiment_id: int) -> dict[str, int]:
    """The stored read offset of every source (log file, event file) of an experiment."""
    rows = db.query(
        "SELECT source, offset FROM source_offsets WHERE experiment_id = ?", (experiment_id,)
    )
    return {str(source): int(offset) for source, offset in rows}


def set_offsets(db: Database, experiment_id: int, offsets: Mapping[str, int]) -> None:
    """Store read offsets; an offset never moves backwards (two followers may race)."""
    rows: Sequence[tuple[int, str, int]] = [
        (experiment_id, source, offset) for source, offset in offsets.items()
    ]
    if rows:
        db.executemany(
            "INSERT INTO source_offsets(experiment_id, source, offset) VALUES (?, ?, ?) "
            "ON CONFLICT(experiment_id, source) DO UPDATE SET "
            "offset = max(offset, excluded.offset)",
            rows,
        )


#: What ``change_marks`` reads per area: the columns whose change a list shows (never a
#: run's progress or metrics: a live run changes those several times a second, and its
#: follower tells the app itself).
_MARK_QUERIES = {
    "runs": "SELECT COUNT(*), group_concat(id || '|' || status || '|' || name || '|' || "
    "project_id || '|' || COALESCE(ended_at, '') || '|' || COALESCE(pid, '') || '|' || "
    "COALESCE(job_id, '') || '|' || health || '|' || stop_at_checkpoint || '|' || "
    "COALESCE(archived_at, '') || '|' || tags || '|' || notes, ',') FROM experiments",
    "datasets": "SELECT COUNT(*), group_concat(id || '|' || status || '|' || name || '|' || "
    "COALESCE(n_seconds, ''), ',') FROM datasets",
    "models": "SELECT COUNT(*), group_concat(id || '|' || COALESCE(checked_at, ''), ',') "
    "FROM models",
    "jobs": "SELECT COUNT(*), group_concat(id || '|' || status || '|' || "
    "COALESCE(ended_at, ''), ',') FROM jobs",
}


def change_marks(db: Database) -> dict[str, int]:
    """A fingerprint of each area (``runs``, ``datasets``, ``models``, ``jobs``): equal
    fingerprints, same lists to show."""
    marks: dict[str, int] = {}
    for area, sql in _MARK_QUERIES.items():
        row = db.query_tuples(sql)[0]
        marks[area] = hash((row[0], row[1]))
    return marks
