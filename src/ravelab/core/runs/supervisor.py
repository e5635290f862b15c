"""The detached supervisor of one run: ``python -m ravelab.core.runs.supervisor RUN_DIR``.

Started in its own session by the local executor, it outlives the app that started it.
It starts the trainer in a process group of its own with stdout and stderr going
straight to files (so the trainer keeps logging even if the supervisor dies), writes
``supervisor.json``, turns a stop request (SIGTERM, SIGINT or SIGHUP sent to it) into
SIGINT -> SIGTERM -> SIGKILL to the trainer's group (a repeated request skips the rest of
the current grace time), kills what is left of the group
(dataloader workers) once the trainer has ended, and writes ``exit.json``.

It imports only the standard library, psutil and the run-file helpers, so it starts fast.

It also tails both files into ``merged.log`` (``merged_log.MergedLogWriter``): one stream
in arrival order, timestamped, a record opening and one closing each attempt, progress
bars kept as their last state. The trainer never depends on it: if writing it fails, the
supervisor says so once on its stderr and goes on without it.

The trainer's environment carries ``RAVELAB_RUN_DIR`` (the run folder), inherited by its
children, so the run's processes can be found even if this supervisor is killed before it
writes ``supervisor.json``. A damaged ``launch.json`` ends the supervisor with an
``exit.json`` whose ``error`` names the field (the run is then settled as failed with it).

Test-only fault hook: with ``RAVELAB_FAULT_SUPERVISOR=before-supervisor-json`` (or
``after-supervisor-json``) and ``RAVELAB_FAULT_SUPERVISOR_GATE=PATH``, the supervisor touches
``PATH.reached`` at that point and waits until ``PATH`` exists, so a test can kill it
exactly there without guessing times. Nothing else reads these variables.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from ravelab.core.rave.checkpoints import find_checkpoints
from ravelab.core.runs.merged_log import MergedLogWriter, attempt_fields
from ravelab.core.runs.process_identity import HOST, group_members, identify
from ravelab.core.runs.run_files import (
    DAMAGED_PREFIX,
    RUN_MARKER_ENV,
    STDERR_LOG,
    STDOUT_LOG,
    SUPERVISOR_FILE,
    DamagedFileError,
    ExitRecord,
    LaunchSpec,
    fault_point,
    marker_value,
    write_json_atomic,
)
from ravelab.core.runs.stop_stages import StopStage

_POLL_S = 0.1
FAULT_ENV = "RAVELAB_FAULT_SUPERVISOR"


class Supervisor:
    """Runs one trainer to its end."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.spec = LaunchSpec.read(run_dir)
        self.stop_requested_at: float | None = None
        self.checkpoint_stop_after: float | None = None  # newest checkpoint time at request
        self._checkpoint_scan_at = 0.0
        self._stage = StopStage.NOT_STOPPING
        self._merged: MergedLogWriter | None = None

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop_requested_at is None:
            self.stop_requested_at = time.monotonic()
            self._log(f"stop requested ({signal.Signals(signum).name})")
        elif self._stage.is_grace:
            # A stop asked again: skip the rest of the current grace time (stop harder).
            interrupted = self._stage is StopStage.INTERRUPTED
            grace = self.spec.int_grace_s if interrupted else self.spec.term_grace_s
            self.stop_requested_at -= grace
            self._log(f"stop requested again ({signal.Signals(signum).name}): escalating")

    def _on_checkpoint_stop(self, _signum: int, _frame: FrameType | None) -> None:
        if self.checkpoint_stop_after is None:
            self.checkpoint_stop_after = self._newest_checkpoint()
            self._log("stop requested at the next checkpoint")

    def _newest_checkpoint(self) -> float:
        found = find_checkpoints(self.run_dir)
        return max((c.modified_at for c in found), default=0.0)

    def _watch_checkpoint(self) -> None:
        """Start the stop once a checkpoint newer than at the request is complete."""
        if self.checkpoint_stop_after is None or self.stop_requested_at is not None:
            return
        now = time.monotonic()
        if now - self._checkpoint_scan_at < 1.0:
            return
        self._checkpoint_scan_at = now
        newest = self._newest_checkpoint()
        # A file modified in the last 2 s may still be being written: wait for it.
        if newest > self.checkpoint_stop_after and time.time() - newest > 2.0:
            self._log("a new checkpoint is written: stopping")
            self.stop_requested_at = now

    def _log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        # Never raised: a full disk, or a signal handler's line landing inside another
        # print (a reentrant write), must not end the process that holds the run.
        with contextlib.suppress(OSError, RuntimeError, ValueError):
            print(f"{stamp} supervisor[{os.getpid()}]: {message}", file=sys.stderr, flush=True)

    def _merge(self, step: str, fields: dict[str, object] | None = None) -> None:
        """One step of ``merged.log`` (open, poll, end); a failure only ends the merging."""
        try:
            if step == "open":
                self._merged = MergedLogWriter(self.run_dir)
                self._merged.start_attempt(attempt_fields(self.run_dir, self.spec))
            elif self._merged is not None and step == "poll":
                self._merged.poll()
            elif self._merged is not None and step == "end":
                self._merged.end_attempt(fields or {})
        except Exception as error:  # the merged log is a view: never worth the run
            self._merged = None
            self._log(f"merged.log is not written any more: {error}")
            return
        if self._merged is not None and self._merged.error is not None:
            self._log(f"merged.log is not written any more: {self._merged.error}")
            self._merged.close()
            self._merged = None

    def _signal_group(self, pgid: int, signum: signal.Signals) -> None:
        try:
            os.killpg(pgid, signum)
            self._log(f"sent {signum.name} to process group {pgid}")
        except (ProcessLookupError, PermissionError):
            pass

    def _enter(self, pgid: int, stage: StopStage) -> None:
        self._signal_group(pgid, stage.signal)
        self._stage = stage

    def _escalate(self, pgid: int) -> None:
        if self.stop_requested_at is None:
            return
        waited = time.monotonic() - self.stop_requested_at
        int_grace, term_grace = self.spec.int_grace_s, self.spec.term_grace_s
        if self._stage is StopStage.NOT_STOPPING:
            self._enter(pgid, StopStage.INTERRUPTED)
        elif self._stage is StopStage.INTERRUPTED and waited >= int_grace:
            self._enter(pgid, StopStage.TERMINATED)
        elif self._stage is StopStage.TERMINATED and waited >= int_grace + term_grace:
            self._enter(pgid, StopStage.KILLED)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGUSR1, self._on_checkpoint_stop)
        env = dict(os.environ)
        env.update(self.spec.env)
        env[RUN_MARKER_ENV] = marker_value(self.run_dir)  # the run's processes stay findable
        env["PYTHONUNBUFFERED"] = "1"  # RAVE's print() lines arrive live, not in blocks
        with (
            open(self.run_dir / STDOUT_LOG, "ab") as out,
            open(self.run_dir / STDERR_LOG, "ab") as err,
        ):
            self._merge("open")  # before the trainer writes a byte of this attempt
            try:
                proc = subprocess.Popen(
                    self.spec.argv,
                    cwd=self.spec.cwd,
                    env=env,
                    stdin=subprocess.PIPE
                    if self.spec.stdin_text is not None
                    else subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    process_group=0,
                    close_fds=True,
                )
            except OSError as error:
                message = f"could not start {self.spec.argv[0]!r}: {error.strerror or error}"
                err.write(f"ravelab: {message}\n".encode())
                err.flush()
                self._merge("end", {"exit_code": 127, "error": message})
                ExitRecord(127, None, False, time.time(), message).write(self.run_dir)
                return 127
            if self.spec.stdin_text is not None and proc.stdin is not None:
                try:
                    proc.stdin.write(self.spec.stdin_text.encode())
                    proc.stdin.close()
                except OSError:
                    pass
            trainer = identify(proc.pid)
            me = identify(os.getpid())
            fault_point(FAULT_ENV, "before-supervisor-json")
            write_json_atomic(
                self.run_dir / SUPERVISOR_FILE,
                {
                    "supervisor_pid": os.getpid(),
                    "supervisor_start_time": me.start_time if me else None,
                    "trainer_pid": proc.pid,
                    "trainer_pgid": proc.pid,
                    "trainer_start_time": trainer.start_time if trainer else None,
                    "host": HOST,
                },
            )
            fault_point(FAULT_ENV, "after-supervisor-json")
            while True:
                try:
                    returncode = proc.wait(timeout=_POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    self._merge("poll")
                    self._watch_checkpoint()
                    self._escalate(proc.pid)
        # Dataloader workers or ffmpeg children may outlive the trainer: end the group.
        for _ in range(50):
            if not group_members(proc.pid):
                break
            self._signal_group(proc.pid, signal.SIGKILL)
            time.sleep(0.05)
        sig_name = signal.Signals(-returncode).name if returncode < 0 else None
        self._merge("end", {"exit_code": returncode, "signal": sig_name})
        ExitRecord(
            exit_code=returncode,
            signal=sig_name,
            stop_requested=self.stop_requested_at is not None,
            ended_at=time.time(),
        ).write(self.run_dir)
        self._log(f"trainer ended with {returncode}")
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m ravelab.core.runs.supervisor RUN_DIR``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ravelab.core.runs.supervisor RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(args[0])
    try:
        supervisor = Supervisor(run_dir)
    except (FileNotFoundError, DamagedFileError) as error:
        # Nothing can be started: say why in exit.json, where the run's reason comes from.
        message = f"{DAMAGED_PREFIX}{error}" if isinstance(error, DamagedFileError) else str(error)
        print(f"supervisor: {message}", file=sys.stderr, flush=True)
        with contextlib.suppress(OSError):
            ExitRecord(127, None, False, time.time(), message).write(run_dir)
        return 2
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
