"""Stops a run whose supervisor is gone: ``python -m ravelab.core.runs.run_stopper RUN_DIR
[--at-checkpoint AFTER]``.

Started detached (its own session) by ``executor.stop_run_processes``, so the escalation
outlives the command that asked for the stop (``ravelab stop --no-wait`` returns at once).
It finds the run's processes by the marker in their environment (``RAVELAB_RUN_DIR``) and
by ``supervisor.json`` when that is sound and names a process carrying the marker, and
sends SIGINT to their process groups, SIGTERM after the run's SIGINT grace time, SIGKILL
after the SIGTERM grace time (from ``launch.json`` when it is sound, else the defaults),
then ends once nothing of the run lives. SIGUSR1 (a second ``stop``) skips the rest of
the current grace time.

With ``--at-checkpoint AFTER`` (the modification time of the newest checkpoint when the
stop was asked, 0 for none) it first waits, as the supervisor would, for a complete
checkpoint newer than that (or for SIGUSR1: a plain stop asked meanwhile), so a stop at
the next checkpoint survives its supervisor.

Once nothing of the run lives it writes ``exit.json`` (no exit code: the supervisor that
knew it is gone; ``stop_requested`` true) unless one exists, so the run is settled as
stopped by whoever reads it next, even a follower that never saw the stop asked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from ravelab.core.runs.executor import (
    newest_checkpoint_time,
    run_processes,
    signallable_trainer,
)
from ravelab.core.runs.run_files import EXIT_FILE, ExitRecord, grace_times
from ravelab.core.runs.stop_stages import StopStage

_POLL_S = 0.1
_CHECKPOINT_POLL_S = 0.5
#: A checkpoint modified this recently may still be being written (as the supervisor).
_CHECKPOINT_SETTLE_S = 2.0


class _Hurry:
    """Set by SIGUSR1: a second stop asks to escalate now."""

    requested = False

    @classmethod
    def on_signal(cls, _signum: int, _frame: object) -> None:
        cls.requested = True


def _groups(run_dir: Path) -> set[int]:
    """The process groups of the run's live processes (never this process's own)."""
    groups: set[int] = set()
    trainer_group = signallable_trainer(run_dir)
    if trainer_group is not None:
        groups.add(trainer_group)
    for process in run_processes(run_dir):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            groups.add(os.getpgid(process.pid))
    groups.discard(os.getpgrp())
    return groups


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    # Never raised: a full disk, or a signal handler's line landing inside another
    # print (a reentrant write), must not end the process that holds the run.
    with contextlib.suppress(OSError, RuntimeError, ValueError):
        print(f"{stamp} stopper[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def stop(run_dir: Path) -> int:
    """Escalate until nothing of the run lives; return how many signals were sent."""
    int_grace, term_grace = grace_times(run_dir)
    sent = 0
    for stage, grace in (
        (StopStage.INTERRUPTED, int_grace),
        (StopStage.TERMINATED, term_grace),
        (StopStage.KILLED, 5.0),  # only waits to see the groups gone
    ):
        groups = _groups(run_dir)
        if not groups:
            return sent
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, stage.signal)
                sent += 1
        _log(f"sent {stage.signal.name} to process groups {sorted(groups)}")
        deadline = time.monotonic() + grace
        _Hurry.requested = False
        while time.monotonic() < deadline and not _Hurry.requested and _groups(run_dir):
            time.sleep(_POLL_S)
    return sent


def wait_for_checkpoint(run_dir: Path, after: float) -> bool:
    """Wait until a complete checkpoint modified after ``after`` is there (or a plain stop
    is asked); False when nothing of the run lives any more."""
    while _groups(run_dir):
        if _Hurry.requested:
            _log("stop requested again: stopping without waiting for the checkpoint")
            return True
        newest = newest_checkpoint_time(run_dir)
        if newest > after and time.time() - newest > _CHECKPOINT_SETTLE_S:
            _log("a new checkpoint is written: stopping")
            return True
        time.sleep(_CHECKPOINT_POLL_S)
    return False


def record_exit(run_dir: Path) -> None:
    """Write ``exit.json`` for a run this stopper ended, unless one is there or any of
    its processes lives."""
    if os.path.lexists(run_dir / EXIT_FILE) or _groups(run_dir):
        return
    with contextlib.suppress(OSError):  # a read-only folder: the database still knows
        ExitRecord(None, None, True, time.time()).write(run_dir)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m ravelab.core.runs.run_stopper RUN_DIR [--at-checkpoint AFTER]``."""
    args = sys.argv[1:] if argv is None else argv
    after: float | None = None
    if len(args) == 3 and args[1] == "--at-checkpoint":
        with contextlib.suppress(ValueError):
            after = float(args[2])
        args = args[:1] if after is not None else args
    if len(args) != 1:
        print(
            "usage: python -m ravelab.core.runs.run_stopper RUN_DIR [--at-checkpoint AFTER]",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGUSR1, _Hurry.on_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})  # blocked by our starter
    run_dir = Path(args[0])
    if after is not None and not wait_for_checkpoint(run_dir, after):
        return 0  # the run ended on its own meanwhile: nothing to stop, nothing to record
    stop(run_dir)
    record_exit(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
