"""The original API's dicts and bookkeeping (``manager_records``)."""

from __future__ import annotations

from typing import Any

import pytest

from ravelab.core.errors import ConfigError
from ravelab.core.runs.training_process import TrainingProcess
from ravelab.db import Database
from ravelab.db import experiments as rows


def test_the_original_apis_bookkeeping_methods(
    make_manager: Any, db: Database, dataset_id: int
) -> None:
    manager = make_manager()
    experiment_id = rows.insert_experiment(
        db, name="manual", project_id=1, dataset_id=dataset_id, config={"max_steps": 10}
    )
    assert manager.get_training_metrics(experiment_id) == {}
    manager.update_training_metrics(experiment_id, {"step": 5, "loss": 0.5, "lr": 1e-4})
    manager.update_training_metrics(experiment_id, {"step": 6, "loss": 0.4})
    assert manager.get_training_metrics(experiment_id) == {"step": 6, "loss": 0.4, "lr": 1e-4}
    assert manager.get_metric_history(experiment_id, "loss") == [(5, 0.5), (6, 0.4)]
    manager.update_experiment_status(experiment_id, "completed")
    experiment = manager.get_experiment(experiment_id)
    assert experiment["status"] == "completed" and experiment["completed_at"]
    with pytest.raises(ConfigError, match="unknown status 'done'"):
        manager.update_experiment_status(experiment_id, "done")
    assert manager.get_experiment(424242) is None
    assert [e["id"] for e in manager.list_experiments(project_id=1)] == [experiment_id]
    assert manager.list_experiments(project_id=2) == []
    process = TrainingProcess({"max_steps": 10})
    manager.register_process(experiment_id, process)
    assert manager.active_processes[experiment_id] is process
    manager.unregister_process(experiment_id)
    assert experiment_id not in manager.active_processes


# -- what ravelab never deletes, launch owners, one run's trouble --------------------------
