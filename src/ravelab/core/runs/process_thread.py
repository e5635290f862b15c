"""``ProcessThread``: the original API's base for threads that watch a process."""

from __future__ import annotations

import logging
import threading

from ravelab.db.errors import DatabaseError

logger = logging.getLogger(__name__)

#: The longest pause between tries while the database fails (a full disk, say).
MAX_DATABASE_RETRY_S = 60.0


class ProcessThread(threading.Thread):
    """A daemon thread that polls a watched process until it has ended.

    Daemon, because following a run must never keep the app or the CLI from exiting:
    the run itself lives in its own detached process, and a later follower resumes
    from the offsets stored in the database. Subclasses implement ``poll`` and set
    ``_done`` once the process has ended and been recorded.
    """

    def __init__(self, name: str, poll_interval: float = 0.25) -> None:
        super().__init__(name=name, daemon=True)
        self.poll_interval = poll_interval
        self._halt_event = threading.Event()
        self._done = threading.Event()
        #: What this object holds in memory may be ahead of the database (a poll's
        #: transaction was rolled back): ``recover`` before the next poll.
        self.recover_needed = False

    @property
    def is_done(self) -> bool:
        """True once the watched process has ended and its end is recorded."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the watched process has ended and been recorded; False on timeout."""
        return self._done.wait(timeout)

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
        """Poll until done or halted, at once again while there is more to read.

        A database error (a full disk, a busy or damaged file) does not end the thread: the
        poll's transaction was rolled back whole, so the follower takes up again from what
        the database holds (``recover``) after a pause that doubles up to
        ``MAX_DATABASE_RETRY_S``; the run goes on meanwhile, and nothing it wrote is lost.
        """
        failures = 0
        while not self.halted:
            try:
                if self.recover_needed:
                    self.recover()
                    self.recover_needed = False
                busy = self.poll()
            except DatabaseError as error:
                self.recover_needed = True
                failures += 1
                if failures == 1:
                    logger.error("%s: %s (retrying)", self.name, error)
                delay = min(self.poll_interval * 2.0 ** min(failures, 16), MAX_DATABASE_RETRY_S)
                self.pause(delay)
                continue
            if failures:
                logger.warning("%s: the database answers again", self.name)
                failures = 0
            if self._done.is_set():
                return
            if not busy:
                self.pause(self.poll_interval)

    def recover(self) -> None:
        """Take up again from what the database holds after a failed poll (subclasses
        that keep read positions in memory reload them here)."""

    def poll(self) -> bool:
        """Read what is new; True when something was read. Subclasses implement it."""
        raise NotImplementedError
