"""The experiments repository on a real SQLite file: names unique in the insert's own
transaction, a launch's ownership of its row (claimed once, settled only while it has no
process, a resume's claim only on the row as it was read), an end recorded once, JSON
columns merged, and metric points and offsets as the follower stores them."""

from __future__ import annotations

import pytest

from ravelab.db import Database, RunStatus
from ravelab.db import experiments as rows
from ravelab.db.experiments import DuplicateNameError
from ravelab.db.records import LaunchOwner

OWNER = LaunchOwner(pid=4242, start_time=1700000000.0, host="host-a", lease_until=1700000600.0)


def _run(db: Database, name: str = "x", owner: LaunchOwner | None = None) -> int:
    return rows.insert_experiment(
        db, name=name, project_id=1, dataset_id=None, config={}, owner=owner
    )


def test_a_name_is_taken_once_and_the_refusal_says_by_which_run(db: Database) -> None:
    first = _run(db, "demo", owner=OWNER)
    with pytest.raises(DuplicateNameError, match=rf"'demo' exists already \(run {first}, "):
        _run(db, "demo")
    record = rows.find_experiment_by_name(db, "demo")
    assert record is not None and record.id == first and record.status == RunStatus.RUNNING
    assert rows.launch_owner(db, first) == OWNER
    assert rows.find_experiment_by_name(db, "other") is None


def test_a_launch_owns_its_row_until_a_process_is_recorded(db: Database) -> None:
    launching = _run(db, "launching", owner=OWNER)
    assert [r.id for r in rows.unlaunched_experiments(db)] == [launching]
    assert rows.unended_experiments(db) == [] and rows.any_unended(db)
    assert rows.claim_process(db, launching, 5151, 1700000001.0, "host-b")
    assert not rows.claim_process(db, launching, 6161, 1700000002.0, "host-c")
    assert not rows.settle_unlaunched(db, launching, RunStatus.FAILED, "never started")
    record = rows.get_experiment(db, launching)
    assert record is not None and (record.pid, record.host) == (5151, "host-b")
    assert [r.id for r in rows.unended_experiments(db)] == [launching]
    assert rows.unlaunched_experiments(db) == []


def test_a_row_that_never_got_a_process_is_settled_once(db: Database) -> None:
    orphan = _run(db, "orphan")
    assert rows.settle_unlaunched(db, orphan, RunStatus.FAILED, "its launcher died")
    assert not rows.settle_unlaunched(db, orphan, RunStatus.STOPPED, "again")
    record = rows.get_experiment(db, orphan)
    assert record is not None and record.status == RunStatus.FAILED
    assert record.reason == "its launcher died" and record.ended_at is not None
    assert not rows.any_unended(db)


def test_a_stop_during_the_launch_is_found_among_the_unlaunched(db: Database) -> None:
    stopped = _run(db, "stopped")
    rows.update_fields(db, stopped, status=RunStatus.STOPPED)
    assert rows.stopped_unlaunched_ids(db) == [stopped]
    assert rows.unlaunched_experiments(db) == []  # stopped is not live: listed apart


def test_an_end_is_recorded_once_and_an_ended_runs_reason_stays(db: Database) -> None:
    run = _run(db, "run")
    rows.set_unended_reason(db, run, "cannot follow: damaged supervisor.json")
    assert rows.end_experiment(db, run, RunStatus.COMPLETED, None, 0)
    assert not rows.end_experiment(db, run, RunStatus.FAILED, "late follower", 1)
    rows.set_unended_reason(db, run, "too late")
    record = rows.get_experiment(db, run)
    assert record is not None and record.status == RunStatus.COMPLETED
    assert (record.reason, record.exit_code) == (None, 0)
    assert record.ended_at is not None and record.completed_at == record.ended_at


def test_a_resume_claims_the_row_only_as_it_was_read(db: Database) -> None:
    run = _run(db, "run")
    rows.claim_process(db, run, 5151, 1700000001.0, "host-a")
    rows.end_experiment(db, run, RunStatus.STOPPED, "stopped by the user", -2)
    read = rows.get_experiment(db, run)
    assert read is not None
    assert rows.claim_for_resume(db, read, OWNER, {"max_steps": 10}, ["rave", "train"])
    assert not rows.claim_for_resume(db, read, OWNER, {}, [])  # the second resume loses
    record = rows.get_experiment(db, run)
    assert record is not None and record.status == RunStatus.RUNNING
    assert record.ended_at is None and record.reason is None and record.pid is None
    assert (record.config, record.argv) == ({"max_steps": 10}, ["rave", "train"])
    assert rows.launch_owner(db, run) == OWNER


def test_a_queued_run_shows_the_queues_reason_until_it_leaves(db: Database) -> None:
    run = _run(db, "slurm")
    rows.mark_queued(db, run, "Resources")
    record = rows.get_experiment(db, run)
    assert record is not None and (record.status, record.reason) == (RunStatus.QUEUED, "Resources")
    rows.mark_left_queue(db, run)
    record = rows.get_experiment(db, run)
    assert record is not None and (record.status, record.reason) == (RunStatus.RUNNING, None)
    rows.end_experiment(db, run, RunStatus.FAILED, "cancelled", None)
    rows.mark_queued(db, run, "late")  # an ended run stays as it ended
    record = rows.get_experiment(db, run)
    assert record is not None and record.status == RunStatus.FAILED


def test_runs_are_listed_newest_first_found_by_folder_and_deleted(db: Database) -> None:
    first, second = _run(db, "a"), _run(db, "b")
    rows.update_fields(db, second, run_dir="/runs/0002-b", argv=["rave", "train"])
    assert [r.id for r in rows.list_experiments(db)] == [second, first]
    assert [r.id for r in rows.list_experiments(db, 2)] == []
    assert rows.find_by_run_dir(db, "/runs/0002-b") == second
    assert rows.find_by_run_dir(db, "/runs/none") is None
    record = rows.get_experiment(db, second)
    assert record is not None and record.argv == ["rave", "train"]
    rows.insert_points(db, second, [("loss", 1, 0.5, 1.0)])
    rows.delete_experiment(db, second)
    assert rows.get_experiment(db, second) is None and rows.count_points(db, second) == 0


def test_progress_is_merged_key_by_key(db: Database) -> None:
    run = _run(db)
    rows.merge_progress(db, run, {"step": 5, "max_steps": 100})
    rows.merge_progress(db, run, {"step": 7, "eta_s": None})
    record = rows.get_experiment(db, run)
    assert record is not None
    assert (record.progress.step, record.progress.max_steps, record.progress.eta_s) == (
        7,
        100,
        None,
    )


def test_points_are_unique_per_experiment_name_and_step(db: Database) -> None:
    exp = rows.insert_experiment(db, name="x", project_id=1, dataset_id=None, config={})
    rows.insert_points(db, exp, [("loss", 1, 0.5, 1.0), ("loss", 2, 0.4, 2.0)])
    rows.insert_points(db, exp, [("loss", 1, 9.9, 3.0), ("loss", 3, 0.3, 3.0)])
    assert rows.metric_history(db, exp, "loss") == [(1, 0.5), (2, 0.4), (3, 0.3)]


def test_metrics_json_keeps_nan(db: Database) -> None:
    exp = rows.insert_experiment(db, name="x", project_id=1, dataset_id=None, config={})
    rows.merge_metrics(db, exp, {"loss": float("nan"), "step": 3})
    rows.merge_metrics(db, exp, {"lr": 1e-4})
    record = rows.get_experiment(db, exp)
    assert record is not None
    assert record.metrics["step"] == 3 and record.metrics["lr"] == 1e-4
    assert record.metrics["loss"] != record.metrics["loss"]  # NaN survives the round trip


def test_offsets_never_move_backwards(db: Database) -> None:
    exp = rows.insert_experiment(db, name="x", project_id=1, dataset_id=None, config={})
    rows.set_offsets(db, exp, {"stdout": 100})
    rows.set_offsets(db, exp, {"stdout": 50, "stderr": 7})
    assert rows.get_offsets(db, exp) == {"stdout": 100, "stderr": 7}


def test_history_after_a_step(db: Database) -> None:
    exp = rows.insert_experiment(db, name="x", project_id=1, dataset_id=None, config={})
    rows.insert_points(db, exp, [("loss", s, s / 10, 0.0) for s in range(5)])
    assert rows.metric_history(db, exp, "loss", after_step=2) == [(3, 0.3), (4, 0.4)]


def test_metric_names_and_counts(db: Database) -> None:
    exp = _run(db)
    rows.insert_points(
        db, exp, [("loss", 1, 0.5, 1.0), ("lr", 1, 1e-4, 1.0), ("loss", 2, 0.4, 2.0)]
    )
    assert rows.metric_names(db, exp) == ["loss", "lr"]
    assert rows.count_points(db, exp) == 3
    columns = rows.metric_columns(db, exp, "loss", until_step=1)
    assert list(columns.steps) == [1] and list(columns.values) == [0.5]
