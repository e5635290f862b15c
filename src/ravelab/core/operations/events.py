"""The events ravelab notifies about, and recording one exactly once.

Whoever notices an event first records it under a key that names it for good (for
example ``run:12:attempt:2:completed``): recording the same key again does nothing, so two
processes that notice the same thing (the warden and an app's follower) tell nobody twice.
Each recorded event gets one pending delivery per channel that wants its kind; the warden's
notification duty delivers them.
"""

from __future__ import annotations

from enum import StrEnum

from ravelab.db import Database
from ravelab.db import events as event_rows


class EventKind(StrEnum):
    """What an event is about (stored as its string; a channel lists the kinds it wants)."""

    COMPLETED = "completed"
    FAILED = "failed"
    NONFINITE = "nonfinite"  # a loss became NaN or infinite
    STALLED = "stalled"
    PHASE_2 = "phase2"  # the adversarial phase started
    BEST_VALIDATION = "best_validation"
    QUEUE_STARTED = "queue_started"  # the queue started the next run
    EXPORT_FINISHED = "export_finished"
    DISK_LOW = "disk_low"

    @classmethod
    def parse(cls, value: str) -> EventKind:
        """The kind ``value`` names.

        Raises:
            ValueError: not a kind; the message lists the kinds.
        """
        for member in cls:
            if member == value.strip().lower():
                return member
        known = ", ".join(member.value for member in cls)
        raise ValueError(f"unknown event {value!r}; known events: {known}")


def record_event(
    db: Database,
    kind: EventKind,
    key: str,
    title: str,
    body: str = "",
    *,
    experiment_id: int | None = None,
) -> bool:
    """Record an event under ``key`` unless it was recorded before; whether it is new.

    ``key`` is prefixed with the kind, so two kinds never share one. The title and body
    are cut to sane lengths (they may quote a trainer's output).
    """
    full_key = f"{kind.value}:{key}"
    if event_rows.event_recorded(db, full_key):
        # Read first: detectors ask again on every tick (a run in phase 2 for days), and a
        # read takes no write lock from the followers.
        return False
    event_id = event_rows.insert_event(
        db,
        key=full_key,
        kind=kind.value,
        title=title[:200],
        body=body[:4000],
        experiment_id=experiment_id,
    )
    return event_id is not None
