"""The parent's side of a follower child's messages: each JSON message the child
(``ravelab.core.runs.follow_child``) writes is turned back into the state and the signals of
the parent's ``TrainingProcess``, as if the parent had read the run itself.

A message holds any of ``lines`` ((stream, text, transient) triples), ``status``,
``health``, ``metrics``, ``step`` ((step, max steps)), ``progress`` and ``finished`` (the
run's end, taken once: a second end, or an end after the parent settled, changes nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ravelab.core.runs.run_outcome import Outcome
from ravelab.db.vocabulary import Health, RunStatus

if TYPE_CHECKING:
    from ravelab.core.runs.training_process import TrainingProcess


def apply_relayed(process: TrainingProcess, message: Mapping[str, Any]) -> None:
    """Update ``process`` with one message and emit the signals the child emitted."""
    for stream, text, transient in message.get("lines") or ():
        process.output.emit(text)
        process.output_line.emit(stream, text, transient)
    status = message.get("status")
    if status:
        process.status_update.emit(str(status[0]), str(status[1]))
    health = message.get("health")
    if health:
        process.health = Health.parse(health[0])
        process.health_update.emit(process.health, str(health[1]))
    metrics = message.get("metrics")
    if metrics:
        process.current_metrics.update(metrics)
        process.metrics_update.emit(dict(metrics))
    step = message.get("step")
    if step:
        process.parser.step = int(step[0])
        process.step_update.emit(int(step[0]), int(step[1]))
    progress = message.get("progress")
    if progress:
        process.progress_update.emit(dict(progress))
    finished = message.get("finished")
    if finished:
        ok = bool(finished["ok"])
        status = RunStatus.parse(finished.get("status"))
        outcome = Outcome(
            status or (RunStatus.COMPLETED if ok else RunStatus.FAILED),
            finished.get("reason"),
            finished.get("exit_code"),
        )
        process.finish_relayed(outcome, ok, str(finished.get("message") or ""))
