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
from typing import Any, BinaryIO, Protocol

import psutil

from ravelab.core.errors import LaunchError
from ravelab.core.rave.checkpoints import find_checkpoints
from ravelab.core.runs.process_identity import (
    HOST,
    ProcessIdentity,
    identify,
    is_alive,
    processes_with_env,
)
from ravelab.core.runs.run_files import (
    RUN_MARKER_ENV,
    SUPERVISOR_LOG,
    LaunchSpec,
    SupervisorInfo,
    marker_value,
)
from ravelab.db.vocabulary import RunStatus

logger = logging.getLogger(__name__)

#: The module the supervisor runs as (how a supervisor is told from a run's other processes).
SUPERVISOR_MODULE = "ravelab.core.runs.supervisor"

#: The environment variable a run's stopper carries (the run folder), so that a second
#: stop finds it at work instead of starting another.
STOPPER_ENV = "RAVELAB_STOPPING_RUN"


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
        problem: why the run cannot be watched now (a remote that cannot be reached),
            shown as the run's health until it can be again.
    """

    alive: bool | None
    queued: bool = False
    detail: str | None = None
    outcome: tuple[RunStatus, str] | None = None
    problem: str | None = None


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
    """The trainer's identity and process group, from ``supervisor.json`` (None while it
    is missing, or when its trainer fields are damaged: the run's processes are then
    found by their marker instead)."""
    info = SupervisorInfo.read(run_dir)
    if (
        info is None
        or info.trainer_pid is None
        or info.trainer_pgid is None
        or info.trainer_start_time is None
        or info.host is None
    ):
        return None
    return ProcessIdentity(info.trainer_pid, info.trainer_start_time, info.host), info.trainer_pgid


def is_live_supervisor(identity: ProcessIdentity) -> bool:
    """Whether the recorded process lives and is a supervisor. A run adopted after its
    supervisor died records its trainer (or a worker) instead: SIGTERM would reach that
    one process and not its group (workers live on), and SIGUSR1 would kill it outright,
    so such a run is stopped group by group like any run without its supervisor."""
    if is_alive(identity) is not True:
        return False
    try:
        return SUPERVISOR_MODULE in psutil.Process(identity.pid).cmdline()
    except psutil.Error:
        return False


def signallable_trainer(run_dir: Path) -> int | None:
    """The process group of the run's trainer while it lives and provably is the run's:
    the process named by ``supervisor.json`` (pid and start time) carries the run's
    marker. A run folder is untrusted: a ``supervisor.json`` that names another live
    process (copied from another run, edited) must never get that process signalled,
    and its ``trainer_pgid`` is never believed (the group is read from the process)."""
    trainer = trainer_identity(run_dir)
    if trainer is None or is_alive(trainer[0]) is not True:
        return None
    try:
        process = psutil.Process(trainer[0].pid)
        if process.environ().get(RUN_MARKER_ENV) != marker_value(run_dir):
            return None
        return os.getpgid(trainer[0].pid)
    except (psutil.Error, OSError):
        return None


def run_processes(run_dir: Path) -> list[psutil.Process]:
    """The live processes of a run on this machine, found by the marker they carry (the
    supervisor, the trainer, its workers), whatever the run's files say."""
    return processes_with_env(RUN_MARKER_ENV, marker_value(run_dir))


def pick_supervisor(found: list[psutil.Process]) -> ProcessIdentity | None:
    """The run's supervisor among its processes, else the oldest of them still there."""
    living: list[tuple[bool, float, int]] = []
    for process in found:
        with contextlib.suppress(psutil.Error):
            is_supervisor = SUPERVISOR_MODULE in process.cmdline()
            living.append((not is_supervisor, process.create_time(), process.pid))
    if not living:
        return None
    _, start_time, pid = min(living)
    return ProcessIdentity(pid, start_time, HOST)


def _popen_detached(
    argv: list[str], run_dir: Path, env: dict[str, str], log: BinaryIO
) -> subprocess.Popen[bytes]:
    """Start a process of the run (its supervisor, a stopper) in the run folder, writing
    to ``log``, in a session of its own: it is not killed with the app, its terminal or
    the command that started it. Raises OSError when it cannot be started."""
    return subprocess.Popen(
        argv,
        cwd=run_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
    )


class LocalExecutor:
    """Runs the supervisor as a detached process (its own session) on this machine."""

    name = "local"

    def launch(
        self, run_dir: Path, spec: LaunchSpec, options: Mapping[str, Any] | None = None
    ) -> RunHandle:
        spec.write(run_dir)
        # The marker goes to the supervisor and, through it, to the trainer and its
        # children: the run's processes stay findable even if no file says where they are.
        env = dict(os.environ)
        env[RUN_MARKER_ENV] = marker_value(run_dir)
        env.pop(STOPPER_ENV, None)
        # CUDA numbers GPUs fastest first unless told otherwise, NVML and nvidia-smi by PCI
        # bus: in PCI order, `--gpu N` is the GPU the app and `ravelab gpus` call N.
        env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
        with open(run_dir / SUPERVISOR_LOG, "ab") as log:
            try:
                proc = _popen_detached(
                    [sys.executable, "-m", SUPERVISOR_MODULE, marker_value(run_dir)],
                    run_dir,
                    env,
                    log,
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
        """True while the supervisor, the trainer or any other process of the run lives;
        None when it cannot tell (another host, or nothing known of the run yet)."""
        states = []
        if supervisor is not None:
            states.append(is_alive(supervisor))
        trainer = trainer_identity(run_dir)
        if trainer is not None:
            alive = is_alive(trainer[0])
            # A live process that is not the run's (supervisor.json names another one)
            # does not keep the run alive.
            states.append(False if alive and signallable_trainer(run_dir) is None else alive)
        if any(state is True for state in states):
            return True
        if any(state is None for state in states):
            return None
        # The recorded processes are gone, or none is known (a supervisor killed before
        # it wrote supervisor.json): the run lives while any process carrying its marker
        # lives, so a trainer left without its supervisor is never taken for ended.
        if run_processes(run_dir):
            return True
        if not states:
            return None  # nothing known yet (the launch has not been recorded)
        return False

    def request_checkpoint_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        # SIGUSR1 tells the supervisor to watch for the next checkpoint, then stop.
        if _signal_live_supervisor(handle.supervisor, signal.SIGUSR1):
            return True
        # The supervisor is gone but the trainer may live on: a stopper watches instead.
        return stop_run_processes(run_dir, at_checkpoint_after=newest_checkpoint_time(run_dir))

    def request_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        if _signal_live_supervisor(handle.supervisor, signal.SIGTERM):
            return True
        # The supervisor is gone but the trainer may live on: stop its group directly.
        return stop_run_processes(run_dir)


def _signal_live_supervisor(supervisor: ProcessIdentity | None, signum: int) -> bool:
    """Send ``signum`` to the run's supervisor if it is still the live supervisor; False
    when there is none to signal (gone, or never recorded)."""
    if supervisor is None or not is_live_supervisor(supervisor):
        return False
    try:
        os.kill(supervisor.pid, signum)
    except ProcessLookupError:
        return False
    return True


def newest_checkpoint_time(run_dir: Path) -> float:
    """The modification time of a run's newest checkpoint (0 when it has none): the
    baseline of a stop at the next checkpoint, compared with later checkpoints' times,
    never with the clock, so a clock set back cannot hold the stop off."""
    return max((c.modified_at for c in find_checkpoints(run_dir)), default=0.0)


def stop_run_processes(run_dir: Path, *, at_checkpoint_after: float | None = None) -> bool:
    """Stop the processes of a run whose supervisor is gone: SIGINT, SIGTERM, SIGKILL to
    their process groups, escalated by a detached ``ravelab.core.runs.run_stopper`` process
    that outlives the caller (a CLI that returns at once, an app that closes). Nothing
    here reads ``launch.json``: a damaged one cannot keep a run from being stopped.

    With ``at_checkpoint_after`` the stopper first waits for a complete checkpoint
    newer than that modification time (a stop at the next checkpoint). A stopper already at work
    is left to it then; for a plain stop it is asked to escalate now.

    Returns:
        True when some process of the run lives (a stopper started, or one already at
        work); False when nothing is left to stop.
    """
    if signallable_trainer(run_dir) is None and not run_processes(run_dir):
        return False
    stoppers = processes_with_env(STOPPER_ENV, marker_value(run_dir))
    if stoppers:
        if at_checkpoint_after is not None:
            return True  # a stopper at work stops it at least as soon as asked
        # A stopper is at work: a second stop asks it to escalate now (stop harder).
        for stopper in stoppers:
            with contextlib.suppress(psutil.Error):
                stopper.send_signal(signal.SIGUSR1)
        return True
    env = {k: v for k, v in os.environ.items() if k != RUN_MARKER_ENV}
    env[STOPPER_ENV] = marker_value(run_dir)
    # The stopper starts with SIGUSR1 blocked (a signal mask survives exec) and unblocks
    # it once its handler is in place: a second stop arriving during its start-up then
    # waits instead of killing it (SIGUSR1's default action).
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    with open(run_dir / SUPERVISOR_LOG, "ab") as log:
        try:
            proc = _popen_detached(
                [sys.executable, "-m", "ravelab.core.runs.run_stopper", marker_value(run_dir)]
                + (
                    []
                    if at_checkpoint_after is None
                    else ["--at-checkpoint", repr(at_checkpoint_after)]
                ),
                run_dir,
                env,
                log,
            )
        except OSError as error:
            logger.warning("could not start the stopper of %s: %s", run_dir, error)
            return False
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return True
