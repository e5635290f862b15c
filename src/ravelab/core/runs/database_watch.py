"""``DatabaseWatch``: what other processes changed in the database since the last look.

The app lists runs, datasets, models and jobs that a CLI in another terminal, another
app window or a detached follower may change at any time. SQLite's ``PRAGMA
data_version`` changes when another connection commits and costs nothing to read, so a
poll first asks it; only when it moved are the areas' fingerprints read (the columns a
list shows, never a live run's progress, which its follower reports itself) and the
areas whose fingerprint changed are returned. The watch's own connection's commits are
not seen (the app announces those itself).
"""

from __future__ import annotations

from ravelab.db import Database
from ravelab.db import experiments as rows

__all__ = ["AREAS", "DatabaseWatch"]

#: The areas a poll may report.
AREAS = ("runs", "datasets", "models", "jobs")


class DatabaseWatch:
    """Polls one database connection for other connections' changes.

    Args:
        db: the database the app reads with (``data_version`` is per connection).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._version = db.data_version()
        self._marks = rows.change_marks(db)

    def poll(self) -> set[str]:
        """The areas (of :data:`AREAS`) that changed since the last poll; empty when no
        other connection committed or what changed is none of the lists' business."""
        version = self.db.data_version()
        if version == self._version:
            return set()
        self._version = version
        marks = rows.change_marks(self.db)
        changed = {area for area, mark in marks.items() if self._marks.get(area) != mark}
        self._marks = marks
        return changed
