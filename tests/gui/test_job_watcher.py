"""Following a managed job from the app: one line on where it stands, read from its typed
progress, and a watcher that reports each read of the job's row and its end once."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ravelab.core.jobs.job_manager import JobManager
from ravelab.core.runs.executor import LocalExecutor
from ravelab.db import Database, JobRecord, RunStatus
from ravelab.db import jobs as job_rows
from ravelab.gui.job_watcher import JobWatcher, describe_progress

pytestmark = pytest.mark.gui


def _job(db: Database, progress: dict[str, object]) -> JobRecord:
    job_id = job_rows.insert_job(db, "export")
    job_rows.update_job(db, job_id, progress=progress)
    job = job_rows.get_job(db, job_id)
    assert job is not None
    return job


def test_the_line_says_the_percentage_else_the_chunks_else_the_stage(db: Database) -> None:
    assert describe_progress(_job(db, {"percent": 42.4, "chunks": 3})) == "42%"
    assert describe_progress(_job(db, {"chunks": 1234, "stage": "x"})) == "1,234 chunks written"
    assert describe_progress(_job(db, {"stage": "done"})) == "done"
    assert describe_progress(_job(db, {"stage": "loading model"})) == "loading model"
    assert describe_progress(_job(db, {})) == "running"


def test_values_of_the_wrong_type_are_passed_over(db: Database) -> None:
    job = _job(db, {"percent": "half", "chunks": True, "stage": 3})
    assert describe_progress(job) == "running"


def test_an_ended_job_says_how_it_ended(db: Database) -> None:
    job = _job(db, {"stage": "done"})
    job_rows.end_job(db, job.id, RunStatus.FAILED, "rave export exited 0 but wrote no model", 0)
    ended = job_rows.get_job(db, job.id)
    assert ended is not None
    assert describe_progress(ended) == "failed: rave export exited 0 but wrote no model"


def test_the_watcher_reports_each_read_and_the_end_once(
    qtbot: QtBot, db: Database, tmp_path: Path
) -> None:
    jobs = JobManager(
        db, LocalExecutor(), rave=None, runs_dir=lambda: tmp_path / "runs", follow=False
    )
    job = _job(db, {"stage": "loading model"})
    watcher = JobWatcher(jobs, job.id, interval_ms=20)
    seen: list[JobRecord] = []
    ended: list[JobRecord] = []
    watcher.updated.connect(seen.append)
    watcher.finished.connect(ended.append)
    try:
        qtbot.waitUntil(lambda: bool(seen), timeout=30_000)
        assert seen[0].progress.stage == "loading model" and not watcher.done
        job_rows.end_job(db, job.id, RunStatus.COMPLETED, None, 0)
        qtbot.waitUntil(lambda: watcher.done, timeout=30_000)
        assert len(ended) == 1
        assert ended[0].status == RunStatus.COMPLETED and ended[0] is seen[-1]
    finally:
        watcher.stop()
