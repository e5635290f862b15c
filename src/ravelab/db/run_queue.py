"""The queue per device: queued runs, their places, and the claim that starts the next one.

A queued run is an ``experiments`` row (status ``queued``, no run folder, no process)
plus a ``run_queue`` row naming its device (``cuda:N`` or ``cpu``) and its place. The claim
(``claim_head``) is one write transaction: the device is free (no unended local run of
this database on it, counting rows still being launched), the head is taken out of the
queue and the row becomes a run being launched by the claimer. Two claimers at once
cannot both win: ``Database.atomic`` begins with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ravelab.db.database import Database
from ravelab.db.experiments import utc_now
from ravelab.db.records import LaunchOwner
from ravelab.db.vocabulary import RunStatus

#: The device a row's config names, in SQL: ``cpu`` for gpu -1, ``cuda:N`` for gpu N,
#: NULL when the config is damaged or has no gpu (an imported run).
DEVICE_SQL = (
    "(CASE WHEN json_valid(e.config) AND json_type(e.config, '$.gpu') = 'integer' THEN "
    "CASE WHEN json_extract(e.config, '$.gpu') < 0 THEN 'cpu' "
    "ELSE 'cuda:' || json_extract(e.config, '$.gpu') END END)"
)

#: Whether a row runs on this machine (a SLURM run waits in SLURM's own queue).
_LOCAL_SQL = (
    "(e.executor = 'local' AND (NOT json_valid(e.config) "
    "OR COALESCE(json_extract(e.config, '$.executor'), 'local') = 'local'))"
)


#: The config key of a queued run's marker: its device, when it was queued, and its
#: chained export. It stays until the run's process is recorded, so re-attaching knows a
#: claimed run whose claimer died before starting it belongs back in the queue.
QUEUE_KEY = "queue"


_WITHDRAWN = "stopped while queued: it never started"


@dataclass(frozen=True)
class QueuedRow:
    """One queued run as stored: ``position`` orders a device's queue (gaps allowed)."""

    experiment_id: int
    name: str
    device: str
    position: int
    queued_at: str
    then_export: str | None


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def place_text(rank: int, device: str) -> str:
    """A queued run's place in words: ``2nd on cuda:0``."""
    return f"{_ordinal(rank)} on {device}"


def _relabel(db: Database, device: str) -> None:
    """Write each queued run's place on ``device`` as its reason (``2nd on cuda:0``), the
    way a SLURM run shows SLURM's reason while queued: every front end shows it as is.
    Called inside each transaction that changes the queue."""
    rows = db.query(
        "SELECT experiment_id FROM run_queue WHERE device = ? "
        "ORDER BY position, queued_at, experiment_id",
        (device,),
    )
    for rank, (experiment_id,) in enumerate(rows, start=1):
        db.execute(
            "UPDATE experiments SET reason = ? WHERE id = ? AND ended_at IS NULL "
            f"AND status = '{RunStatus.QUEUED}' AND reason IS NOT ?",
            (place_text(rank, device), experiment_id, place_text(rank, device)),
        )


def enqueue(db: Database, experiment_id: int, device: str, then_export: str | None) -> int:
    """Put a row at the end of ``device``'s queue; its stored position."""
    with db.atomic():
        row = db.query_one(
            "SELECT COALESCE(MAX(position), 0) + 1 FROM run_queue WHERE device = ?", (device,)
        )
        position = int(row[0]) if row is not None else 1
        db.execute(
            "INSERT INTO run_queue(experiment_id, device, position, queued_at, then_export) "
            "VALUES (?, ?, ?, ?, ?)",
            (experiment_id, device, position, utc_now(), then_export),
        )
        _not_started(db, experiment_id)
        _relabel(db, device)
    return position


def _not_started(db: Database, experiment_id: int) -> None:
    """A queued run has not started: no start time and no attempt (its duration is
    unknown, not the time it waited); the claim gives it both."""
    db.execute("UPDATE experiments SET started_at = NULL WHERE id = ?", (experiment_id,))
    db.execute(
        "DELETE FROM run_attempts WHERE experiment_id = ? AND ended_at IS NULL", (experiment_id,)
    )


def list_queue(db: Database, device: str | None = None) -> list[QueuedRow]:
    """Queued runs, by device then place."""
    where, params = ("WHERE q.device = ?", (device,)) if device is not None else ("", ())
    rows = db.query(
        "SELECT q.experiment_id, e.name, q.device, q.position, q.queued_at, q.then_export "
        f"FROM run_queue q JOIN experiments e ON e.id = q.experiment_id {where} "
        "ORDER BY q.device, q.position, q.queued_at, q.experiment_id",
        params,
    )
    return [
        QueuedRow(int(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), r[5] and str(r[5]))
        for r in rows
    ]


def queued_ids(db: Database) -> set[int]:
    """Ids of every queued run."""
    return {int(row[0]) for row in db.query("SELECT experiment_id FROM run_queue")}


def devices(db: Database) -> list[str]:
    """Devices that have a queue."""
    return [str(row[0]) for row in db.query("SELECT DISTINCT device FROM run_queue ORDER BY 1")]


def device_holder(db: Database, device: str) -> tuple[int, str] | None:
    """The unended local run holding ``device`` (id, name), if any: one running, being
    launched, or stopping but not yet ended. Queued rows hold nothing."""
    row = db.query_one(
        "SELECT e.id, e.name FROM experiments e WHERE e.ended_at IS NULL "
        "AND e.id NOT IN (SELECT experiment_id FROM run_queue) "
        f"AND {_LOCAL_SQL} AND {DEVICE_SQL} = ? ORDER BY e.id LIMIT 1",
        (device,),
    )
    return None if row is None else (int(row[0]), str(row[1]))


def move(db: Database, experiment_id: int, position: int) -> bool:
    """Move a queued run to 1-based ``position`` in its device's queue (clamped to the
    queue's length), renumbering the queue 1..n; False when it is not queued."""
    with db.atomic():
        row = db.query_one("SELECT device FROM run_queue WHERE experiment_id = ?", (experiment_id,))
        if row is None:
            return False
        device = str(row[0])
        order = [
            int(r[0])
            for r in db.query(
                "SELECT experiment_id FROM run_queue WHERE device = ? "
                "ORDER BY position, queued_at, experiment_id",
                (device,),
            )
            if int(r[0]) != experiment_id
        ]
        index = min(max(position, 1), len(order) + 1) - 1
        order.insert(index, experiment_id)
        for place, queued in enumerate(order, start=1):
            db.execute("UPDATE run_queue SET position = ? WHERE experiment_id = ?", (place, queued))
        _relabel(db, device)
    return True


def remove(db: Database, experiment_id: int) -> bool:
    """Delete a queued run's row (it never started: nothing else to delete); False when
    it is not queued (started meanwhile, or unknown). Its queue row goes with it."""
    with db.atomic():
        row = db.query_one("SELECT device FROM run_queue WHERE experiment_id = ?", (experiment_id,))
        cursor = db.execute(
            "DELETE FROM experiments WHERE id = ? AND pid IS NULL AND job_id IS NULL "
            "AND ended_at IS NULL AND id IN (SELECT experiment_id FROM run_queue)",
            (experiment_id,),
        )
        if cursor.rowcount == 0 or row is None:
            return False
        _relabel(db, str(row[0]))
    return True


def withdraw(db: Database, experiment_id: int) -> bool:
    """Stop a queued run before it started: out of the queue, its row ended ``stopped``
    (kept, unlike ``remove``); False when it is not queued."""
    now = utc_now()
    with db.atomic():
        row = db.query_one("SELECT device FROM run_queue WHERE experiment_id = ?", (experiment_id,))
        if row is None:
            return False
        db.execute("DELETE FROM run_queue WHERE experiment_id = ?", (experiment_id,))
        db.execute(
            f"UPDATE experiments SET status = '{RunStatus.STOPPED}', reason = ?, "
            "stop_requested_at = ?, ended_at = ?, completed_at = ? "
            "WHERE id = ? AND ended_at IS NULL",
            (_WITHDRAWN, now, now, now, experiment_id),
        )
        _relabel(db, str(row[0]))
    return True


def settle_withdrawn(db: Database, device: str) -> list[int]:
    """Take out of ``device``'s queue the runs that ended or were asked to stop while
    queued (they never start); stopped ones are settled ``stopped``. Their ids."""
    gone: list[int] = []
    withdrawn = (
        "SELECT e.id, e.ended_at IS NOT NULL FROM run_queue q "
        "JOIN experiments e ON e.id = q.experiment_id WHERE q.device = ? AND "
        f"(e.ended_at IS NOT NULL OR e.stop_requested_at IS NOT NULL "
        f"OR e.status != '{RunStatus.QUEUED}')"
    )
    if not db.query(withdrawn, (device,)):
        return gone  # read first: the warden asks every second, mostly for nothing
    with db.atomic():
        rows = db.query(withdrawn, (device,))
        now = utc_now()
        for experiment_id, ended in rows:
            if not ended:
                db.execute(
                    f"UPDATE experiments SET status = '{RunStatus.STOPPED}', "
                    "reason = ?, ended_at = ?, completed_at = ? "
                    "WHERE id = ? AND ended_at IS NULL",
                    (_WITHDRAWN, now, now, experiment_id),
                )
            db.execute("DELETE FROM run_queue WHERE experiment_id = ?", (experiment_id,))
            gone.append(int(experiment_id))
        if gone:
            _relabel(db, device)
    return gone


def claim_head(db: Database, device: str, owner: LaunchOwner) -> int | None:
    """If ``device`` is free, take the head of its queue and make it a run being launched
    by ``owner``; its id, or None (device busy or queue empty). One transaction."""
    if device_holder(db, device) is not None:
        return None  # read first (no write lock): decided again inside the transaction
    with db.atomic():
        if device_holder(db, device) is not None:
            return None
        row = db.query_one(
            "SELECT experiment_id FROM run_queue WHERE device = ? "
            "ORDER BY position, queued_at, experiment_id LIMIT 1",
            (device,),
        )
        if row is None:
            return None
        experiment_id = int(row[0])
        db.execute("DELETE FROM run_queue WHERE experiment_id = ?", (experiment_id,))
        now = utc_now()
        claimed = db.execute(
            f"UPDATE experiments SET status = '{RunStatus.RUNNING}', reason = NULL, "
            "started_at = ?, launcher_pid = ?, launcher_start_time = ?, launcher_host = ?, "
            f"launch_lease_until = ? WHERE id = ? AND ended_at IS NULL "
            f"AND status = '{RunStatus.QUEUED}'",
            (now, owner.pid, owner.start_time, owner.host, owner.lease_until, experiment_id),
        )
        if claimed.rowcount != 1:
            # It ended meanwhile (stopped while queued): out of the queue, not started.
            _relabel(db, device)
            return None
        # Its first attempt begins now (a queued run has none).
        db.execute(
            "INSERT INTO run_attempts(experiment_id, attempt, started_at) "
            "SELECT ?, COALESCE(MAX(attempt), 0) + 1, ? FROM run_attempts WHERE experiment_id = ?",
            (experiment_id, now, experiment_id),
        )
        _relabel(db, device)
    return experiment_id


def requeue(
    db: Database, experiment_id: int, owner: LaunchOwner | None, queue: dict[str, Any]
) -> bool:
    """Put a claimed run whose claimer died before starting anything back at the head of
    its device's queue (only while it has no process, no end and the same claimer);
    whether it was put back. ``queue`` is the row's queue marker (device, queued_at,
    then_export)."""
    device = str(queue.get("device"))
    with db.atomic():
        cursor = db.execute(
            f"UPDATE experiments SET status = '{RunStatus.QUEUED}', run_dir = NULL, "
            "argv = NULL, run_dir_created = 0, reason = NULL, launcher_pid = NULL, "
            "launcher_start_time = NULL, launcher_host = NULL, launch_lease_until = NULL "
            "WHERE id = ? AND pid IS NULL AND job_id IS NULL AND ended_at IS NULL "
            "AND stop_requested_at IS NULL AND launcher_pid IS ? AND launcher_start_time IS ? "
            "AND id NOT IN (SELECT experiment_id FROM run_queue)",
            (
                experiment_id,
                owner.pid if owner else None,
                owner.start_time if owner else None,
            ),
        )
        if cursor.rowcount == 0:
            return False
        db.execute(
            "INSERT INTO run_queue(experiment_id, device, position, queued_at, then_export) "
            "VALUES (?, ?, (SELECT COALESCE(MIN(position), 1) - 1 FROM run_queue "
            "WHERE device = ?), ?, ?)",
            (
                experiment_id,
                device,
                device,
                str(queue.get("queued_at") or utc_now()),
                queue.get("then_export"),
            ),
        )
        _not_started(db, experiment_id)
        _relabel(db, device)
    return True


def clear_marker(db: Database, experiment_id: int) -> None:
    """Drop a started run's queue marker (``config.queue``): it no longer waits."""
    db.execute(
        f"UPDATE experiments SET config = json_remove(config, '$.{QUEUE_KEY}') "
        "WHERE id = ? AND json_valid(config)",
        (experiment_id,),
    )


def claim_then_export(db: Database, experiment_id: int) -> str | None:
    """Mark a completed run's chained export as taken (inside the caller's transaction);
    the checkpoint it asks for (``best``/``latest``), or None when there is none to take
    or another process took it."""
    row = db.query_one(
        "SELECT json_extract(config, '$.then_export') FROM experiments WHERE id = ? "
        f"AND status = '{RunStatus.COMPLETED}' AND ended_at IS NOT NULL AND json_valid(config) "
        "AND json_type(config, '$.then_export') = 'text' "
        "AND json_type(config, '$.then_export_job') IS NULL",
        (experiment_id,),
    )
    if row is None:
        return None
    db.execute(
        "UPDATE experiments SET config = json_set(config, '$.then_export_job', 0) WHERE id = ?",
        (experiment_id,),
    )
    return str(row[0])


def record_then_export(db: Database, experiment_id: int, job_id: int, error: str | None) -> None:
    """Record the chained export's job (or, when none could start, why)."""
    patch: dict[str, Any] = {"then_export_job": job_id}
    if error is not None:
        patch["then_export_error"] = error[:500]
    db.execute(
        "UPDATE experiments SET config = json_patch(config, ?) WHERE id = ?",
        (json.dumps(patch), experiment_id),
    )


def pending_then_exports(db: Database) -> list[int]:
    """Completed runs whose chained export has not been taken yet."""
    rows = db.query(
        "SELECT id FROM experiments WHERE ended_at IS NOT NULL "
        f"AND status = '{RunStatus.COMPLETED}' AND json_valid(config) "
        "AND json_type(config, '$.then_export') = 'text' "
        "AND json_type(config, '$.then_export_job') IS NULL ORDER BY id"
    )
    return [int(row[0]) for row in rows]


def chained_export_running(db: Database) -> bool:
    """Whether a chained export job has not ended yet (the warden stays to follow it,
    so its model is recorded with no app open)."""
    row = db.query_one(
        "SELECT EXISTS (SELECT 1 FROM jobs j JOIN experiments e ON e.id = j.experiment_id "
        "WHERE j.ended_at IS NULL AND j.kind = 'export' AND json_valid(e.config) "
        "AND json_extract(e.config, '$.then_export_job') = j.id)"
    )
    return bool(row is not None and row[0])
