"""TrainingManager and TrainingProcess over real processes: the supervisor and the
`rave` double replaying genuine RAVE captures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.runs.run_files import EXIT_FILE
from ravelab.core.runs.training_process import TrainingProcess
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import run_config as _config


def test_a_run_completes_with_its_progress_metrics_and_signals(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id))
    process = manager.active_processes[experiment_id]
    seen: dict[str, list[Any]] = {"output": [], "steps": [], "finished": []}
    process.output.connect(seen["output"].append)
    process.step_update.connect(lambda step, total: seen["steps"].append((step, total)))
    process.finished.connect(lambda ok, message: seen["finished"].append((ok, message)))
    experiment = manager.wait(experiment_id, timeout=60)

    assert experiment["status"] == "completed"
    assert experiment["exit_code"] == 0 and experiment["reason"] is None
    assert experiment["completed_at"] is not None
    assert experiment["progress"]["step"] == 20
    assert experiment["progress"]["percent"] == 100
    assert experiment["progress"]["train_examples"] == 19
    assert experiment["argv"][1:4] == ["train", "--config", "v2_small"]
    assert experiment_id not in manager.active_processes
    assert seen["finished"] == [(True, "completed")]
    assert seen["steps"][-1] == (20, 20)
    assert any(line.startswith("train set: 19 examples") for line in seen["output"])
    # RAVE prints no lr: its schedule is recorded at its logging steps.
    lr = manager.get_metric_history(experiment_id, "lr")
    assert [step for step, _ in lr] == []  # 20 steps: no logging step (49) reached yet
    assert manager.get_training_metrics(experiment_id)["step"] == 20
    run_dir = Path(experiment["run_dir"])
    assert json.loads((run_dir / EXIT_FILE).read_text())["exit_code"] == 0
    assert list(run_dir.glob("run_*/version_0/events.out.tfevents.*"))


def test_lr_schedule_points_follow_raves_logging_steps(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.001")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id, max_steps=120))
    assert manager.wait(experiment_id, timeout=90)["status"] == "completed"
    lr = manager.get_metric_history(experiment_id, "lr")
    assert [step for step, _ in lr] == [49, 99]
    assert lr[0][1] == pytest.approx(1e-3 * (1 - 0.9 * 49 / 150))


def test_a_crash_fails_with_the_reason(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    monkeypatch.setenv("FAKE_RAVE_CRASH", "oom")
    monkeypatch.setenv("FAKE_RAVE_CRASH_AT", "5")
    manager = make_manager()
    seen: list[tuple[bool, str]] = []
    experiment_id = manager.start_training(_config(dataset_id, max_steps=300))
    manager.active_processes[experiment_id].finished.connect(
        lambda ok, message: seen.append((ok, message))
    )
    experiment = manager.wait(experiment_id, timeout=60)
    assert experiment["status"] == "failed"
    assert experiment["exit_code"] == 1
    assert "CUDA out of memory" in experiment["reason"]
    assert "batch size" in experiment["reason"]
    assert seen and seen[0][0] is False


def test_reading_the_logs_again_adds_nothing(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_STEP_LINES", "500")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id, max_steps=500))
    assert manager.wait(experiment_id, timeout=60)["status"] == "completed"
    before = rows.count_points(db, experiment_id)
    assert before >= 500 * 2
    db.execute("DELETE FROM source_offsets WHERE experiment_id = ?", (experiment_id,))
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    again = TrainingProcess(
        record.config, db=db, experiment_id=experiment_id, run_dir=record.run_dir
    )
    again.poll()
    assert rows.count_points(db, experiment_id) == before
    history = manager.get_metric_history(experiment_id, "loss")
    assert [step for step, _ in history] == list(range(1, 501))
