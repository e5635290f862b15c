"""The stages of a stop: what has been sent to a run's processes so far.

A stop escalates SIGINT (the trainer exits cleanly) -> SIGTERM after the SIGINT grace
time -> SIGKILL after the SIGTERM grace time. The supervisor and the detached stopper
walk the same stages; only the standard library is imported, so both start fast.
"""

from __future__ import annotations

import signal
from enum import IntEnum


class StopStage(IntEnum):
    """How far a stop has gone (ordered: a later stage is a harder stop)."""

    NOT_STOPPING = 0  # nothing sent yet
    INTERRUPTED = 1  # SIGINT sent
    TERMINATED = 2  # SIGTERM sent
    KILLED = 3  # SIGKILL sent: nothing harder is left

    @property
    def signal(self) -> signal.Signals:
        """The signal whose sending enters this stage."""
        return _SIGNALS[self]

    @property
    def is_grace(self) -> bool:
        """Whether a grace time runs in this stage (a signal was sent, a harder one may follow)."""
        return self in (StopStage.INTERRUPTED, StopStage.TERMINATED)


_SIGNALS = {
    StopStage.INTERRUPTED: signal.SIGINT,
    StopStage.TERMINATED: signal.SIGTERM,
    StopStage.KILLED: signal.SIGKILL,
}

__all__ = ["StopStage"]
