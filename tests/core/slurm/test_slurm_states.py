"""SLURM states -> ravelab states: squeue and sacct output parsed, and each state mapped to
a status and a reason (no SLURM needed)."""

from __future__ import annotations

import time

import pytest

from ravelab.core.runs.executor import ExecutorState
from ravelab.core.slurm.states import (
    JobInfo,
    SlurmOutputError,
    final_outcome,
    live_state,
    parse_sacct,
    parse_squeue,
)

# -- parsing -----------------------------------------------------------------------------------


def test_squeue_lines_are_parsed() -> None:
    out = "12|PENDING|0|N/A|Resources|\n13|FAILED|768|2026-11-26T07:17:53|NonZeroExitCode|\n"
    assert parse_squeue(out, "12") == JobInfo("12", "PENDING", "Resources", 0, 0, None)
    failed = parse_squeue(out, "13")
    assert failed is not None and failed.final and failed.exit_code == 3 and failed.signal == 0
    assert failed.end_time == time.mktime((2026, 11, 26, 7, 17, 53, 0, 0, -1))
    killed = parse_squeue("14|FAILED|9|N/A|JobLaunchFailure|", "14")
    assert killed is not None and (killed.exit_code, killed.signal) == (0, 9)
    running = parse_squeue("15|RUNNING|0|NONE|None|", "15")
    assert running == JobInfo("15", "RUNNING", None, 0, 0, None)
    assert parse_squeue("", "12") is None
    assert parse_squeue(out, "1") is None  # not a prefix match
    with pytest.raises(SlurmOutputError):
        parse_squeue("CLUSTER: far away", "12")


def test_sacct_records_are_parsed_last_matching_wins() -> None:
    out = (
        "7|COMPLETED|0:0|2026-01-01T00:00:00|/old/run\n"
        "7.batch|CANCELLED|0:15|2026-01-01T00:00:00|/old/run\n"
        "7|CANCELLED by 0|0:0|2026-11-26T07:20:35|/runs/0001-a\n"
    )
    latest = parse_sacct(out, "7")
    assert latest is not None and latest.state == "CANCELLED" and latest.final
    older = parse_sacct(out, "7", lambda recorded: recorded == "/old/run")
    assert older is not None and older.state == "COMPLETED"
    assert parse_sacct(out, "7", lambda recorded: False) is None
    assert parse_sacct("8|FAILED|0:9|Unknown|/x", "8") == JobInfo("8", "FAILED", None, 0, 9, None)
    assert parse_sacct("", "8") is None


# -- mapping -----------------------------------------------------------------------------------


def test_a_pending_job_is_queued_with_slurms_reason() -> None:
    state = live_state(JobInfo("5", "PENDING", "Resources"))
    assert state == ExecutorState(
        alive=True, queued=True, detail="PENDING (Resources): waiting for free resources"
    )
    assert live_state(JobInfo("5", "PENDING", "PartitionConfig")).detail.startswith(  # type: ignore[union-attr]
        "PENDING (PartitionConfig): the job asks for more than the partition offers"
    )
    assert live_state(JobInfo("5", "PENDING", "AssocGrpGRES")).detail == "PENDING (AssocGrpGRES)"
    assert live_state(JobInfo("5", "PENDING")).detail == "PENDING"
    held = live_state(JobInfo("5", "PENDING", "JobHeldUser")).detail
    assert held == "PENDING (JobHeldUser): held: `scontrol release 5` lets it run"


@pytest.mark.parametrize("state", ["RUNNING", "CONFIGURING", "COMPLETING"])
def test_running_states_are_alive(state: str) -> None:
    assert live_state(JobInfo("5", state)) == ExecutorState(
        alive=True, detail=f"SLURM job 5 {state}"
    )


@pytest.mark.parametrize(
    ("info", "status", "words"),
    [
        (JobInfo("5", "CANCELLED", None, 0, 0), "stopped", "cancelled in SLURM (SLURM job 5"),
        (JobInfo("5", "TIMEOUT", "TimeLimit"), "failed", "time limit (TIMEOUT)"),
        (JobInfo("5", "NODE_FAIL"), "failed", "node of SLURM job 5 failed (NODE_FAIL)"),
        (JobInfo("5", "OUT_OF_MEMORY"), "failed", "ran out of memory (OUT_OF_MEMORY)"),
        (JobInfo("5", "FAILED", "NonZeroExitCode", 1, 0), "failed", "job 5 FAILED, exit code 1"),
        (JobInfo("5", "FAILED", "JobLaunchFailure", 0, 9), "failed", "killed by signal 9"),
        (JobInfo("5", "PREEMPTED"), "failed", "preempted"),
        (JobInfo("5", "BOOT_FAIL"), "failed", "BOOT_FAIL"),
        (JobInfo("5", "COMPLETED", None, 0, 0), "failed", "exit.json missing"),
    ],
)
def test_final_states_map_to_a_status_and_a_reason(info: JobInfo, status: str, words: str) -> None:
    got_status, reason = final_outcome(info, "slurm-5.out")
    assert got_status == status
    assert words in reason


def test_failures_point_at_the_jobs_log() -> None:
    _, reason = final_outcome(JobInfo("5", "FAILED", "NonZeroExitCode", 1, 0), "slurm-5.out")
    assert reason.endswith("see slurm-5.out in the run folder")
    assert "JobLaunchFailure" in final_outcome(JobInfo("5", "FAILED", "JobLaunchFailure"))[1]
