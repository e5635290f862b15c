"""``ProcessThread``: the seed's base for threads that watch a process."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)


class ProcessThread(threading.Thread):
    """A daemon thread with a cooperative halt.

    Daemon, because following a run must never keep the app or the CLI from exiting:
    the run itself lives in its own detached process, and a later follower resumes
    from the offsets stored in the database.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._halt_event = threading.Event()

    def halt(self) -> None:
        """Ask the thread to stop following (the watched process is not touched)."""
        self._halt_event.set()

    @property
    def halted(self) -> bool:
        """True once ``halt`` was called."""
        return self._halt_event.is_set()

    def pause(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True when woken by ``halt``."""
        return self._halt_event.wait(seconds)

    def run(self) -> None:
        try:
            self.follow()
        except Exception:  # a follower must never die silently
            logger.exception("%s crashed", self.name)

    def follow(self) -> None:
        """The thread's work; subclasses implement it."""
        raise NotImplementedError
