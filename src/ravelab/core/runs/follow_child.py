"""``python -m ravelab.core.runs.follow_child``: follows one run on behalf of another process.

The app starts one of these per live run (see :mod:`ravelab.core.runs.remote_follower`), so that
reading and parsing a run's output, which can mean 10,000 lines a second, never competes
with the app's GUI thread for the interpreter. The child runs the ordinary
``TrainingProcess`` poll loop (the same parsing, rows, offsets and settling as a follower
thread) and writes what its signals said to stdout as JSON lines, merged, at most every
``FLUSH_INTERVAL_S``: one line is one object whose keys are

* ``lines``: ``[[stream, text, transient], ...]``, only with ``--lines``;
* ``status`` and ``health``: ``[value, detail]``, the latest;
* ``metrics`` and ``progress``: dicts merged since the previous line;
* ``step``: ``[step, max_steps]``, the latest;
* ``finished``: ``{"ok", "message", "status", "reason", "exit_code"}``, once, last.

The child stops when the run has ended and been settled, or when its stdin closes (the
parent halted it or is gone): the run itself is never touched, and a later follower takes
up from the offsets stored in the database. A database error (disk full, a damaged file)
ends it with one line on stderr and exit status 3, nothing of the failed poll stored.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from typing import IO, Any

from ravelab.core.errors import RavelabError
from ravelab.core.runs.training_process import TrainingProcess

logger = logging.getLogger(__name__)

#: Seconds between two messages: at most ten a second, as the GUI shows them.
FLUSH_INTERVAL_S = 0.1
#: How much nicer than its parent the child is (POSIX).
NICENESS = 5
#: The exit status after a database error while following (the message is on stderr).
DATABASE_EXIT_CODE = 3


class Relay:
    """Collects a ``TrainingProcess``'s signals and writes them as merged JSON lines.

    Args:
        process: the followed process (its signals are connected here).
        out: where the JSON lines go.
        lines: relay every output line too (only when the parent has listeners for them).
    """

    def __init__(self, process: TrainingProcess, out: IO[str], lines: bool = False) -> None:
        self.out = out
        self._pending: dict[str, Any] = {}
        self._flushed_at = 0.0
        process.status_update.connect(self._status)
        process.health_update.connect(self._health)
        process.metrics_update.connect(self._metrics)
        process.step_update.connect(self._step)
        process.progress_update.connect(self._progress)
        process.finished.connect(self._finished)
        self._process = process
        if lines:
            process.output_line.connect(self._line)

    def _line(self, stream: str, text: str, transient: bool) -> None:
        self._pending.setdefault("lines", []).append([stream, text, transient])

    def _status(self, status: str, detail: str) -> None:
        self._pending["status"] = [status, detail]

    def _health(self, health: str, detail: str) -> None:
        self._pending["health"] = [health, detail]

    def _metrics(self, metrics: dict[str, Any]) -> None:
        self._pending.setdefault("metrics", {}).update(metrics)

    def _step(self, step: int, max_steps: int) -> None:
        self._pending["step"] = [step, max_steps]

    def _progress(self, progress: dict[str, Any]) -> None:
        self._pending.setdefault("progress", {}).update(progress)

    def _finished(self, ok: bool, message: str) -> None:
        outcome = self._process.outcome
        self._pending["finished"] = {
            "ok": ok,
            "message": message,
            "status": outcome.status if outcome else None,
            "reason": outcome.reason if outcome else None,
            "exit_code": outcome.exit_code if outcome else None,
        }

    def flush_if_due(self) -> None:
        """Write what is pending if the last line is ``FLUSH_INTERVAL_S`` old."""
        if self._pending and time.monotonic() - self._flushed_at >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        """Write what is pending now, as one line."""
        if not self._pending:
            return
        message, self._pending = self._pending, {}
        # NaN and infinities are kept (json writes them as NaN/Infinity, and reads them back).
        self.out.write(json.dumps(message, separators=(",", ":")) + "\n")
        self.out.flush()
        self._flushed_at = time.monotonic()


def _halt_when_stdin_closes(process: TrainingProcess, fd: int) -> None:
    """Halt the follow loop once the parent closes our stdin (or dies).

    Reads the file descriptor itself: a daemon thread blocked inside ``sys.stdin``'s
    buffered reader would hold its lock while the interpreter shuts down, which is fatal.
    """
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass  # no stdin at all: same as closed
    process.halt()


def follow(process: TrainingProcess, relay: Relay) -> None:
    """Poll ``process`` until its run has ended (or it is halted), relaying as it goes."""
    while not process.halted:
        busy = process.poll()
        if process.is_done:
            break
        relay.flush_if_due()
        if not busy:
            process.pause(process.poll_interval)
    relay.flush()


def main(argv: list[str] | None = None) -> int:
    """Entry point: follow ``--experiment`` of ``--db`` until it ends or stdin closes."""
    parser = argparse.ArgumentParser(
        prog="python -m ravelab.core.runs.follow_child", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--db", required=True, help="the ravelab database file")
    parser.add_argument("--experiment", type=int, required=True, help="experiment id")
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--stalled-after", type=float, default=None)
    parser.add_argument("--lines", action="store_true", help="relay every output line")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="ravelab follower: %(message)s")
    if hasattr(os, "nice"):
        # Background work: when the machine is busy, the app that shows the run goes first
        # (a follower that falls behind catches up, a GUI thread that waits stutters).
        os.nice(NICENESS)

    # Imported here: the manager pulls in the executors, which a parent importing this module
    # for FLUSH_INTERVAL_S does not need.
    from ravelab.core.runs.training_manager import TrainingManager
    from ravelab.db import Database, DatabaseError

    if not os.path.isfile(args.db):
        # A follower reads a run that its parent recorded: it never creates a database.
        print(f"ravelab follower: no database at {args.db}", file=sys.stderr)
        return 2
    try:
        db = Database(args.db)
    except DatabaseError as error:
        print(f"ravelab follower: {error}", file=sys.stderr)
        return 2
    try:
        manager = TrainingManager(
            db,
            follow=False,
            reattach=False,
            poll_interval=args.poll_interval,
            stalled_after_s=args.stalled_after,
        )
        process = manager.follower(args.experiment)
    except (RavelabError, DatabaseError) as error:
        db.close()
        print(f"ravelab follower: {error}", file=sys.stderr)
        return 2
    relay = Relay(process, sys.stdout, lines=args.lines)
    watcher = threading.Thread(
        target=_halt_when_stdin_closes,
        args=(process, sys.stdin.fileno()),
        name="stdin-watch",
        daemon=True,
    )
    watcher.start()
    try:
        follow(process, relay)
    except BrokenPipeError:
        return 0  # the parent is gone: what was read is stored, the next follower goes on
    except DatabaseError as error:
        # A poll's rows, offsets and progress go in one transaction, which SQLite rolled
        # back whole: the stored offsets still match the stored points. This process's
        # readers are ahead of them now, so it stops; the parent (or the next follower)
        # reads again from the stored offsets, and no point is lost or stored twice.
        print(f"ravelab follower: run {args.experiment}: {error}", file=sys.stderr)
        return DATABASE_EXIT_CODE
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
