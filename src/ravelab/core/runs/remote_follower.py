"""Following a run in a child process, for a process that must stay responsive (the app).

A ``TrainingProcess`` thread reads and parses its run's output itself: at 10,000 lines a
second that keeps a core busy and, in the app, makes the GUI thread wait for the
interpreter lock on every call from Qt into Python. With ``out_of_process`` set, the
thread instead starts ``python -m ravelab.core.runs.follow_child`` for the run, which does that
work (and the database writes) in its own interpreter, and relays the child's merged
messages, ten a second at most, as the same signals. Reading a pipe waits without the
lock, so the app's side of a run costs next to nothing.

If the child cannot start or dies before the run has ended, the thread takes the run up
itself from the offsets stored in the database: nothing is lost or read twice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import ravelab

logger = logging.getLogger(__name__)

#: Seconds a halted child gets to finish its poll and exit before it is terminated.
STOP_TIMEOUT_S = 5.0


def child_argv(
    db_path: str,
    experiment_id: int,
    poll_interval: float,
    stalled_after_s: float,
    lines: bool,
) -> list[str]:
    """The command line of a follower child."""
    argv = [
        sys.executable,
        "-m",
        "ravelab.core.runs.follow_child",
        "--db",
        db_path,
        "--experiment",
        str(experiment_id),
        "--poll-interval",
        repr(poll_interval),
        "--stalled-after",
        repr(stalled_after_s),
    ]
    if lines:
        argv.append("--lines")
    return argv


def _child_env() -> dict[str, str]:
    """This environment, with ravelab's own folder first on the child's import path (so the
    child runs this very ravelab, installed or not)."""
    env = dict(os.environ)
    root = str(Path(ravelab.__file__).resolve().parent.parent)
    current = env.get("PYTHONPATH")
    env["PYTHONPATH"] = root if not current else os.pathsep.join([root, current])
    return env


class RemoteFollower:
    """Runs one follower child and hands its messages to ``apply``.

    Args:
        argv: the child's command line (see :func:`child_argv`).
        apply: called with each message (a dict), in the calling thread.
        name: the run, for log messages.
    """

    def __init__(self, argv: list[str], apply: Callable[[dict[str, Any]], None], name: str):
        self.argv = argv
        self.apply = apply
        self.name = name
        self._child: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self.finished = False

    def run(self) -> bool:
        """Start the child and relay its messages until it exits.

        Returns:
            True when the child relayed the run's end or was stopped; False when it could
            not start or ended early (the caller follows the run itself then).
        """
        try:
            child = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                env=_child_env(),
            )
        except OSError as error:
            logger.warning("could not start a follower process for %s: %s", self.name, error)
            return False
        with self._lock:
            self._child = child
            stopping = self._stopping
        if stopping:
            self._close_stdin(child)
        assert child.stdout is not None
        try:
            self._relay(child.stdout)
        finally:
            child.stdout.close()
            self._close_stdin(child)
            try:
                code = child.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                code = child.wait()
        if self.finished or self._stopping:
            return True
        logger.warning(
            "the follower process of %s exited (code %s) before the run ended; "
            "following it in this process",
            self.name,
            code,
        )
        return False

    def _relay(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                message = json.loads(line)
            except ValueError:
                logger.warning("follower of %s wrote a line that is not JSON: %r", self.name, line)
                continue
            if not isinstance(message, dict):
                continue
            try:
                self.apply(message)
            except Exception:  # one odd message must not end the relay of the others
                logger.exception("follower of %s sent a message that failed", self.name)
                continue
            if "finished" in message:
                self.finished = True

    def stop(self) -> None:
        """Ask the child to stop following (it finishes its poll, then exits)."""
        with self._lock:
            self._stopping = True
            child = self._child
        if child is not None:
            self._close_stdin(child)

    def _close_stdin(self, child: subprocess.Popen[str]) -> None:
        # Both the relaying thread and a caller of stop() may get here.
        with self._lock:
            if child.stdin is None or child.stdin.closed:
                return
            with contextlib.suppress(OSError):  # the child is already gone
                child.stdin.close()
