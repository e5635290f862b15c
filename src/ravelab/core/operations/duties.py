"""What the warden does on each tick: a duty is an object with an interval and a ``tick``.

A duty is called at most once per ``interval_s`` with the warden's context. It must not
block for long (a slow channel or a hung driver is given a timeout of its own) and may
raise: the warden logs the error and calls the duty again at its next interval, so one
failing duty never stops the others. ``busy`` tells the warden whether the duty still has
work that needs it alive (a queued run, a delivery to retry); the warden exits once no
duty is busy and no run is live. A duty may also have ``finish(context)``, called once
before the warden leaves (after a stop too), to wrap up what it has in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ravelab.core.runs.training_manager import TrainingManager
    from ravelab.db import Database


@dataclass
class WardenContext:
    """What a duty works with.

    Attributes:
        db: the warden's own connection to the database.
        manager: a ``TrainingManager`` that follows every live run of this database (it
            settles runs that end, so a duty sees their outcome in the database).
        now: ``time.time()`` at the start of this tick.
    """

    db: Database
    manager: TrainingManager
    now: float


class Duty(Protocol):
    """One kind of work the warden does."""

    #: A short name, for the warden's log.
    name: str
    #: Seconds between two ticks.
    interval_s: float

    def tick(self, context: WardenContext) -> None:
        """Do what is due now."""

    def busy(self, context: WardenContext) -> bool:
        """Whether this duty has work left that needs the warden alive."""
