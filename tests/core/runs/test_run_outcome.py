"""How a run or job ended, in words: what ``exit.json`` records and what the trainer
printed decide completed, stopped or failed, and the reason a user reads."""

from __future__ import annotations

from ravelab.core.rave.output_parser import OutputParser
from ravelab.core.runs.run_files import ExitRecord
from ravelab.core.runs.run_outcome import Outcome, decide_outcome
from ravelab.db import RunStatus


def _ended(code: int | None, signal: str | None = None, *, stop: bool = False) -> ExitRecord:
    return ExitRecord(code, signal, stop, 1700000000.0)


def _printed(*lines: str) -> OutputParser:
    parser = OutputParser()
    for line in lines:
        parser.parse(line, "stderr")
    return parser


def test_a_clean_exit_completes() -> None:
    outcome = decide_outcome(_ended(0), OutputParser(), stop_requested=False)
    assert outcome == Outcome(RunStatus.COMPLETED, None, 0)
    assert outcome.succeeded and str(outcome) == "completed"


def test_a_stop_is_never_a_completion() -> None:
    for record, asked in ((_ended(0), True), (_ended(0, stop=True), False), (None, True)):
        outcome = decide_outcome(record, OutputParser(), stop_requested=asked)
        assert (outcome.status, outcome.reason) == (RunStatus.STOPPED, "stopped by the user")
        assert not outcome.succeeded


def test_without_exit_json_the_run_is_lost_with_its_last_error() -> None:
    parser = _printed(
        "Traceback (most recent call last):",
        '  File "train.py", line 1, in <module>',
        "RuntimeError: CUDA error: device-side assert triggered",
    )
    outcome = decide_outcome(None, parser, stop_requested=False)
    assert outcome.status == RunStatus.FAILED and outcome.exit_code is None
    assert outcome.reason is not None and outcome.reason.startswith("process lost: ")
    assert outcome.reason.endswith(
        "; last error: RuntimeError: CUDA error: device-side assert triggered"
    )


def test_a_failure_says_what_the_trainer_printed_else_the_code_or_signal() -> None:
    parser = _printed(
        "Traceback (most recent call last):",
        "ValueError: bad value",
    )
    assert decide_outcome(_ended(1), parser, False) == Outcome(
        RunStatus.FAILED, "ValueError: bad value", 1
    )
    assert decide_outcome(_ended(2), OutputParser(), False).reason == "rave exited with code 2"
    killed = decide_outcome(_ended(-9, "SIGKILL"), OutputParser(), False)
    assert (killed.status, killed.reason) == (RunStatus.FAILED, "killed by SIGKILL")


def test_the_supervisors_error_is_the_reason() -> None:
    record = ExitRecord(127, None, False, 1.0, "could not start '/x/rave': No such file")
    outcome = decide_outcome(record, OutputParser(), False)
    assert outcome == Outcome(RunStatus.FAILED, "could not start '/x/rave': No such file", 127)


def test_an_exit_0_after_an_interrupt_or_a_fatal_line_is_not_a_completion() -> None:
    parser = OutputParser()
    parser.interrupted = True
    assert decide_outcome(_ended(0), parser, False) == Outcome(
        RunStatus.STOPPED, "interrupted (KeyboardInterrupt)", 0
    )
    parser = OutputParser()
    parser.fatal_despite_success, parser.reason = True, "no GPU backend on this Mac"
    assert decide_outcome(_ended(0), parser, False) == Outcome(
        RunStatus.FAILED, "no GPU backend on this Mac", 0
    )
