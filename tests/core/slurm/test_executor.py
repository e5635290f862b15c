"""SlurmExecutor over canned SLURM command output (no SLURM needed;
tests/core/slurm/test_slurm_integration.py runs the real thing): submitting, following
a job through squeue and sacct, and stopping it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from ravelab.core.errors import LaunchError
from ravelab.core.runs.executor import ExecutorState, RunHandle
from ravelab.core.runs.run_files import EXIT_FILE, SUPERVISOR_FILE, LaunchSpec
from ravelab.core.slurm.executor import CommandResult, SlurmError, SlurmExecutor, run_command
from ravelab.core.slurm.settings import SlurmSettings

Responder = Callable[[list[str]], CommandResult | Exception]


class CannedExecutor(SlurmExecutor):
    """A SlurmExecutor whose SLURM commands answer from a function."""

    def __init__(self, respond: Responder, **kwargs: object) -> None:
        super().__init__(SlurmSettings(), **kwargs)  # type: ignore[arg-type]
        self.respond = respond
        self.calls: list[list[str]] = []

    def _run(self, argv: Sequence[str], cwd: Path | None = None) -> CommandResult:
        self.calls.append(list(argv))
        answer = self.respond(list(argv))
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(stdout: str = "", argv: Sequence[str] = ()) -> CommandResult:
    return CommandResult(tuple(argv), 0, stdout, "")


def err(stderr: str, argv: Sequence[str] = ()) -> CommandResult:
    return CommandResult(tuple(argv), 1, "", stderr)


FORGOTTEN = err("slurm_load_jobs error: Invalid job id specified")


HANDLE = RunHandle("slurm", job_id="42")


def test_launch_submits_the_script_and_keeps_the_job_id(tmp_path: Path) -> None:
    executor = CannedExecutor(lambda argv: ok("42;cluster\n"))
    handle = executor.launch(
        tmp_path, LaunchSpec(argv=["rave", "train"], cwd=str(tmp_path)), {"cpus": 2}
    )
    assert handle == RunHandle("slurm", job_id="42")
    assert executor.calls == [["sbatch", "--parsable", str(tmp_path / "slurm-job.sh")]]
    assert "#SBATCH --cpus-per-task=2" in (tmp_path / "slurm-job.sh").read_text()
    assert LaunchSpec.read(tmp_path).argv == ["rave", "train"]


def test_launch_failures_are_launch_errors_naming_the_command(tmp_path: Path) -> None:
    spec = LaunchSpec(argv=["rave"], cwd=str(tmp_path))
    refused = CannedExecutor(lambda argv: err("sbatch: error: invalid partition specified: nope"))
    with pytest.raises(LaunchError, match=r"sbatch refused the job: .*invalid partition.*sbatch"):
        refused.launch(tmp_path, spec)
    hung = CannedExecutor(lambda argv: SlurmError("`sbatch` did not answer in 30 s"))
    with pytest.raises(LaunchError, match="did not answer"):
        hung.launch(tmp_path, spec)
    with pytest.raises(LaunchError, match="unknown executor option"):
        refused.launch(tmp_path, spec, {"nodes": 2})


def test_a_missing_command_is_a_clear_error() -> None:
    with pytest.raises(SlurmError, match="not found: SLURM commands must be on PATH"):
        run_command(["sbatch-that-is-not-there"], 5)


def test_state_follows_squeue_while_the_job_is_known(tmp_path: Path) -> None:
    answers = iter(["42|PENDING|0|N/A|Priority|", "42|RUNNING|0|NONE|None|"])
    executor = CannedExecutor(lambda argv: ok(next(answers)))
    queued = executor.state(tmp_path, HANDLE)
    assert queued.alive and queued.queued
    assert queued.detail == "PENDING (Priority): other jobs go first"
    assert executor.state(tmp_path, HANDLE) == ExecutorState(
        alive=True, detail="SLURM job 42 RUNNING"
    )
    squeue = executor.calls[0]
    assert squeue[:4] == ["squeue", "--noheader", "--states=all", "--jobs=42"]


def test_an_unreachable_controller_is_unknown_and_keeps_the_queue(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    answers: list[CommandResult | Exception] = [
        ok("42|PENDING|0|N/A|Resources|"),
        err("slurm_load_jobs error: Unable to contact slurm controller (connect failure)"),
        SlurmError("`squeue` did not answer in 30 s"),
    ]
    executor = CannedExecutor(lambda argv: answers.pop(0))
    assert executor.state(tmp_path, HANDLE).queued
    down = executor.state(tmp_path, HANDLE)
    assert down == ExecutorState(
        alive=None, queued=True, detail="PENDING (Resources): waiting for free resources"
    )
    assert executor.state(tmp_path, HANDLE).alive is None
    assert "Unable to contact slurm controller" in caplog.text


def test_a_forgotten_job_with_exit_json_leaves_the_outcome_to_the_core(tmp_path: Path) -> None:
    (tmp_path / EXIT_FILE).write_text("{}")
    executor = CannedExecutor(lambda argv: FORGOTTEN)
    assert executor.state(tmp_path, HANDLE) == ExecutorState(
        alive=False, detail="SLURM job 42 ended"
    )


def test_a_forgotten_job_is_settled_from_the_completion_record(tmp_path: Path) -> None:
    def respond(argv: list[str]) -> CommandResult:
        if argv[0] == "squeue":
            return FORGOTTEN
        assert argv[:2] == ["sacct", "-c"]
        return ok(f"42|TIMEOUT|0:0|2020-01-01T00:00:00|{tmp_path}\n")

    executor = CannedExecutor(respond)
    state = executor.state(tmp_path, HANDLE)
    assert state.alive is False
    assert state.outcome is not None and state.outcome[0] == "failed"
    assert "TIMEOUT" in state.outcome[1]


def test_without_a_completion_file_plain_sacct_is_asked(tmp_path: Path) -> None:
    def respond(argv: list[str]) -> CommandResult:
        if argv[0] == "squeue":
            return FORGOTTEN
        if argv[1] == "-c":
            return err("sacct: error: jobcomp/none does not support this")
        return ok(f"42|OUT_OF_MEMORY|0:125|2020-01-01T00:00:00|{tmp_path}\n")

    state = CannedExecutor(respond).state(tmp_path, HANDLE)
    assert state.outcome is not None and "OUT_OF_MEMORY" in state.outcome[1]


def test_a_job_nobody_knows_has_ended_without_an_outcome(tmp_path: Path) -> None:
    executor = CannedExecutor(lambda argv: FORGOTTEN if argv[0] == "squeue" else ok(""))
    state = executor.state(tmp_path, HANDLE)
    assert state.alive is False and state.outcome is None
    assert "neither to squeue nor to sacct" in (state.detail or "")


def test_a_record_of_another_run_with_the_same_id_is_ignored(tmp_path: Path) -> None:
    executor = CannedExecutor(
        lambda argv: FORGOTTEN if argv[0] == "squeue" else ok("42|COMPLETED|0:0|N/A|/else\n")
    )
    assert executor.state(tmp_path, HANDLE).outcome is None


def test_exit_json_gets_a_grace_period_after_the_job_ended(tmp_path: Path) -> None:
    (tmp_path / SUPERVISOR_FILE).write_text("{}")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime())
    executor = CannedExecutor(
        lambda argv: ok(f"42|CANCELLED|15|{stamp}|None|"), exit_file_grace_s=60
    )
    waiting = executor.state(tmp_path, HANDLE)
    assert waiting.alive is None and "waiting for exit.json" in (waiting.detail or "")
    executor.exit_file_grace_s = 0
    ended = executor.state(tmp_path, HANDLE)
    assert ended.alive is False and ended.outcome == (
        "stopped",
        "cancelled in SLURM (SLURM job 42 CANCELLED, killed by signal 15)",
    )


def test_stopping_a_queued_job_cancels_it(tmp_path: Path) -> None:
    executor = CannedExecutor(
        lambda argv: ok("42|PENDING|0|N/A|Resources|") if argv[0] == "squeue" else ok()
    )
    assert executor.request_stop(tmp_path, HANDLE)
    assert executor.calls[-1] == ["scancel", "42"]


def test_stopping_a_running_job_signals_then_cancels_after_the_timeout(tmp_path: Path) -> None:
    executor = CannedExecutor(
        lambda argv: ok("42|RUNNING|0|NONE|None|") if argv[0] == "squeue" else ok(),
        stop_timeout_s=0.3,
    )
    assert executor.request_stop(tmp_path, HANDLE)
    assert ["scancel", "--signal=INT", "--batch", "42"] in executor.calls
    executor.wait_stopped(10)
    assert executor.calls[-1] == ["scancel", "42"]


def test_a_job_that_ends_after_the_signal_is_not_cancelled(tmp_path: Path) -> None:
    answers = iter(["42|RUNNING|0|NONE|None|", "42|COMPLETED|0|N/A|None|"])
    executor = CannedExecutor(
        lambda argv: ok(next(answers)) if argv[0] == "squeue" else ok(), stop_timeout_s=5
    )
    assert executor.request_stop(tmp_path, HANDLE)
    executor.wait_stopped(10)
    assert [call for call in executor.calls if call[0] == "scancel"] == [
        ["scancel", "--signal=INT", "--batch", "42"]
    ]


def test_an_ended_job_is_not_stopped(tmp_path: Path) -> None:
    executor = CannedExecutor(lambda argv: FORGOTTEN)
    assert not executor.request_stop(tmp_path, HANDLE)
    assert not executor.request_stop(tmp_path, RunHandle("slurm"))
    assert [call[0] for call in executor.calls] == ["squeue"]


def test_a_checkpoint_stop_signals_only_the_supervisor_of_a_running_job(tmp_path: Path) -> None:
    states = iter(["42|RUNNING|0|NONE|None|", "42|PENDING|0|N/A|Priority|"])
    executor = CannedExecutor(
        lambda argv: ok(next(states)) if argv[0] == "squeue" else ok(),
    )
    assert executor.request_checkpoint_stop(tmp_path, HANDLE)
    assert executor.calls[-1] == ["scancel", "--signal=USR1", "--batch", "42"]
    assert not executor.request_checkpoint_stop(tmp_path, HANDLE)  # queued: nothing to save
    assert executor.calls[-1][0] == "squeue"
