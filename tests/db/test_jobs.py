"""The jobs and models repository on a real SQLite file: a job's life in rows (inserted
running, its process claimed once, its end recorded once, an unlaunched one failed only
while it has no process) and exported models (a path exported again replaces its row)."""

from __future__ import annotations

from ravelab.db import Database, RunStatus
from ravelab.db import experiments as experiment_rows
from ravelab.db import jobs as job_rows


def test_a_new_job_runs_unlaunched_with_its_options(db: Database) -> None:
    job_id = job_rows.insert_job(db, "export", options={"streaming": True, "step": 10})
    job = job_rows.get_job(db, job_id)
    assert job is not None
    assert (job.kind, job.status, job.pid, job.ended_at) == (
        "export",
        RunStatus.RUNNING,
        None,
        None,
    )
    assert job.options == {"streaming": True, "step": 10} and job.argv == []
    assert job.created_at and job_rows.any_unended(db)
    assert [j.id for j in job_rows.unlaunched_jobs(db)] == [job_id]
    assert job_rows.unended_jobs(db) == [] and job_rows.get_job(db, job_id + 1) is None


def test_a_process_is_claimed_once_and_then_the_job_is_followed(db: Database) -> None:
    job_id = job_rows.insert_job(db, "preprocess")
    assert job_rows.claim_job_process(db, job_id, 4242, 1700000000.0, "host-a")
    assert not job_rows.claim_job_process(db, job_id, 5151, 1700000001.0, "host-b")
    job = job_rows.get_job(db, job_id)
    assert job is not None and (job.pid, job.pid_start_time, job.host) == (
        4242,
        1700000000.0,
        "host-a",
    )
    assert job_rows.unlaunched_jobs(db) == []
    assert [j.id for j in job_rows.unended_jobs(db)] == [job_id]
    assert not job_rows.fail_unlaunched_job(db, job_id, "never started")  # it has a process


def test_an_end_is_recorded_once(db: Database) -> None:
    job_id = job_rows.insert_job(db, "export")
    assert job_rows.end_job(db, job_id, RunStatus.COMPLETED, None, 0)
    assert not job_rows.end_job(db, job_id, RunStatus.FAILED, "late follower", 1)
    job = job_rows.get_job(db, job_id)
    assert job is not None and job.status == RunStatus.COMPLETED
    assert (job.reason, job.exit_code) == (None, 0) and job.ended_at is not None
    assert not job_rows.any_unended(db) and job_rows.unlaunched_jobs(db) == []
    assert not job_rows.claim_job_process(db, job_id, 1, 1.0, "h")  # ended: nothing to claim


def test_an_unlaunched_job_is_failed_with_the_reason(db: Database) -> None:
    job_id = job_rows.insert_job(db, "preprocess")
    assert job_rows.fail_unlaunched_job(db, job_id, "its launcher ended before starting it")
    job = job_rows.get_job(db, job_id)
    assert job is not None and job.status == RunStatus.FAILED and job.ended_at is not None
    assert job.reason == "its launcher ended before starting it"
    assert not job_rows.fail_unlaunched_job(db, job_id, "again")


def test_jobs_are_listed_newest_first_by_kind_and_deleted(db: Database) -> None:
    first = job_rows.insert_job(db, "preprocess")
    second = job_rows.insert_job(db, "export")
    third = job_rows.insert_job(db, "export")
    assert [j.id for j in job_rows.list_jobs(db)] == [third, second, first]
    assert [j.id for j in job_rows.list_jobs(db, "export")] == [third, second]
    job_rows.delete_job(db, second)
    assert [j.id for j in job_rows.list_jobs(db)] == [third, first]


def test_update_job_stores_lists_as_json(
    db: Database,
) -> None:
    job_id = job_rows.insert_job(db, "export")
    job_rows.update_job(db, job_id, argv=["rave", "export"], run_dir="/runs/job-1")
    job_rows.update_job(db, job_id)  # nothing to write
    job = job_rows.get_job(db, job_id)
    assert job is not None and job.argv == ["rave", "export"] and job.run_dir == "/runs/job-1"


def _model(db: Database, path: str, experiment_id: int | None, step: int) -> int:
    return job_rows.insert_model(
        db,
        experiment_id=experiment_id,
        job_id=None,
        path=path,
        size_bytes=100 + step,
        streaming=step % 2 == 0,
        fidelity=0.9,
        checkpoint="/runs/best.ckpt",
        step=step,
    )


def test_a_path_exported_again_replaces_its_model(db: Database) -> None:
    experiment = experiment_rows.insert_experiment(
        db, name="run", project_id=1, dataset_id=None, config={}
    )
    first = _model(db, "/models/a.ts", experiment, 10)
    other = _model(db, "/models/b.ts", None, 11)
    again = _model(db, "/models/a.ts", experiment, 20)
    assert again != first and job_rows.get_model(db, first) is None
    assert [m.id for m in job_rows.list_models(db)] == [again, other]
    (mine,) = job_rows.list_models(db, experiment)
    assert (mine.id, mine.step, mine.size_bytes, mine.streaming) == (again, 20, 120, True)
    assert mine.check_result is None and mine.created_at
