"""A follower child's messages applied to the parent's ``TrainingProcess``: each part of a
message becomes the state and the signals the child's process had, and the run's end is
taken once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ravelab.core.runs.follow_relay import apply_relayed
from ravelab.core.runs.run_outcome import Outcome
from ravelab.core.runs.training_process import TrainingProcess
from ravelab.db import Database, Health, RunStatus
from ravelab.db import experiments as rows


def _process(db: Database, tmp_path: Path) -> tuple[TrainingProcess, dict[str, list[Any]]]:
    experiment = rows.insert_experiment(db, name="run", project_id=1, dataset_id=None, config={})
    process = TrainingProcess({}, db=db, experiment_id=experiment, run_dir=tmp_path)
    seen: dict[str, list[Any]] = {}
    for name in (
        "output",
        "output_line",
        "status_update",
        "health_update",
        "metrics_update",
        "step_update",
        "progress_update",
        "finished",
    ):
        seen[name] = []
        getattr(process, name).connect(lambda *args, n=name: seen[n].append(args))
    return process, seen


def test_each_part_of_a_message_is_state_and_signals(db: Database, tmp_path: Path) -> None:
    process, seen = _process(db, tmp_path)
    apply_relayed(
        process,
        {
            "lines": [["stdout", "Epoch 1", True], ["stderr", "warn", False]],
            "status": ["running", "training"],
            "health": ["stalled", "no new step for 30 min"],
            "metrics": {"loss": 0.5},
            "step": [120, 1000],
            "progress": {"epoch": 1, "batch": 3},
        },
    )
    assert seen["output"] == [("Epoch 1",), ("warn",)]
    assert seen["output_line"] == [("stdout", "Epoch 1", True), ("stderr", "warn", False)]
    assert seen["status_update"] == [("running", "training")]
    assert seen["health_update"] == [(Health.STALLED, "no new step for 30 min")]
    assert seen["metrics_update"] == [({"loss": 0.5},)]
    assert seen["step_update"] == [(120, 1000)]
    assert seen["progress_update"] == [({"epoch": 1, "batch": 3},)]
    assert process.health is Health.STALLED and process.current_metrics["loss"] == 0.5
    assert process.parser.step == 120 and seen["finished"] == [] and not process.is_done


def test_an_empty_message_changes_nothing(db: Database, tmp_path: Path) -> None:
    process, seen = _process(db, tmp_path)
    apply_relayed(process, {})
    assert all(calls == [] for calls in seen.values()) and process.parser.step == 0


def test_the_end_is_taken_once(db: Database, tmp_path: Path) -> None:
    process, seen = _process(db, tmp_path)
    end = {"ok": False, "status": "failed", "reason": "CUDA out of memory", "exit_code": 1}
    apply_relayed(process, {"finished": {**end, "message": "CUDA out of memory"}})
    apply_relayed(process, {"finished": {"ok": True, "message": "late"}})
    assert seen["finished"] == [(False, "CUDA out of memory")]
    assert process.is_done
    assert process.outcome == Outcome(RunStatus.FAILED, "CUDA out of memory", 1)


def test_an_end_without_a_known_status_follows_its_success(db: Database, tmp_path: Path) -> None:
    process, _ = _process(db, tmp_path)
    apply_relayed(process, {"finished": {"ok": True, "status": "exploded"}})
    assert process.outcome == Outcome(RunStatus.COMPLETED, None, None)
