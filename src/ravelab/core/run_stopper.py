"""Stops a run whose supervisor is gone: ``python -m ravelab.core.run_stopper RUN_DIR``.

Started detached (its own session) by ``executor.stop_run_processes``, so the escalation
outlives the command that asked for the stop (``ravelab stop --no-wait`` returns at once).
It finds the run's processes by the marker in their environment (``RAVELAB_RUN_DIR``) and
by ``supervisor.json`` when that is sound, and sends SIGINT to their process groups, SIGTERM
after the run's SIGINT grace time, SIGKILL after the SIGTERM grace time (from
``launch.json`` when it is sound, else the defaults), then ends once nothing of the run
lives. SIGUSR1 (a second ``stop``) skips the rest of the current grace time. It writes
no file: the run then settles as ``stopped`` (a stop was requested and
no ``exit.json`` was written).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from ravelab.core.executor import run_processes, trainer_identity
from ravelab.core.process_identity import is_alive
from ravelab.core.run_files import grace_times

_POLL_S = 0.1


class _Hurry:
    """Set by SIGUSR1: a second stop asks to escalate now."""

    requested = False

    @classmethod
    def on_signal(cls, _signum: int, _frame: object) -> None:
        cls.requested = True


def _groups(run_dir: Path) -> set[int]:
    """The process groups of the run's live processes (never this process's own)."""
    groups: set[int] = set()
    trainer = trainer_identity(run_dir)
    if trainer is not None and is_alive(trainer[0]) is True:
        groups.add(trainer[1])
    for process in run_processes(run_dir):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            groups.add(os.getpgid(process.pid))
    groups.discard(os.getpgrp())
    return groups


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(f"{stamp} stopper[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def stop(run_dir: Path) -> int:
    """Escalate until nothing of the run lives; return how many signals were sent."""
    int_grace, term_grace = grace_times(run_dir)
    sent = 0
    for signum, grace in (
        (signal.SIGINT, int_grace),
        (signal.SIGTERM, term_grace),
        (signal.SIGKILL, 5.0),
    ):
        groups = _groups(run_dir)
        if not groups:
            return sent
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signum)
                sent += 1
        _log(f"sent {signum.name} to process groups {sorted(groups)}")
        deadline = time.monotonic() + grace
        _Hurry.requested = False
        while time.monotonic() < deadline and not _Hurry.requested and _groups(run_dir):
            time.sleep(_POLL_S)
    return sent


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m ravelab.core.run_stopper RUN_DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ravelab.core.run_stopper RUN_DIR", file=sys.stderr)
        return 2
    signal.signal(signal.SIGUSR1, _Hurry.on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})  # blocked by our starter
    stop(Path(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
