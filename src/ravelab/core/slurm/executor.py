"""``SlurmExecutor``: runs on a SLURM cluster through its own commands.

``launch`` writes ``launch.json`` and the batch script (``slurm_script``) into the run
folder, which must be on a filesystem the compute nodes share, and submits it with
``sbatch --parsable``; the job runs ravelab's supervisor, so the run folder fills exactly
as with ``LocalExecutor``. ``state`` asks ``squeue`` while SLURM knows the job (PENDING is
``queued`` with SLURM's reason); once ``squeue`` has forgotten it, ``exit.json`` tells how
the run ended, else the job-completion record (``sacct -c``, then ``sacct``) does.
``request_stop`` sends SIGINT to the batch step (the supervisor, which stops the trainer
gracefully as it does locally), then a plain ``scancel`` if the job is still there after
the run's grace times; ``request_checkpoint_stop`` sends it SIGUSR1 (stop at the next
checkpoint). Every command is an argv list run with a timeout; failures become
``LaunchError`` (launch) or an ``alive=None`` state (watching) naming the command.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ravelab.core.errors import LaunchError, RavelabError
from ravelab.core.numbers import is_ascii_integer
from ravelab.core.runs.executor import ExecutorState, RunHandle
from ravelab.core.runs.run_files import EXIT_FILE, SUPERVISOR_FILE, LaunchSpec
from ravelab.core.slurm.script import output_name, work_dir_for, write_batch_script
from ravelab.core.slurm.settings import SettingsStore, SlurmSettings
from ravelab.core.slurm.states import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    JobInfo,
    SlurmOutputError,
    final_outcome,
    live_state,
    parse_sacct,
    parse_squeue,
)

logger = logging.getLogger(__name__)

#: Seconds any one SLURM command may take.
DEFAULT_COMMAND_TIMEOUT_S = 30.0
#: Added to the run's SIGINT and SIGTERM grace times before the plain ``scancel``.
STOP_MARGIN_S = 10.0
#: How long a job that ended may go without a visible ``exit.json`` (a shared filesystem
#: can show a new file late) before its end is taken from SLURM's record instead.
DEFAULT_EXIT_FILE_GRACE_S = 30.0
#: ``scancel`` scope of the stop signal: ``--batch`` reaches only the batch script, which
#: ``exec``s the supervisor; the supervisor then signals the trainer's process group, as
#: locally. (``--full`` would signal every process of the job: the trainer would get SIGINT
#: twice, from SLURM and from the supervisor.)
STOP_SCOPE = "--batch"


class SlurmError(RavelabError):
    """A SLURM command failed or could not be run."""


@dataclass(frozen=True)
class CommandResult:
    """What a command printed, and its exit status."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def message(self) -> str:
        """The command's last line of complaint (stderr, else stdout)."""
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return text[-1] if text else f"exit status {self.returncode}"


def run_command(argv: Sequence[str], timeout: float, cwd: Path | None = None) -> CommandResult:
    """Run one command (no shell) and capture its output.

    Raises:
        SlurmError: the command is missing, cannot start, or runs past ``timeout``.
    """
    command = " ".join(argv)
    if shutil.which(argv[0]) is None:
        raise SlurmError(
            f"{argv[0]} not found: SLURM commands must be on PATH (run ravelab on a machine "
            "that can submit jobs, such as the cluster's login node)"
        )
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise SlurmError(
            f"`{command}` did not answer in {timeout:.0f} s: is the SLURM controller up? "
            "(`scontrol ping`)"
        ) from error
    except OSError as error:
        raise SlurmError(f"could not run `{command}`: {error.strerror or error}") from error
    return CommandResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def _job_number(job_id: str) -> str:
    """``123`` from ``123`` or ``123;cluster`` (``sbatch --parsable``'s output)."""
    return job_id.split(";", 1)[0].strip()


@dataclass
class _Watch:
    queued: bool = False
    detail: str | None = None
    ended_without_exit_since: float | None = None
    stop_threads: list[threading.Thread] = field(default_factory=list)


class SlurmExecutor:
    """Submits runs as SLURM batch jobs and follows them with SLURM's commands.

    Args:
        settings: the SLURM settings to submit with (default: loaded from ``db`` at each
            launch, so changed settings apply to the next run).
        db: where the settings are stored (``SlurmSettings.load``).
        python: the interpreter the job runs the supervisor with (``sys.executable``).
        command_timeout_s: the most any SLURM command may take.
        stop_timeout_s: seconds between the stop signal and the plain ``scancel``
            (default: the run's SIGINT and SIGTERM grace times plus ``STOP_MARGIN_S``).
        exit_file_grace_s: how long to wait for ``exit.json`` to show after the job ended.
    """

    name = "slurm"
    #: ``--batch`` or ``--full`` (see ``STOP_SCOPE``).
    stop_scope = STOP_SCOPE

    def __init__(
        self,
        settings: SlurmSettings | None = None,
        *,
        db: SettingsStore | None = None,
        python: str | None = None,
        command_timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
        stop_timeout_s: float | None = None,
        exit_file_grace_s: float = DEFAULT_EXIT_FILE_GRACE_S,
    ) -> None:
        self._settings = settings
        self._db = db
        self.python = python or sys.executable
        self.command_timeout_s = command_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.exit_file_grace_s = exit_file_grace_s
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()

    @property
    def settings(self) -> SlurmSettings:
        """The settings a launch without options uses."""
        if self._settings is not None:
            return self._settings
        return SlurmSettings.load(self._db) if self._db is not None else SlurmSettings()

    def _run(self, argv: Sequence[str], cwd: Path | None = None) -> CommandResult:
        return run_command(argv, self.command_timeout_s, cwd)

    def _watch(self, job: str) -> _Watch:
        with self._lock:
            return self._watches.setdefault(job, _Watch())

    # -- launching -----------------------------------------------------------------------------

    def launch(
        self, run_dir: Path, spec: LaunchSpec, options: Mapping[str, Any] | None = None
    ) -> RunHandle:
        """Write ``launch.json`` and ``slurm-job.sh`` into ``run_dir`` and submit the job.

        Raises:
            LaunchError: a bad option or setting, or ``sbatch`` refused or failed.
        """
        run_dir = Path(os.path.abspath(run_dir))
        try:
            settings = self.settings.merged(options)
            spec.write(run_dir)
            script = write_batch_script(run_dir, settings, python=self.python)
            result = self._run(["sbatch", "--parsable", str(script)], cwd=work_dir_for(run_dir))
        except RavelabError as error:
            raise LaunchError(str(error)) from error
        job_id = _job_number(result.stdout.strip().splitlines()[-1]) if result.stdout else ""
        if result.returncode != 0 or not is_ascii_integer(job_id):
            raise LaunchError(
                f"sbatch refused the job: {result.message} (`sbatch --parsable {script}`); "
                "check the SLURM settings (partition, account, time, GPUs, memory) against "
                "`sinfo`"
            )
        logger.info("submitted %s as SLURM job %s", run_dir, job_id)
        return RunHandle(self.name, job_id=job_id)

    # -- watching ------------------------------------------------------------------------------

    def query(self, job_id: str) -> JobInfo | None:
        """The job as ``squeue`` sees it; None once SLURM has forgotten it.

        Raises:
            SlurmError: ``squeue`` failed for another reason (controller down).
        """
        job = _job_number(job_id)
        result = self._run(
            ["squeue", "--noheader", "--states=all", f"--jobs={job}", f"--Format={SQUEUE_FORMAT}"]
        )
        if result.returncode != 0:
            if "Invalid job id" in result.stderr:
                return None
            raise SlurmError(f"`squeue --jobs={job}` failed: {result.message}")
        try:
            return parse_squeue(result.stdout, job)
        except SlurmOutputError as error:
            raise SlurmError(str(error)) from error

    def accounting(self, job_id: str, work_dir: Path | None = None) -> JobInfo | None:
        """The job's final record: the job-completion file (``sacct -c``), else the
        accounting database (``sacct``); None when neither knows it.

        With ``work_dir``, only a record with that working directory counts (job ids
        start again at 1 after a controller's state is cleared).
        """
        job = _job_number(job_id)
        accept = None if work_dir is None else (lambda recorded: _same_dir(recorded, work_dir))
        # -c: the job-completion file (jobcomp/filetxt; no slurmdbd needed); -X: slurmdbd.
        for source in ("-c", "-X"):
            argv = ["sacct", source, "--noheader", "--parsable2", f"--jobs={job}"]
            try:
                result = self._run([*argv, f"--format={SACCT_FIELDS}"])
            except SlurmError as error:
                logger.debug("%s", error)
                continue
            if result.returncode != 0:
                logger.debug("`%s` failed: %s", " ".join(result.argv), result.message)
                continue
            info = parse_sacct(result.stdout, job, accept)
            if info is not None and info.final:
                return info
        return None

    def state(self, run_dir: Path, handle: RunHandle) -> ExecutorState:
        """Queued, running, or ended (with an outcome when no ``exit.json`` says how)."""
        if not handle.job_id:
            return ExecutorState(alive=None, detail="no SLURM job id recorded for this run")
        job = _job_number(handle.job_id)
        watch = self._watch(job)
        try:
            info = self.query(job)
        except SlurmError as error:
            # Keep what was known (a queued run stays queued, with its reason) meanwhile.
            logger.warning("cannot follow SLURM job %s: %s", job, error)
            detail = watch.detail if watch.queued else str(error)
            return ExecutorState(alive=None, queued=watch.queued, detail=detail)
        if info is not None and not info.final:
            live = live_state(info)
            watch.queued, watch.detail = live.queued, live.detail
            watch.ended_without_exit_since = None
            return live
        if (run_dir / EXIT_FILE).exists():
            return ExecutorState(alive=False, detail=f"SLURM job {job} ended")
        if info is None:
            info = self.accounting(job, work_dir_for(Path(os.path.abspath(run_dir))))
        if info is None:
            return ExecutorState(
                alive=False,
                detail=f"SLURM job {job} is known neither to squeue nor to sacct",
            )
        if (run_dir / SUPERVISOR_FILE).exists() and self._exit_file_may_come(watch, info):
            # The supervisor ran, so it may have written an exit.json that this machine does
            # not show yet (shared filesystems cache directory listings): wait a little.
            return ExecutorState(
                alive=None, detail=f"SLURM job {job} {info.state}; waiting for exit.json"
            )
        return ExecutorState(
            alive=False,
            detail=f"SLURM job {job} {info.state}",
            outcome=final_outcome(info, output_name(job)),
        )

    def _exit_file_may_come(self, watch: _Watch, info: JobInfo) -> bool:
        """True within ``exit_file_grace_s`` of the job's end (SLURM's end time; else
        since this executor first saw the job ended)."""
        if info.end_time is not None:
            return time.time() - info.end_time < self.exit_file_grace_s
        now = time.monotonic()
        if watch.ended_without_exit_since is None:
            watch.ended_without_exit_since = now
        return now - watch.ended_without_exit_since < self.exit_file_grace_s

    # -- stopping ------------------------------------------------------------------------------

    def request_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        """Cancel a queued job; send SIGINT to a running one's supervisor, then cancel it
        if it is still there after the stop timeout (in a background thread).

        Returns:
            True when a queued or running job was asked to stop.
        """
        if not handle.job_id:
            return False
        job = _job_number(handle.job_id)
        try:
            info = self.query(job)
        except SlurmError as error:
            logger.warning("cannot tell whether SLURM job %s still runs: %s", job, error)
            info = JobInfo(job, "UNKNOWN")
        if info is None or info.final:
            return False
        if info.queued:
            return self._scancel(job)
        if not self._scancel(job, "--signal=INT", self.stop_scope):
            return self._scancel(job)
        timeout = self.stop_timeout_s
        if timeout is None:
            try:
                spec = LaunchSpec.read(run_dir)
                timeout = spec.int_grace_s + spec.term_grace_s + STOP_MARGIN_S
            except (OSError, FileNotFoundError, KeyError, ValueError):
                timeout = 30.0 + STOP_MARGIN_S
        thread = threading.Thread(
            target=self._cancel_after,
            args=(job, timeout),
            name=f"slurm-stop-{job}",
            daemon=True,
        )
        self._watch(job).stop_threads.append(thread)
        thread.start()
        return True

    def request_checkpoint_stop(self, run_dir: Path, handle: RunHandle) -> bool:
        """Ask a running job's supervisor to stop once RAVE has written its next
        checkpoint (SIGUSR1 to the batch step only: Lightning, which SLURM's environment
        makes requeue the job on SIGUSR1, must not get it).

        Returns:
            True when a running job was asked; False for a queued or ended one.
        """
        if not handle.job_id:
            return False
        job = _job_number(handle.job_id)
        try:
            info = self.query(job)
        except SlurmError as error:
            logger.warning("cannot tell whether SLURM job %s runs: %s", job, error)
            return False
        if info is None or info.final or info.queued:
            return False
        return self._scancel(job, "--signal=USR1", "--batch")

    def _scancel(self, job: str, *options: str) -> bool:
        argv = ["scancel", *options, job]
        try:
            result = self._run(argv)
        except SlurmError as error:
            logger.warning("%s", error)
            return False
        if result.returncode != 0:
            # Typically "Job/step already completing or completed": nothing left to stop.
            logger.info("`%s`: %s", " ".join(argv), result.message)
            return False
        return True

    def _cancel_after(self, job: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0.0)))
            try:
                info = self.query(job)
            except SlurmError:
                continue
            if info is None or info.final:
                return
        logger.warning("SLURM job %s still runs %.0f s after SIGINT: scancel", job, timeout)
        self._scancel(job)

    def wait_stopped(self, timeout: float | None = None) -> None:
        """Wait for the background ``scancel`` threads (for tests and clean exits)."""
        with self._lock:
            threads = [t for w in self._watches.values() for t in w.stop_threads]
        for thread in threads:
            thread.join(timeout)


def _same_dir(recorded: str, work_dir: Path) -> bool:
    recorded = recorded.strip()
    if not recorded:
        return False
    return recorded == str(work_dir) or os.path.realpath(recorded) == os.path.realpath(work_dir)


def _can_write(folder: Path) -> bool:
    """True when ``folder`` is writable, or can be created under its nearest parent."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


@dataclass(frozen=True)
class ClusterCheck:
    """What ``ravelab doctor`` reports about SLURM."""

    sbatch: str | None
    version: str | None
    controller: str | None
    partitions: list[str]
    settings: dict[str, Any]
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True when jobs can be submitted with the stored settings."""
        return not self.problems


def check_cluster(settings: SlurmSettings | None = None, timeout: float = 10.0) -> ClusterCheck:
    """Check that SLURM answers (``scontrol ping``, ``sinfo``) and fits the settings."""
    settings = settings or SlurmSettings()
    problems: list[str] = []
    sbatch = shutil.which("sbatch")
    version = controller = None
    partitions: list[str] = []
    if sbatch is None:
        problems.append(
            "sbatch not found: SLURM runs need the SLURM client commands on PATH (run ravelab "
            "on the cluster's login node)"
        )
    else:
        try:
            result = run_command(["sinfo", "--version"], timeout)
            version = result.stdout.strip() or None
            result = run_command(["scontrol", "ping"], timeout)
            controller = result.stdout.strip() or result.message
            if result.returncode != 0 or "is UP" not in result.stdout:
                problems.append(f"the SLURM controller does not answer: {controller}")
            result = run_command(["sinfo", "--noheader", "--format=%P|%a|%l|%D|%T"], timeout)
            if result.returncode != 0:
                problems.append(f"`sinfo` failed: {result.message}")
            partitions = [line for line in result.stdout.splitlines() if line.strip()]
        except SlurmError as error:
            problems.append(str(error))
        names = {line.split("|")[0].rstrip("*") for line in partitions}
        wanted = settings.partition.split(",") if settings.partition else []
        for name in wanted:
            if partitions and name not in names:
                known = ", ".join(sorted(names))
                problems.append(f"partition {name!r} (slurm.partition) is not one of: {known}")
    if settings.runs_dir and not _can_write(Path(settings.runs_dir)):
        problems.append(
            f"the SLURM runs folder {settings.runs_dir} (slurm.runs_dir) cannot be written "
            "(or created) here"
        )
    return ClusterCheck(sbatch, version, controller, partitions, settings.as_dict(), problems)


__all__ = [
    "ClusterCheck",
    "CommandResult",
    "SlurmError",
    "SlurmExecutor",
    "check_cluster",
    "run_command",
]
