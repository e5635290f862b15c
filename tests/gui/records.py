"""Experiment records built in memory, for widgets that show one without a database."""

from __future__ import annotations

from typing import Any

from ravelab.db import ExperimentRecord, RunProgress, RunStatus


def make_record(experiment_id: int = 1, name: str = "run", **fields: Any) -> ExperimentRecord:
    """An ``ExperimentRecord`` as the database would return it; ``status`` may be a
    string and ``progress`` a dict (the stored JSON)."""
    values: dict[str, Any] = {
        "id": experiment_id,
        "project_id": 1,
        "name": name,
        "dataset_id": 1,
        "config": {},
        "status": RunStatus.RUNNING,
        "created_at": "2026-01-01T10:00:00+00:00",
        "started_at": "2026-01-01T10:00:00+00:00",
        "completed_at": None,
        "metrics": {},
        "progress": {},
        "run_dir": None,
        "argv": [],
        "pid": None,
        "pid_start_time": None,
        "host": None,
        "exit_code": None,
        "reason": None,
        "ended_at": None,
        "stop_requested_at": None,
    }
    values.update(fields)
    values["status"] = RunStatus(values["status"])
    if not isinstance(values["progress"], RunProgress):
        values["progress"] = RunProgress.from_json(values["progress"])
    return ExperimentRecord(**values)
