"""TrainingProcess's own bookkeeping of a run's row (queue state and reasons)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ravelab.core.executor import ExecutorState
from ravelab.core.training_process import TrainingProcess
from ravelab.db import experiments as rows


def _follower(db: Any, dataset_id: int, tmp_path: Path) -> tuple[TrainingProcess, int]:
    experiment_id = rows.insert_experiment(
        db, name="queued-run", project_id=1, dataset_id=dataset_id, config={"max_steps": 10}
    )
    process = TrainingProcess(
        {"max_steps": 10}, db=db, experiment_id=experiment_id, run_dir=tmp_path
    )
    return process, experiment_id


def test_leaving_the_queue_clears_only_the_queue_reason(
    db: Any, dataset_id: int, tmp_path: Path
) -> None:
    process, experiment_id = _follower(db, dataset_id, tmp_path)
    process._track_queue(ExecutorState(alive=True, queued=True, detail="PENDING (Resources)"))
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and (record.status, record.reason) == (
        "queued",
        "PENDING (Resources)",
    )
    process._track_queue(ExecutorState(alive=True))
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and (record.status, record.reason) == ("running", None)


def test_a_running_run_keeps_a_reason_someone_else_wrote(
    db: Any, dataset_id: int, tmp_path: Path
) -> None:
    process, experiment_id = _follower(db, dataset_id, tmp_path)
    rows.update_fields(db, experiment_id, reason="damaged run file: supervisor.json: ...")
    process._track_queue(ExecutorState(alive=True))  # a follower's first poll
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.status == "running"
    assert record.reason == "damaged run file: supervisor.json: ..."
