"""TrainingProcess's own bookkeeping of a run's row (queue state and reasons)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ravelab.core.runs.executor import ExecutorState
from ravelab.core.runs.training_process import TrainingProcess
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


def test_a_follower_thread_outlives_database_errors_and_loses_or_doubles_nothing(
    make_manager: Any, dataset_id: int, db: Any, monkeypatch: Any
) -> None:
    from ravelab.db import DiskFullError
    from tests.faults.run_helpers import assert_points_exact
    from tests.helpers import run_config

    monkeypatch.setenv("FAKE_RAVE_STEP_LINES", "400")
    monkeypatch.setenv("FAKE_RAVE_STEP_RATE", "400")
    real_store = TrainingProcess._store
    calls = {"stores": 0, "failed": 0}

    def store_failing_twice(self: TrainingProcess, batch: Any) -> None:
        # The second and third polls that read something meet a full disk: nothing of
        # them is stored, while the lines they read are behind the follower's positions.
        calls["stores"] += 1
        if batch.lines and calls["failed"] < 2 and calls["stores"] > 1:
            calls["failed"] += 1
            raise DiskFullError("database test.db: disk full: free space and retry")
        real_store(self, batch)

    monkeypatch.setattr(TrainingProcess, "_store", store_failing_twice)
    manager = make_manager()  # follows in this process's threads
    experiment_id = manager.start_training(run_config(dataset_id, name="db-errors", max_steps=400))
    final = manager.wait(experiment_id, timeout=120)
    assert final["status"] == "completed", final["reason"]
    assert calls["failed"] == 2
    assert len(assert_points_exact(db, experiment_id)) == 400
