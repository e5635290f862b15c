"""The typed vocabulary: statuses and health as string enums, a run's progress as a record."""

from __future__ import annotations

import json
import math

import ravelab
from ravelab.db import FINAL, LIVE, Database, Health, RunProgress, RunStatus
from ravelab.db import experiments as rows

_HOSTILE = [None, "12", -1, 2**80, 1.5, math.nan, math.inf, True, [], {"a": 1}, "x" * 10]


def test_a_status_is_its_stored_string() -> None:
    assert RunStatus.RUNNING == "running" and json.dumps(RunStatus.FAILED) == '"failed"'
    assert f"{RunStatus.STOPPED}" == "stopped"
    assert {status.value for status in FINAL} == {"completed", "failed", "stopped"}
    assert {RunStatus.QUEUED, RunStatus.RUNNING} == LIVE and "queued" in LIVE
    assert RunStatus.parse("completed") is RunStatus.COMPLETED
    assert RunStatus.parse("stopping") is None and RunStatus.parse(3) is None
    assert Health.parse("stalled") is Health.STALLED and Health.parse(None) is Health.OK
    assert ravelab.RunStatus is RunStatus and ravelab.RunProgress is RunProgress


def test_progress_reads_hostile_json_as_unknown_and_never_raises() -> None:
    for value in _HOSTILE:
        progress = RunProgress.from_json(
            {name: value for name in ("step", "eta_s", "epoch", "last_error", "resumes")}
        )
        assert progress.step == (value if type(value) is int and 0 <= value < 2**53 else 0)
        assert progress.eta_s is None or math.isfinite(progress.eta_s)
        assert progress.last_error is None or isinstance(progress.last_error, str)
        assert isinstance(progress.resumes, int) and progress.resumes >= 0
    for document in (None, [], "text", 3, {"stopping_at_checkpoint": 1}):
        progress = RunProgress.from_json(document)
        assert progress.step == 0 and progress.stopping_at_checkpoint is False
    assert RunProgress.from_json({"percent": 25, "speed": 0.5}).percent == 25.0


def test_progress_gives_back_what_was_stored_and_merges_like_the_column() -> None:
    stored = {"step": 5, "eta_s": None, "speed": "fast", "unknown_key": [1]}
    progress = RunProgress.from_json(stored)
    assert progress.step == 5 and progress.speed is None
    assert progress.as_dict() == stored  # the original dict API shows the column as is
    merged = progress.merged({"step": 7, "eta_s": 30.0})
    assert (merged.step, merged.eta_s) == (7, 30.0)
    assert merged.as_dict()["unknown_key"] == [1]
    assert RunProgress.from_json({}).as_dict() == {}


def test_a_record_keeps_the_original_dict_api(db: Database, dataset_id: int) -> None:
    experiment_id = rows.insert_experiment(
        db, name="typed", project_id=1, dataset_id=dataset_id, config={"max_steps": 10}
    )
    rows.merge_progress(db, experiment_id, {"step": 3, "eta_s": None})
    db.execute(  # an older or hand-edited database: a wrong type in the JSON
        "UPDATE experiments SET progress = json_set(progress, '$.epoch', 'two') WHERE id = ?",
        (experiment_id,),
    )
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    assert record.status is RunStatus.RUNNING and record.health is Health.OK
    assert (record.progress.step, record.progress.epoch) == (3, None)
    data = record.as_dict()
    assert type(data["status"]) is str and type(data["health"]) is str
    assert data["progress"] == {"step": 3, "eta_s": None, "epoch": "two"}
