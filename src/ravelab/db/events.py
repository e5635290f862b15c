"""Events worth telling someone about, and their delivery to each notification channel."""

from __future__ import annotations

import json

from ravelab.db.database import Database
from ravelab.db.experiments import utc_now


def insert_event(
    db: Database,
    *,
    key: str,
    kind: str,
    title: str,
    body: str = "",
    experiment_id: int | None = None,
) -> int | None:
    """Record an event once: the new event's id, or None when ``key`` was recorded before.

    In the same transaction, one pending delivery is queued for each channel that wants
    this kind of event (a channel with no list of kinds wants them all).
    """
    with db.atomic():
        cursor = db.execute(
            "INSERT OR IGNORE INTO events(key, kind, experiment_id, title, body, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, kind, experiment_id, title, body, utc_now()),
        )
        if cursor.rowcount != 1 or cursor.lastrowid is None:
            return None
        event_id = cursor.lastrowid
        for channel_id, kinds in db.query_tuples("SELECT id, events FROM notification_channels"):
            if _wants(kinds, kind):
                db.execute(
                    "INSERT OR IGNORE INTO deliveries(event_id, channel_id) VALUES (?, ?)",
                    (event_id, channel_id),
                )
    return event_id


def _wants(kinds: object, kind: str) -> bool:
    """Whether a channel's stored list of kinds includes ``kind`` (empty: every kind). A
    damaged list wants every kind: a notification too many beats one lost."""
    try:
        wanted = json.loads(str(kinds))
    except (json.JSONDecodeError, TypeError):
        return True
    if not isinstance(wanted, list) or not wanted:
        return True
    return kind in wanted


def event_recorded(db: Database, key: str) -> bool:
    """Whether an event with this key was recorded."""
    return db.query_one("SELECT 1 FROM events WHERE key = ?", (key,)) is not None


def warden_has_work(db: Database) -> bool:
    """Whether anything needs a warden: an unended run with a process (or a scheduler's
    job), a queued run, or a delivery not yet done."""
    row = db.query_one(
        "SELECT EXISTS (SELECT 1 FROM experiments WHERE ended_at IS NULL "
        "  AND (pid IS NOT NULL OR job_id IS NOT NULL)) "
        "OR EXISTS (SELECT 1 FROM run_queue)"
    )
    return bool(row is not None and row[0]) or deliveries_pending(db)


def deliveries_pending(db: Database) -> bool:
    """Whether some notification is still to be sent (pending, or being sent)."""
    row = db.query_one(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE state IN ('pending', 'sending'))"
    )
    return bool(row is not None and row[0])
