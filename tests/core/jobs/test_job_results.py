"""What a finished job left behind, checked on real rows and files: a preprocess that wrote
no dataset and an export that wrote no model are failed with the reason; what they did
write is recorded; the export check of a model records what went wrong with the model."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.jobs.job_results import (
    check_exported,
    finish_export,
    finish_export_and_check,
    finish_preprocess,
)
from ravelab.core.runs.run_outcome import Outcome
from ravelab.db import Database, JobRecord
from ravelab.db import datasets as dataset_rows
from ravelab.db import jobs as job_rows
from ravelab.db.vocabulary import DatasetStatus, RunStatus

COMPLETED = Outcome(RunStatus.COMPLETED, None, 0)


def _job(db: Database, kind: str, **fields: Any) -> JobRecord:
    """A job row as the follower leaves it once the job has ended."""
    job_id = job_rows.insert_job(
        db,
        kind,
        dataset_id=fields.pop("dataset_id", None),
        options=fields.pop("options", None),
    )
    job_rows.update_job(db, job_id, **fields)
    job = job_rows.get_job(db, job_id)
    assert job is not None
    return job


def _preprocessing(db: Database, path: Path) -> int:
    return dataset_rows.insert_dataset(
        db,
        name="clips",
        path=str(path),
        channels=None,
        sample_rate=None,
        n_seconds=None,
        status=DatasetStatus.PREPROCESSING,
    )


def test_an_export_that_wrote_nothing_is_failed(db: Database, tmp_path: Path) -> None:
    job = _job(
        db,
        "export",
        options={"expected_path": str(tmp_path / "missing.ts")},
        progress={"last_error": "No checkpoint found"},
    )
    outcome = finish_export(db, job, COMPLETED)
    assert outcome.status == "failed"
    assert outcome.reason == "rave export exited 0 but wrote no model: No checkpoint found"
    assert job_rows.list_models(db) == []


def test_an_export_that_wrote_its_model_records_it(db: Database, tmp_path: Path) -> None:
    model = tmp_path / "out" / "demo_streaming.ts"
    model.parent.mkdir()
    model.write_bytes(b"x" * 321)
    job = _job(
        db,
        "export",
        options={
            "expected_path": str(tmp_path / "elsewhere.ts"),  # RAVE's own report wins
            "streaming": True,
            "fidelity": 0.95,
            "checkpoint": "/runs/best.ckpt",
            "step": 1200,
        },
        progress={"stage": "done", "exported_path": str(model)},
    )
    assert finish_export(db, job, COMPLETED) == COMPLETED
    (recorded,) = job_rows.list_models(db)
    assert recorded.path == str(model.resolve()) and recorded.size_bytes == 321
    assert recorded.job_id == job.id and recorded.streaming is True
    assert (recorded.fidelity, recorded.checkpoint, recorded.step) == (
        0.95,
        "/runs/best.ckpt",
        1200,
    )


def test_an_export_that_failed_is_left_as_it_ended(db: Database, tmp_path: Path) -> None:
    model = tmp_path / "there.ts"
    model.write_bytes(b"x")
    job = _job(db, "export", progress={"exported_path": str(model)})
    failed = Outcome(RunStatus.FAILED, "killed", -9)
    assert finish_export(db, job, failed) == failed
    assert job_rows.list_models(db) == []


def test_a_preprocess_that_wrote_a_dataset_makes_it_ready(db: Database, dataset_dir: Path) -> None:
    dataset_id = _preprocessing(db, dataset_dir)
    job = _job(db, "preprocess", dataset_id=dataset_id)
    assert finish_preprocess(db, job, COMPLETED) == COMPLETED
    dataset = dataset_rows.get_dataset(db, dataset_id)
    assert dataset is not None and dataset.status == DatasetStatus.READY
    assert (dataset.channels, dataset.sample_rate, dataset.lazy) == (1, 44100, False)
    assert dataset.n_seconds == pytest.approx(56.47, abs=0.01) and dataset.reason is None


def test_a_preprocess_that_wrote_nothing_fails_with_what_rave_said(
    db: Database, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    dataset_id = _preprocessing(db, empty)
    job = _job(db, "preprocess", dataset_id=dataset_id, progress={"warning": "no audio found"})
    outcome = finish_preprocess(db, job, COMPLETED)
    assert outcome.status == "failed" and outcome.exit_code == 0
    assert outcome.reason is not None
    assert outcome.reason.startswith("rave preprocess exited 0 but wrote no usable dataset: ")
    assert outcome.reason.endswith(" (RAVE said: no audio found)")
    dataset = dataset_rows.get_dataset(db, dataset_id)
    assert dataset is not None and dataset.status == DatasetStatus.FAILED
    assert dataset.reason == outcome.reason


def test_a_failed_preprocess_fails_its_dataset_with_the_same_reason(
    db: Database, dataset_dir: Path
) -> None:
    dataset_id = _preprocessing(db, dataset_dir)
    job = _job(db, "preprocess", dataset_id=dataset_id)
    failed = Outcome(RunStatus.FAILED, "RAVE could not read an audio file", 1)
    assert finish_preprocess(db, job, failed) == failed
    dataset = dataset_rows.get_dataset(db, dataset_id)
    assert dataset is not None and dataset.status == DatasetStatus.FAILED
    assert dataset.reason == "RAVE could not read an audio file"


def test_a_preprocess_without_its_dataset_row_changes_nothing(db: Database) -> None:
    job = _job(db, "preprocess")
    assert finish_preprocess(db, job, COMPLETED) == COMPLETED
    assert dataset_rows.list_datasets(db) == []


def _model_of(db: Database, job: JobRecord, path: Path) -> int:
    return job_rows.insert_model(
        db,
        experiment_id=None,
        job_id=job.id,
        path=str(path),
        size_bytes=1,
        streaming=False,
        fidelity=None,
        checkpoint=None,
        step=None,
    )


def test_the_check_of_a_model_whose_rave_is_gone_records_why(db: Database, tmp_path: Path) -> None:
    job = _job(db, "export", argv=[str(tmp_path / "gone" / "rave"), "export"])
    model_id = _model_of(db, job, tmp_path / "model.ts")
    check_exported(db, job.id)
    (model,) = job_rows.list_models(db)
    assert model.id == model_id and model.check_result is not None
    assert "cannot read the rave executable" in json.loads(model.check_result)["error"]


def test_a_model_checked_already_or_a_job_without_argv_is_left_alone(
    db: Database, tmp_path: Path
) -> None:
    checked = _job(db, "export", argv=[str(tmp_path / "gone" / "rave")])
    model_id = _model_of(db, checked, tmp_path / "checked.ts")
    job_rows.set_model_check(db, model_id, '{"ok": true}', "2.1")
    check_exported(db, checked.id)
    unlaunched = _job(db, "export")
    _model_of(db, unlaunched, tmp_path / "unlaunched.ts")
    check_exported(db, unlaunched.id)
    check_exported(db, 9999)  # no such job
    results = {model.path: model.check_result for model in job_rows.list_models(db)}
    assert results == {
        str(tmp_path / "checked.ts"): '{"ok": true}',
        str(tmp_path / "unlaunched.ts"): None,
    }


def test_a_check_that_breaks_is_logged_and_never_raised(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    job = _job(db, "export", argv=["/nowhere/rave"])
    db.close()  # every read now fails
    with caplog.at_level(logging.ERROR, logger="ravelab.core.jobs.job_manager"):
        check_exported(db, job.id)
    assert f"the export check of job {job.id} failed" in caplog.text


def test_an_export_and_its_check_end_together(db: Database, tmp_path: Path) -> None:
    model = tmp_path / "demo.ts"
    model.write_bytes(b"x" * 10)
    job = _job(
        db,
        "export",
        argv=[str(tmp_path / "gone" / "rave"), "export"],
        progress={"stage": "done", "exported_path": str(model), "offsets": {"stdout": 9}},
    )
    assert finish_export_and_check(db, job, COMPLETED) == COMPLETED
    stored = job_rows.get_job(db, job.id)
    assert stored is not None
    assert stored.progress.as_dict() == {
        "stage": "checking",
        "exported_path": str(model),
        "offsets": {"stdout": 9},
    }
    (recorded,) = job_rows.list_models(db)
    assert recorded.check_result is not None and "error" in json.loads(recorded.check_result)
    nothing = _job(db, "export", options={"expected_path": str(tmp_path / "none.ts")})
    assert finish_export_and_check(db, nothing, COMPLETED).status == "failed"
    assert len(job_rows.list_models(db)) == 1
