"""The queue with nobody watching: after a "reboot" (rows queued, no warden, nothing
running) the next ravelab command starts a warden, which starts the queued run, follows
it, starts its chained export, follows that too (the model is recorded) and exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ravelab.core.operations import warden
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.db import jobs as job_rows
from ravelab.db import run_queue as queue_rows
from tests.helpers import run_config, wait_until


def test_the_next_command_after_a_reboot_resumes_the_queue_and_its_export(
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    make_manager: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager(follow=False)  # type: ignore[operator]
    config = run_config(dataset_id, "after-reboot", max_steps=120, val_every=40, save_every=100)
    queued = manager.queue_training(config, then_export="best", start_if_free=False)
    assert rows.get_experiment(db, queued).status == "queued"
    assert not warden.warden_alive(db.path)

    monkeypatch.setenv(warden.ENABLE_ENV, "1")
    monkeypatch.setenv(warden.IDLE_ENV, "0")
    monkeypatch.setenv("RAVELAB_RAVE", str(rave_double))
    listed = subprocess.run(
        [sys.executable, "-m", "ravelab", "--db", str(db_path), "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "queued (1st on cpu)" in listed.stdout  # listed before the warden started it

    record = wait_until(
        lambda: (r := rows.get_experiment(db, queued)) and r.ended_at and r,
        timeout=120,
        what="the warden to run the queued run",
    )
    assert (record.status, record.reason) == ("completed", None)
    model = wait_until(
        lambda: job_rows.list_models(db, queued), timeout=120, what="the chained export"
    )
    assert len(model) == 1 and model[0].checkpoint.endswith("best.ckpt")
    (job,) = job_rows.list_jobs(db, "export")
    assert record.config["then_export"] == "best"
    assert rows.get_experiment(db, queued).config["then_export_job"] == job.id
    wait_until(lambda: not warden.warden_alive(db.path), timeout=120, what="the warden to exit")
    assert job_rows.get_job(db, job.id).status == "completed"  # followed to its end
    assert queue_rows.list_queue(db) == []
    events = [row[0] for row in db.query("SELECT key FROM events WHERE kind = 'queue_started'")]
    assert events == [f"queue_started:run:{queued}"]
