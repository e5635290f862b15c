"""Notification channels and the delivery of events to them (the SQL of both).

A channel's URL holds secrets (tokens, passwords): it is stored as given, in the user's
own database file, and only ever shown masked by the layers above. A delivery is one event
for one channel; the delivery duty claims due rows (``pending`` and due, or ``sending``
whose claim is older than a lease: the process that claimed it died mid-send), sends them
and writes back the outcome only while its claim still holds (same ``claimed_at``), so a
late answer never overwrites a newer claim.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from ravelab.db.database import Database
from ravelab.db.experiments import utc_now


@dataclass(frozen=True)
class ChannelRow:
    """A stored channel (its URL unmasked: never log it) with its delivery counts."""

    id: int
    url: str
    events: tuple[str, ...]  # empty: every kind
    created_at: str
    sent: int = 0
    pending: int = 0  # pending or being sent
    failed: int = 0  # given up after the last try
    last_error: str | None = None
    last_error_at: float | None = None  # Unix time of the try that failed
    last_sent_at: str | None = None


@dataclass(frozen=True)
class DueDelivery:
    """A delivery claimed for sending, with what to send and where."""

    event_id: int
    channel_id: int
    attempts: int  # tries before this one
    claimed_at: float
    url: str
    kind: str
    title: str
    body: str


@dataclass(frozen=True)
class EventRow:
    """A recorded event."""

    id: int
    kind: str
    experiment_id: int | None
    title: str
    body: str
    created_at: str


def _events_list(stored: object) -> tuple[str, ...]:
    """A channel's stored kinds; a damaged value reads as every kind (see ``events``)."""
    try:
        value = json.loads(str(stored))
    except (json.JSONDecodeError, TypeError):
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(str(item) for item in value if isinstance(item, str))


def insert_channel(db: Database, url: str, events: Sequence[str]) -> int:
    """Store a channel; its id."""
    cursor = db.execute(
        "INSERT INTO notification_channels(url, events, created_at) VALUES (?, ?, ?)",
        (url, json.dumps(list(events)), utc_now()),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


def delete_channel(db: Database, channel_id: int) -> bool:
    """Remove a channel (its deliveries go with it); whether it existed."""
    cursor = db.execute("DELETE FROM notification_channels WHERE id = ?", (channel_id,))
    return cursor.rowcount == 1


def get_channel(db: Database, channel_id: int) -> ChannelRow | None:
    """One channel, with its counts."""
    return next((row for row in list_channels(db) if row.id == channel_id), None)


def list_channels(db: Database) -> list[ChannelRow]:
    """Every channel, oldest first, with its deliveries counted and its last error."""
    rows = db.query_tuples(
        "SELECT c.id, c.url, c.events, c.created_at, "
        "  (SELECT COUNT(*) FROM deliveries d WHERE d.channel_id = c.id AND d.state = 'sent'), "
        "  (SELECT COUNT(*) FROM deliveries d WHERE d.channel_id = c.id "
        "     AND d.state IN ('pending', 'sending')), "
        "  (SELECT COUNT(*) FROM deliveries d WHERE d.channel_id = c.id AND d.state = 'failed'), "
        "  (SELECT d.last_error FROM deliveries d WHERE d.channel_id = c.id "
        "     AND d.last_error IS NOT NULL ORDER BY d.claimed_at DESC LIMIT 1), "
        "  (SELECT MAX(d.claimed_at) FROM deliveries d WHERE d.channel_id = c.id "
        "     AND d.last_error IS NOT NULL), "
        "  (SELECT MAX(d.sent_at) FROM deliveries d WHERE d.channel_id = c.id) "
        "FROM notification_channels c ORDER BY c.id"
    )
    return [
        ChannelRow(
            id=int(row[0]),
            url=str(row[1]),
            events=_events_list(row[2]),
            created_at=str(row[3]),
            sent=int(row[4]),
            pending=int(row[5]),
            failed=int(row[6]),
            last_error=None if row[7] is None else str(row[7]),
            last_error_at=None if row[8] is None else float(row[8]),
            last_sent_at=None if row[9] is None else str(row[9]),
        )
        for row in rows
    ]


def claim_due(
    db: Database,
    now: float,
    lease_s: float,
    *,
    limit: int,
    busy_channels: frozenset[int] = frozenset(),
) -> list[DueDelivery]:
    """Claim up to ``limit`` due deliveries, at most one per channel and none of a busy
    channel (one still sending): state ``sending``, ``claimed_at = now``, in one
    transaction, so two claimers never take the same row."""
    if limit <= 0:
        return []
    claimed: list[DueDelivery] = []
    with db.atomic():
        # The oldest due delivery of each channel that is not busy, chosen in SQL: a
        # backlog on one channel never hides another channel's delivery.
        busy = sorted(int(channel) for channel in busy_channels)
        skip = f"AND d.channel_id NOT IN ({', '.join('?' * len(busy))}) " if busy else ""
        rows = db.query_tuples(
            "SELECT event_id, channel_id, attempts, url, kind, title, body FROM ("
            "  SELECT d.event_id, d.channel_id, d.attempts, c.url, e.kind, e.title, e.body,"
            "    d.next_try_at AS due, ROW_NUMBER() OVER ("
            "      PARTITION BY d.channel_id ORDER BY d.next_try_at, d.event_id) AS place "
            "  FROM deliveries d "
            "  JOIN notification_channels c ON c.id = d.channel_id "
            "  JOIN events e ON e.id = d.event_id "
            "  WHERE ((d.state = 'pending' AND d.next_try_at <= ?) "
            "     OR (d.state = 'sending' AND (d.claimed_at IS NULL OR d.claimed_at < ?))) "
            f"  {skip}"
            ") WHERE place = 1 ORDER BY due, event_id LIMIT ?",
            (now, now - lease_s, *busy, limit),
        )
        taken: set[int] = set(busy_channels)
        for event_id, channel_id, attempts, url, kind, title, body in rows:
            if channel_id in taken:
                continue
            taken.add(channel_id)
            db.execute(
                "UPDATE deliveries SET state = 'sending', claimed_at = ? "
                "WHERE event_id = ? AND channel_id = ?",
                (now, event_id, channel_id),
            )
            claimed.append(
                DueDelivery(
                    int(event_id),
                    int(channel_id),
                    int(attempts),
                    now,
                    str(url),
                    str(kind),
                    str(title),
                    str(body),
                )
            )
            if len(claimed) >= limit:
                break
    return claimed


def mark_sent(db: Database, delivery: DueDelivery) -> bool:
    """Record a delivery as sent, if its claim still holds; whether it did."""
    cursor = db.execute(
        "UPDATE deliveries SET state = 'sent', attempts = attempts + 1, sent_at = ?, "
        "last_error = NULL WHERE event_id = ? AND channel_id = ? AND state = 'sending' "
        "AND claimed_at = ?",
        (utc_now(), delivery.event_id, delivery.channel_id, delivery.claimed_at),
    )
    return cursor.rowcount == 1


def mark_failed_try(
    db: Database, delivery: DueDelivery, error: str, next_try_at: float | None
) -> bool:
    """Record a failed try, if the claim still holds: pending again from ``next_try_at``,
    or ``failed`` for good when it is None. The error is kept either way."""
    state = "failed" if next_try_at is None else "pending"
    cursor = db.execute(
        "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_try_at = ?, "
        "last_error = ? WHERE event_id = ? AND channel_id = ? AND state = 'sending' "
        "AND claimed_at = ?",
        (
            state,
            0.0 if next_try_at is None else next_try_at,
            error[:1000],
            delivery.event_id,
            delivery.channel_id,
            delivery.claimed_at,
        ),
    )
    return cursor.rowcount == 1


def undone_count(db: Database) -> int:
    """Deliveries pending or being sent."""
    row = db.query_one("SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'sending')")
    return 0 if row is None else int(row[0])


def delivery_states(db: Database, event_id: int) -> dict[int, tuple[str, int, str | None]]:
    """One event's deliveries: channel id -> (state, attempts, last error)."""
    return {
        int(channel): (str(state), int(attempts), error)
        for channel, state, attempts, error in db.query_tuples(
            "SELECT channel_id, state, attempts, last_error FROM deliveries WHERE event_id = ?",
            (event_id,),
        )
    }


def events_after(db: Database, after_id: int, limit: int = 100) -> list[EventRow]:
    """Events recorded after the one with id ``after_id``, oldest first."""
    return [
        EventRow(int(r[0]), str(r[1]), r[2], str(r[3]), str(r[4]), str(r[5]))
        for r in db.query_tuples(
            "SELECT id, kind, experiment_id, title, body, created_at FROM events "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
    ]


def last_event_id(db: Database) -> int:
    """The newest event's id (0 when none)."""
    row = db.query_one("SELECT COALESCE(MAX(id), 0) FROM events")
    return 0 if row is None else int(row[0])
