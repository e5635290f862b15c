"""What the run-events detector reads: runs that ended, live runs' health and progress,
finished exports, and the events already recorded for them.

Only rows that changed after ``since`` (the ``events_since`` setting, an ISO 8601 UTC
string, compared as text as every time column here is written) are news; older ones are
history. Ended runs and finished exports whose event is already recorded are left out in
SQL, so a detector that ticks every two seconds reads only what is new.
"""

from __future__ import annotations

from dataclasses import dataclass

from ravelab.db.database import Database


@dataclass(frozen=True)
class EndedRun:
    """A run's last attempt that ended ``completed`` or ``failed``."""

    id: int
    name: str
    status: str
    reason: str | None
    attempt: int
    ended_at: str


@dataclass(frozen=True)
class LiveRun:
    """A run whose end is not recorded (or that ended after ``recent``), as its follower
    last wrote it."""

    id: int
    name: str
    health: str
    health_detail: str | None
    progress: str  # the JSON column, read with RunProgress.from_json
    attempt: int
    ended: bool


@dataclass(frozen=True)
class FinishedExport:
    """An export job that completed, with the model it wrote (when recorded)."""

    id: int
    experiment_id: int | None
    run_name: str | None
    model_path: str | None
    ended_at: str


_ATTEMPT = "COALESCE((SELECT MAX(a.attempt) FROM run_attempts a WHERE a.experiment_id = e.id), 1)"


def ended_runs(db: Database, since: str) -> list[EndedRun]:
    """Runs that ended completed or failed at or after ``since`` and whose event for their
    last attempt is not recorded yet."""
    rows = db.query_tuples(
        f"SELECT e.id, e.name, e.status, e.reason, {_ATTEMPT} AS attempt, e.ended_at "
        "FROM experiments e "
        "WHERE e.ended_at IS NOT NULL AND e.ended_at >= ? "
        "  AND e.status IN ('completed', 'failed') "
        "  AND NOT EXISTS (SELECT 1 FROM events v WHERE v.key = "
        f"      e.status || ':run:' || e.id || ':attempt:' || {_ATTEMPT}) "
        "ORDER BY e.ended_at, e.id",
        (since,),
    )
    return [EndedRun(int(r[0]), str(r[1]), str(r[2]), r[3], int(r[4]), str(r[5])) for r in rows]


def live_runs(db: Database, recent: str) -> list[LiveRun]:
    """Runs with a process and no recorded end, and runs that ended at or after
    ``recent`` (their last points may have been read as they were settled)."""
    rows = db.query_tuples(
        f"SELECT e.id, e.name, e.health, e.health_detail, e.progress, {_ATTEMPT}, "
        "  e.ended_at IS NOT NULL "
        "FROM experiments e "
        "WHERE (e.ended_at IS NULL AND (e.pid IS NOT NULL OR e.job_id IS NOT NULL)) "
        "   OR e.ended_at >= ? "
        "ORDER BY e.id",
        (recent,),
    )
    return [
        LiveRun(int(r[0]), str(r[1]), str(r[2]), r[3], str(r[4]), int(r[5]), bool(r[6]))
        for r in rows
    ]


def finished_exports(db: Database, since: str) -> list[FinishedExport]:
    """Export jobs that completed at or after ``since`` with no event recorded yet."""
    rows = db.query_tuples(
        "SELECT j.id, j.experiment_id, e.name, "
        "  (SELECT m.path FROM models m WHERE m.job_id = j.id ORDER BY m.id DESC LIMIT 1), "
        "  j.ended_at "
        "FROM jobs j LEFT JOIN experiments e ON e.id = j.experiment_id "
        "WHERE j.kind = 'export' AND j.status = 'completed' "
        "  AND j.ended_at IS NOT NULL AND j.ended_at >= ? "
        "  AND NOT EXISTS (SELECT 1 FROM events v WHERE v.key = 'export_finished:job:' || j.id) "
        "ORDER BY j.id",
        (since,),
    )
    return [FinishedExport(int(r[0]), r[1], r[2], r[3], str(r[4])) for r in rows]


def last_event_time(db: Database, kind: str, experiment_id: int) -> str | None:
    """When the newest event of ``kind`` about a run was recorded (ISO 8601), or None."""
    row = db.query_one(
        "SELECT MAX(created_at) FROM events WHERE kind = ? AND experiment_id = ?",
        (kind, experiment_id),
    )
    return None if row is None or row[0] is None else str(row[0])
