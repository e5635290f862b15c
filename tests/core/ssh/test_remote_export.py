"""An SSH run's export job when its remote cannot be used: the job fails with the reason
(not a bare exit status), and no model is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ravelab.core.ssh.executor import _write_checkpoints
from ravelab.db import jobs as job_rows
from tests.ssh_remote import ssh_run_row


def test_an_export_whose_remote_is_gone_says_so(
    db: Any, dataset_id: int, make_manager: Any, runs_dir: Path
) -> None:
    experiment_id, run_dir = ssh_run_row(db, dataset_id, runs_dir, "gone", "/remote/runs/0001-far")
    listed = "far_1/version_0/checkpoints/best.ckpt"
    _write_checkpoints(run_dir, [{"path": listed, "size": 10, "mtime": 1.0}])
    manager = make_manager(follow=True)
    job_id = manager.jobs.export_model(experiment_id, checkpoint="best")
    job = manager.jobs.wait(job_id, timeout=60)
    assert job.status == "failed"
    assert "no remote named 'gone'" in (job.reason or ""), job.reason
    assert job_rows.list_models(db) == []
