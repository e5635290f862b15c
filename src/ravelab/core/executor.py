"""Where runs execute. ``LocalExecutor`` starts a detached supervisor on this machine.

The manager talks to an executor only through this interface, so a SLURM executor can
take its place without the manager, CLI or GUI knowing more than its name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ravelab.core.errors import LaunchError
from ravelab.core.process_identity import ProcessIdentity, identify, is_alive
from ravelab.core.run_files import SUPERVISOR_FILE, SUPERVISOR_LOG, LaunchSpec, read_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunHandle:
    """How to find a launched run again: its executor, and the supervisor process
    (local) or the job id (SLURM). Stored in the experiment's row."""

    executor: str
    supervisor: ProcessIdentity | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class ExecutorState:
    """What an executor knows about a run right now.

    Attributes:
        alive: True while it runs (or waits in a queue), False once it has ended, None
            when this machine cannot tell.
        queued: True while it waits for resources (SLURM PENDING).
        detail: a one-line explanation (the queue's reason, the scheduler's state).
        outcome: (status, reason) when the executor knows how a run ended that left no
            ``exit.json`` (a job cancelled or killed by the scheduler).
    """

    alive: bool | None
    queued: bool = False
    detail: str | None = None
    outcome: tuple[str, str] | None = None


class Executor(Protocol):
    """Starts, watches and stops the supervisor of a run."""

    name: str

    def launch(
        self, run_dir: Path, spec: LaunchSpec, options: Mapping[str, Any] | None = None
    ) -> RunHandle:
        """Start the run described by ``spec`` in ``run_dir``."""

    def state(self, run_dir: Path, handle: RunHandle) -> ExecutorState:
        """Whether the run still lives (or waits), as far as the executor knows."""

    def request_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        """Ask the run to stop; True when a live run was asked."""

    def request_checkpoint_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        """Ask the run to stop once RAVE has written its next checkpoint."""


def trainer_identity(run_dir: Path) -> tuple[ProcessIdentity, int] | None:
    """The trainer's identity and process group, from ``supervisor.json``."""
    data = read_json(run_dir / SUPERVISOR_FILE)
    if not data or data.get("trainer_start_time") is None:
        return None
    identity = ProcessIdentity(
        int(data["trainer_pid"]), float(data["trainer_start_time"]), str(data["host"])
    )
    return identity, int(data["trainer_pgid"])


class LocalExecutor:
    """Runs the supervisor as a detached process (its own session) on this machine."""

    name = "local"

    def launch(
        self, run_dir: Path, spec: LaunchSpec, options: Mapping[str, Any] | None = None
    ) -> RunHandle:
        spec.write(run_dir)
        with open(run_dir / SUPERVISOR_LOG, "ab") as log:
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "ravelab.core.supervisor", str(run_dir)],
                    cwd=run_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # not killed with the app or its terminal
                    close_fds=True,
                )
            except OSError as error:
                raise LaunchError(f"could not start the run supervisor: {error}") from error
        # Reap the supervisor when it ends, so it never lingers as a zombie that looks
        # alive while this process lives. If this process dies first, init reaps it.
        threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
        identity = identify(proc.pid)
        if identity is None:  # ended already (it could not even start python)
            identity = ProcessIdentity(proc.pid, time.time())
        return RunHandle(self.name, supervisor=identity)

    def state(self, run_dir: Path, handle: RunHandle) -> ExecutorState:
        return ExecutorState(alive=self.is_running(run_dir, handle.supervisor))

    def is_running(self, run_dir: Path, supervisor: ProcessIdentity | None) -> bool | None:
        """True while the supervisor or the trainer lives; None when it cannot tell."""
        states = []
        if supervisor is not None:
            states.append(is_alive(supervisor))
        trainer = trainer_identity(run_dir)
        if trainer is not None:
            states.append(is_alive(trainer[0]))
        if not states:
            return None  # nothing known yet (the supervisor has not written its file)
        if any(state is True for state in states):
            return True
        if any(state is None for state in states):
            return None
        return False

    def request_checkpoint_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        # SIGUSR1 tells the supervisor to watch for the next checkpoint, then stop.
        supervisor = handle.supervisor
        if supervisor is None or not is_alive(supervisor):
            return False
        try:
            os.kill(supervisor.pid, signal.SIGUSR1)
        except ProcessLookupError:
            return False
        return True

    def request_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        supervisor = handle.supervisor
        if supervisor is not None and is_alive(supervisor):
            try:
                os.kill(supervisor.pid, signal.SIGTERM)
                return True
            except ProcessLookupError:
                pass
        # The supervisor is gone but the trainer may live on: stop its group directly.
        return stop_trainer_group(run_dir)


def stop_trainer_group(run_dir: Path) -> bool:
    """Stop a trainer whose supervisor is gone (SIGINT, SIGTERM, SIGKILL in a thread)."""
    trainer = trainer_identity(run_dir)
    if trainer is None or not is_alive(trainer[0]):
        return False
    threading.Thread(
        target=_escalate_group,
        args=(trainer[0], trainer[1], LaunchSpec.read(run_dir)),
        name=f"stop-{trainer[1]}",
        daemon=True,
    ).start()
    return True


def _escalate_group(trainer: ProcessIdentity, pgid: int, spec: LaunchSpec) -> None:
    """SIGINT, then SIGTERM, then SIGKILL to a trainer group whose supervisor died."""
    steps = (
        (signal.SIGINT, spec.int_grace_s),
        (signal.SIGTERM, spec.term_grace_s),
        (signal.SIGKILL, 0.0),
    )
    for signum, grace in steps:
        try:
            os.killpg(pgid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not is_alive(trainer):
                break
            time.sleep(0.1)
        if not is_alive(trainer):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)  # leftover workers
            return
