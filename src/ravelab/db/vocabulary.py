"""The words ravelab stores: a run's and a job's status, a run's health, a dataset's status.

They are string enums, so a member *is* its stored string: the database columns, JSON
output and the original dict API keep their plain strings (``RunStatus.RUNNING ==
"running"``), while code names them instead of spelling them. They live in the data
layer because the repositories need them and the data layer imports nothing above it;
``ravelab`` re-exports them.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """A run's (or a job's) ``status`` column; jobs are never ``queued``."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"

    @classmethod
    def parse(cls, value: object) -> RunStatus | None:
        """The status a value names (a signal's or another process's word), or None."""
        return next((member for member in cls if member == value), None)

    @property
    def is_final(self) -> bool:
        """Whether the run has an outcome (``stopped`` is set when the stop is asked: a
        run may still be shutting down until ``ended_at`` is recorded)."""
        return self in FINAL

    @property
    def is_live(self) -> bool:
        """Whether the run is waiting for or holding its resources."""
        return self in LIVE


#: Statuses a run is given once it has an outcome.
FINAL: frozenset[RunStatus] = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.STOPPED})
#: Statuses of a run that has not ended: queued by a scheduler, or running.
LIVE: frozenset[RunStatus] = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
#: LIVE as an SQL list, for ``status IN {LIVE_SQL}``.
LIVE_SQL = "(" + ", ".join(f"'{status}'" for status in sorted(LIVE)) + ")"


class Health(StrEnum):
    """A live run's ``health`` column: what its follower saw besides its status."""

    OK = "ok"
    BROKEN = "broken"  # a loss went NaN or infinite
    STALLED = "stalled"  # no step for ``stalled_after_s`` while the process lives
    UNREADABLE = "unreadable"  # a log or event file could not be read

    @classmethod
    def parse(cls, value: object) -> Health:
        """The health a stored value names; anything else (an older or foreign file)
        reads as ``ok``, as a missing column did."""
        return next((member for member in cls if member == value), cls.OK)


class DatasetStatus(StrEnum):
    """A dataset's ``status`` column."""

    READY = "ready"
    PREPROCESSING = "preprocessing"
    FAILED = "failed"


__all__ = ["FINAL", "LIVE", "LIVE_SQL", "DatasetStatus", "Health", "RunStatus"]
