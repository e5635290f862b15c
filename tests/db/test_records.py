"""The records the repositories return: an experiment's typed fields, and the original
dict API's dict with plain strings and the progress JSON as stored."""

from __future__ import annotations

from ravelab.db import Database, Health, RunStatus
from ravelab.db import experiments as rows


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
