"""The queue per device: runs wait for their device, start when the run before them ends
(however it ends), in the order asked; the warden's duty starts them; a queued run whose
dataset went away fails with its reason and the queue goes on; SLURM runs are refused;
re-attaching leaves queued rows alone; a chained export starts once."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.operations import queue, warden
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.db import jobs as job_rows
from ravelab.db import run_queue as queue_rows
from tests.helpers import run_config, wait_until


def _ended(db: Database, experiment_id: int) -> Any:
    return wait_until(
        lambda: (r := rows.get_experiment(db, experiment_id)) and r.ended_at and r,
        timeout=90,
        what=f"run {experiment_id} to end",
    )


def _hold(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every run of the double waits at step 5 until the returned file exists."""
    hold = tmp_path / "hold"
    monkeypatch.setenv("FAKE_RAVE_HOLD_AT", "5")
    monkeypatch.setenv("FAKE_RAVE_HOLD_FILE", str(hold))
    return hold


def test_queued_runs_wait_for_their_device_and_start_in_the_order_asked(
    db: Database,
    make_manager: Any,
    dataset_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.02")
    hold = _hold(monkeypatch, tmp_path)
    manager = make_manager(follow=True)
    first = manager.queue_training(run_config(dataset_id, "first"))  # the CPU is free
    assert rows.get_experiment(db, first).status == "running"
    wait_until(lambda: Path(f"{hold}.reached").exists(), timeout=60, what="the hold")
    second = manager.queue_training(run_config(dataset_id, "second"), then_export="latest")
    third = manager.queue_training(run_config(dataset_id, "third"))
    fourth = manager.queue_training(run_config(dataset_id, "fourth"))
    for waiting in (second, third, fourth):
        record = rows.get_experiment(db, waiting)
        assert (record.status, record.run_dir, record.pid) == ("queued", None, None)
    entries = queue.list_queue(db)
    assert [(e.experiment_id, e.rank, e.device) for e in entries] == [
        (second, 1, "cpu"),
        (third, 2, "cpu"),
        (fourth, 3, "cpu"),
    ]
    assert entries[0].waits_for == f"run {first} 'first' to end"
    assert entries[0].then_export == "latest"
    assert entries[1].label == "queued (2nd on cpu)"
    # Reordered and one taken out: the fourth goes first, the second never runs.
    assert queue.move(db, fourth, 1).label == "queued (1st on cpu)"
    queue.remove(db, second)
    assert rows.get_experiment(db, second) is None
    # Each queued run's place is its reason, as the front ends show it.
    assert [rows.get_experiment(db, i).reason for i in (fourth, third)] == [
        "1st on cpu",
        "2nd on cpu",
    ]
    with pytest.raises(NotFoundError, match="not queued"):
        queue.remove(db, first)
    with pytest.raises(ConfigError, match="position"):
        queue.move(db, third, 0)
    # A manager made now (a command, the app) leaves the queued rows as they are.
    make_manager(follow=False)
    assert [r.experiment_id for r in queue_rows.list_queue(db)] == [fourth, third]
    assert rows.get_experiment(db, third).status == "queued"

    duty = queue.QueueDuty()
    loop = warden.Warden(db, manager, [duty], idle_s=0)
    loop.step()
    assert rows.get_experiment(db, fourth).status == "queued"  # the CPU is still taken
    assert duty.busy(loop.context())
    manager.stop_training(first)  # however the run before it ends: here stopped
    assert _ended(db, first).status == "stopped"
    wait_until(lambda: (loop.step(), rows.get_experiment(db, fourth).pid)[1], what="fourth")
    assert rows.get_experiment(db, third).status == "queued"
    hold.touch()
    assert _ended(db, fourth).status == "completed"
    wait_until(lambda: (loop.step(), rows.get_experiment(db, third).pid)[1], what="third")
    assert _ended(db, third).status == "completed"
    loop.step()
    assert not duty.busy(loop.context())
    events = db.query(
        "SELECT key, experiment_id FROM events WHERE kind = 'queue_started' ORDER BY id"
    )
    assert [tuple(e) for e in events] == [
        (f"queue_started:run:{fourth}", fourth),
        (f"queue_started:run:{third}", third),
    ]
    # Never two at once on the device: each started after the one before it ended.
    times = {i: rows.get_experiment(db, i) for i in (first, fourth, third)}
    assert times[first].ended_at <= times[fourth].started_at
    assert times[fourth].ended_at <= times[third].started_at
    assert "queue" not in times[third].config  # its marker goes once it has a process


def test_two_claimers_on_two_connections_never_start_two_runs_on_one_device(
    db: Database, db_path: Path, dataset_id: int, make_manager: Any
) -> None:
    manager = make_manager(follow=False)
    ids = [
        manager.queue_training(run_config(dataset_id, f"q{i}", gpu=0), start_if_free=False)
        for i in range(3)
    ]
    from ravelab.db.records import LaunchOwner

    other = Database(db_path)
    try:
        owner = LaunchOwner(1, 1.0, "elsewhere", 0.0)
        first = queue_rows.claim_head(db, "cuda:0", owner)
        second = queue_rows.claim_head(other, "cuda:0", owner)
        assert (first, second) == (ids[0], None)  # the claimed row holds the device
        assert queue_rows.device_holder(other, "cuda:0") == (ids[0], "q0")
        assert queue_rows.claim_head(other, "cpu", owner) is None  # another device: empty
    finally:
        other.close()
    assert [r.experiment_id for r in queue_rows.list_queue(db)] == ids[1:]


def test_a_queued_run_whose_dataset_went_away_fails_with_its_reason_and_the_next_starts(
    db: Database,
    make_manager: Any,
    dataset_id: int,
    dataset_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.core.datasets import register_dataset

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.02")
    other_dir = tmp_path / "datasets" / "other"
    shutil.copytree(dataset_dir, other_dir)
    other = register_dataset(db, other_dir, "other").id
    manager = make_manager(follow=True)
    doomed = manager.queue_training(run_config(other, "doomed"), start_if_free=False)
    fine = manager.queue_training(run_config(dataset_id, "fine"), start_if_free=False)
    shutil.rmtree(other_dir)
    assert queue.start_next(manager) == [fine]
    record = rows.get_experiment(db, doomed)
    assert record.status == "failed" and record.run_dir is None
    assert "could not start from the queue" in record.reason and "other" in record.reason
    assert _ended(db, fine).status == "completed"


def test_slurm_runs_are_refused_and_bad_values_create_nothing(
    db: Database, make_manager: Any, dataset_id: int
) -> None:
    manager = make_manager(follow=False)
    with pytest.raises(ConfigError, match="slurm's own queue"):
        manager.queue_training(run_config(dataset_id, "cluster", executor="slurm"))
    with pytest.raises(ConfigError, match="then_export"):
        manager.queue_training(run_config(dataset_id, "x"), then_export="newest")
    assert rows.list_experiments(db) == [] and queue_rows.list_queue(db) == []


def test_a_chained_export_starts_once_whoever_watches(
    db: Database, make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager(follow=False)
    config = run_config(dataset_id, "chained", max_steps=120, val_every=40, save_every=100)
    experiment_id = manager.start_training(config, then_export="best")
    assert manager.wait(experiment_id, timeout=60)["status"] == "completed"
    app = make_manager(follow=False)  # the warden and an app both watching
    jobs = queue.start_chained_exports(manager) + queue.start_chained_exports(app)
    assert len(jobs) == 1
    job = manager.jobs.wait(jobs[0], timeout=60)
    assert job.status == "completed", job.reason
    assert [j.experiment_id for j in job_rows.list_jobs(db, "export")] == [experiment_id]
    assert job.options["checkpoint"].endswith("best.ckpt")
    assert queue_rows.pending_then_exports(db) == []
    assert queue.start_chained_exports(manager) == []


def test_ordinals_and_devices() -> None:
    assert [queue.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]  # fmt: skip
    assert (queue.device_of(-1), queue.device_of(0), queue.device_of(3)) == (
        "cpu",
        "cuda:0",
        "cuda:3",
    )


def test_a_start_that_raises_before_making_anything_puts_the_run_back_first(
    db: Database, make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = make_manager(follow=False)
    ids = [
        manager.queue_training(run_config(dataset_id, f"b{i}"), start_if_free=False)
        for i in range(2)
    ]

    def broken(experiment_id: int) -> bool:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(manager, "start_claimed", broken)
    with pytest.raises(RuntimeError, match="disk went away"):
        queue.start_next(manager)
    assert [e.experiment_id for e in queue.list_queue(db)] == ids  # first again, not lost
    record = rows.get_experiment(db, ids[0])
    assert (record.status, record.reason, record.started_at) == ("queued", "1st on cpu", None)


def test_a_dead_claimer_never_holds_a_device_while_the_warden_lives(
    db: Database, make_manager: Any, dataset_id: int
) -> None:
    import subprocess
    import sys

    from ravelab.core.operations.duties import WardenContext
    from ravelab.db.records import LaunchOwner

    manager = make_manager(follow=False)
    waiting = manager.queue_training(run_config(dataset_id, "waiting"), start_if_free=False)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    from ravelab.core.runs.process_identity import HOST

    dead = LaunchOwner(gone.pid, 1.0, HOST, 0.0)
    assert queue_rows.claim_head(db, "cpu", dead) == waiting  # then the claimer "dies"
    stale = rows.get_experiment(db, waiting)
    assert stale is not None and stale.status == "running" and stale.pid is None
    # A re-attach that read the row before another put it back must not fail it.
    queue_rows.requeue(db, waiting, dead, stale.config[queue_rows.QUEUE_KEY])
    manager._reattach_unlaunched(stale)
    record = rows.get_experiment(db, waiting)
    assert record is not None and record.status == "queued" and record.ended_at is None
    # Claimed again by a dead claimer: the warden's queue duty puts it back and starts it.
    assert queue_rows.claim_head(db, "cpu", dead) == waiting
    queue.QueueDuty().tick(WardenContext(db=db, manager=manager, now=0.0))
    started = rows.get_experiment(db, waiting)
    assert started is not None and started.pid is not None and started.run_dir
    assert manager.wait(waiting, timeout=60)["status"] == "completed"


def test_a_queued_run_renamed_while_it_waits_starts_under_its_new_name(
    db: Database, make_manager: Any, dataset_id: int
) -> None:
    from ravelab.core.runs import lifetime

    manager = make_manager(follow=False)
    waiting = manager.queue_training(run_config(dataset_id, "old-name"), start_if_free=False)
    lifetime.rename_run(db, waiting, "new-name")
    queue.start_next(manager)
    record = rows.get_experiment(db, waiting)
    assert record is not None and record.run_dir and record.run_dir.endswith("-new-name")
    assert record.argv[record.argv.index("--name") + 1] == "new-name"
    assert manager.wait(waiting, timeout=60)["status"] == "completed"
