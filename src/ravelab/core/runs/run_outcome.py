"""How a run (or a job) ended, for users: ``Outcome`` and ``decide_outcome``.

The decision reads what the supervisor recorded (``exit.json``: the exit code, a signal,
an error, whether a stop was asked) and what the trainer printed (the output parser's
failure lines), and says ``completed``, ``stopped`` or ``failed`` with a reason. A run
that left no ``exit.json`` is ``failed`` (process lost) unless a stop was asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from ravelab.core.rave.output_parser import OutputParser
from ravelab.core.runs.run_files import ExitRecord
from ravelab.db.vocabulary import RunStatus


@dataclass(frozen=True)
class Outcome:
    """How a run ended, for users."""

    status: RunStatus
    reason: str | None
    exit_code: int | None

    @property
    def succeeded(self) -> bool:
        return self.status == RunStatus.COMPLETED

    def __str__(self) -> str:
        return self.reason or self.status


def decide_outcome(
    exit_record: ExitRecord | None, parser: OutputParser, stop_requested: bool
) -> Outcome:
    """Turn how the trainer ended (and what it printed) into a status and a reason."""
    if exit_record is None:
        if stop_requested:
            return Outcome(RunStatus.STOPPED, "stopped by the user", None)
        detail = f"; last error: {parser.reason}" if parser.reason else ""
        return Outcome(
            RunStatus.FAILED,
            "process lost: the run ended without recording its exit (supervisor killed or "
            f"machine restarted){detail}",
            None,
        )
    code = exit_record.exit_code
    if stop_requested or exit_record.stop_requested:
        # RAVE exits 0 after SIGINT; a stop is never a completion.
        return Outcome(RunStatus.STOPPED, "stopped by the user", code)
    if exit_record.error:
        return Outcome(RunStatus.FAILED, exit_record.error, code)
    if code == 0:
        if parser.fatal_despite_success:
            return Outcome(RunStatus.FAILED, parser.reason, code)
        if parser.interrupted:
            return Outcome(RunStatus.STOPPED, "interrupted (KeyboardInterrupt)", code)
        return Outcome(RunStatus.COMPLETED, None, code)
    if exit_record.signal:
        reason = parser.reason or f"killed by {exit_record.signal}"
        return Outcome(RunStatus.FAILED, reason, code)
    return Outcome(RunStatus.FAILED, parser.reason or f"rave exited with code {code}", code)
