"""SLURM job states and what they mean for a ravelab run.

Pure functions over the text that ``squeue`` and ``sacct -c`` print: parsing one job's line,
and mapping a state (with SLURM's reason and exit code) to an ``ExecutorState`` while the
job lives, or to a final ``(status, reason)`` for a job that ended without ``exit.json``
(cancelled, timed out, out of memory, node failure).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ravelab.core.errors import RavelabError
from ravelab.core.numbers import is_ascii_integer
from ravelab.core.runs.executor import ExecutorState
from ravelab.db.vocabulary import RunStatus

#: ``squeue --Format`` fields (each ends with ``|``): id, state, exit status, end, reason.
SQUEUE_FORMAT = "JobID:|,State:|,exit_code:|,EndTime:|,Reason:|"
#: ``sacct --format`` fields (with ``--parsable2``: separated by ``|``).
SACCT_FIELDS = "JobID,State,ExitCode,End,WorkDir"

#: States of a job waiting for resources or for a condition: ravelab shows ``queued``.
QUEUED_STATES = frozenset(
    {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD", "SUSPENDED"}
)
#: States of a job that runs (or is being set up or torn down).
RUNNING_STATES = frozenset(
    {
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "POWER_UP_NODE",
        "UPDATE_DB",
    }
)
#: States of a job that has ended.
FINAL_STATES = frozenset(
    {
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
        "SPECIAL_EXIT",
    }
)

#: What some PENDING reasons mean, for the experiment's reason line.
_PENDING_HINTS = {
    "Resources": "waiting for free resources",
    "Priority": "other jobs go first",
    "PartitionConfig": "the job asks for more than the partition offers (CPUs, memory, "
    "GPUs or time): lower it or choose another partition",
    "ReqNodeNotAvail": "the nodes it needs are not available",
    "BeginTime": "waiting for its start time",
    "Dependency": "waiting for another job",
    "JobHeldUser": "held: `scontrol release {job}` lets it run",
    "JobHeldAdmin": "held by an administrator",
    "PartitionDown": "the partition is down",
    "PartitionInactive": "the partition is inactive",
}


class SlurmOutputError(RavelabError):
    """A SLURM command printed something ravelab cannot read."""


@dataclass(frozen=True)
class JobInfo:
    """One job as SLURM reports it.

    Attributes:
        job_id: the job id (``123``).
        state: the base state (``RUNNING``, ``CANCELLED``: ``sacct``'s "CANCELLED by 0"
            and ``squeue``'s flags such as ``+`` are dropped).
        reason: SLURM's reason (``Resources``, ``TimeLimit``), None for ``None``.
        exit_code: the exit code of the batch script, when known.
        signal: the signal that killed the batch script, when known (0 for none).
        end_time: when a job that has ended ended (seconds since the epoch), if known.
    """

    job_id: str
    state: str
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    end_time: float | None = None

    @property
    def final(self) -> bool:
        """True once the job has ended."""
        return self.state in FINAL_STATES

    @property
    def queued(self) -> bool:
        """True while the job waits (PENDING and its kin)."""
        return self.state in QUEUED_STATES


def _base_state(text: str) -> str:
    words = text.strip().split()
    return words[0].rstrip("+").upper() if words else ""


def _reason(text: str) -> str | None:
    text = text.strip()
    return None if text in ("", "None", "(null)") else text


def _timestamp(text: str) -> float | None:
    """SLURM's local ``2026-11-26T07:17:53`` as seconds since the epoch (None if absent)."""
    try:
        return time.mktime(time.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S"))
    except (ValueError, OverflowError):
        return None  # N/A, NONE, Unknown


def parse_squeue(output: str, job_id: str) -> JobInfo | None:
    """The job's line of ``squeue -h -t all -j ID -O SQUEUE_FORMAT`` (None if absent).

    ``exit_code`` there is the raw wait status (``768`` = exit 3, ``9`` = SIGKILL).

    Raises:
        SlurmOutputError: output that is not in the requested format.
    """
    for line in output.splitlines():
        fields = line.split("|")
        if len(fields) < 5 or fields[0].strip() != job_id:
            continue
        status = fields[2].strip()
        code = signal = None
        if is_ascii_integer(status):
            raw = int(status)
            code, signal = (raw >> 8) & 0xFF, raw & 0x7F
        state = _base_state(fields[1])
        end = _timestamp(fields[3]) if state in FINAL_STATES else None
        return JobInfo(job_id, state, _reason(fields[4]), code, signal, end)
    if output.strip() and not any("|" in line for line in output.splitlines()):
        raise SlurmOutputError(f"unexpected squeue output: {output.strip()[:200]!r}")
    return None


def parse_sacct(
    output: str, job_id: str, work_dir: Callable[[str], bool] | None = None
) -> JobInfo | None:
    """The job's last record in ``sacct -n -P -j ID -o SACCT_FIELDS`` (None if absent).

    Args:
        output: what ``sacct`` printed.
        job_id: the job (its steps, ``123.batch``, are skipped).
        work_dir: when given, only records whose working directory it accepts count.
            Job ids start again at 1 after a controller's state is cleared, and the
            job-completion file keeps the older records with the same id; the last
            record that matches wins.
    """
    found = None
    for line in output.splitlines():
        fields = line.split("|")
        if len(fields) < 3 or fields[0].strip() != job_id:
            continue
        if work_dir is not None and not (len(fields) > 4 and work_dir(fields[4].strip())):
            continue
        code = signal = None
        left, _, right = fields[2].strip().partition(":")
        if is_ascii_integer(left) and is_ascii_integer(right):
            code, signal = int(left), int(right)
        end = _timestamp(fields[3]) if len(fields) > 3 else None
        found = JobInfo(job_id, _base_state(fields[1]), None, code, signal, end)
    return found


def pending_detail(info: JobInfo) -> str:
    """``PENDING (Resources): waiting for free resources``, for the experiment's reason."""
    text = f"{info.state} ({info.reason})" if info.reason else info.state
    hint = _PENDING_HINTS.get(info.reason or "")
    return f"{text}: {hint.format(job=info.job_id)}" if hint else text


def live_state(info: JobInfo) -> ExecutorState:
    """What a job that has not ended means for its run."""
    if info.queued:
        return ExecutorState(alive=True, queued=True, detail=pending_detail(info))
    return ExecutorState(alive=True, detail=f"SLURM job {info.job_id} {info.state}")


def _exit_text(info: JobInfo) -> str:
    if info.signal:
        return f"killed by signal {info.signal}"
    if info.exit_code:
        return f"exit code {info.exit_code}"
    return ""


def final_outcome(info: JobInfo, log_name: str | None = None) -> tuple[RunStatus, str]:
    """``(status, reason)`` for a job that ended without the supervisor's ``exit.json``.

    Args:
        info: the job's final state.
        log_name: the job's own log in the run folder (``slurm-123.out``), named in reasons
            that need reading it.
    """
    job = f"SLURM job {info.job_id}"
    see = f"; see {log_name} in the run folder" if log_name else ""
    exit_text = _exit_text(info)
    detail = f", {exit_text}" if exit_text else ""
    state = info.state
    if state == "CANCELLED":
        return RunStatus.STOPPED, f"cancelled in SLURM ({job} CANCELLED{detail})"
    if state == "TIMEOUT":
        return (
            RunStatus.FAILED,
            f"{job} reached its time limit (TIMEOUT): raise the time limit (--time) and "
            "resume from the last checkpoint",
        )
    if state == "OUT_OF_MEMORY":
        return (
            RunStatus.FAILED,
            f"{job} ran out of memory (OUT_OF_MEMORY): ask for more (--mem) or lower the "
            "batch size",
        )
    if state == "NODE_FAIL":
        return (
            RunStatus.FAILED,
            f"the node of {job} failed (NODE_FAIL): resume from the last checkpoint",
        )
    if state == "PREEMPTED":
        return RunStatus.FAILED, f"{job} was preempted by another job (PREEMPTED): resume it"
    if state == "BOOT_FAIL":
        return RunStatus.FAILED, f"the node of {job} failed to boot (BOOT_FAIL): submit it again"
    if state == "DEADLINE":
        return RunStatus.FAILED, f"{job} missed its deadline (DEADLINE)"
    if state == "COMPLETED":
        return (
            RunStatus.FAILED,
            f"{job} COMPLETED but the supervisor recorded no exit (exit.json missing){see}",
        )
    reason = f" ({info.reason})" if info.reason and info.reason != "NonZeroExitCode" else ""
    return RunStatus.FAILED, f"{job} {state}{reason}{detail}{see}"


__all__ = [
    "FINAL_STATES",
    "QUEUED_STATES",
    "RUNNING_STATES",
    "SACCT_FIELDS",
    "SQUEUE_FORMAT",
    "JobInfo",
    "SlurmOutputError",
    "final_outcome",
    "live_state",
    "parse_sacct",
    "parse_squeue",
    "pending_detail",
]
