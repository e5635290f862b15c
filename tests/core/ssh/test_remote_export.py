"""An SSH run's export job when its remote cannot be used: the job fails with the reason
(not a bare exit status), and no model is recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ravelab.core.ssh.executor import RemoteRun, _write_checkpoints
from ravelab.db import experiments as rows
from ravelab.db import jobs as job_rows


def test_an_export_whose_remote_is_gone_says_so(
    db: Any, dataset_id: int, make_manager: Any, runs_dir: Path
) -> None:
    experiment_id = rows.insert_experiment(
        db,
        name="far",
        project_id=1,
        dataset_id=dataset_id,
        config={"executor": "ssh", "executor_options": {"remote": "gone"}, "channels": 1},
    )
    run_dir = runs_dir / "0001-far"
    run_dir.mkdir(parents=True)
    rows.update_fields(db, experiment_id, run_dir=str(run_dir), executor="ssh")
    RemoteRun("gone", "/remote/runs/0001-far").write(run_dir)
    listed = "far_1/version_0/checkpoints/best.ckpt"
    _write_checkpoints(run_dir, [{"path": listed, "size": 10, "mtime": 1.0}])
    manager = make_manager(follow=True)
    job_id = manager.jobs.export_model(experiment_id, checkpoint="best")
    job = manager.jobs.wait(job_id, timeout=60)
    assert job.status == "failed"
    assert "no remote named 'gone'" in (job.reason or ""), job.reason
    assert job_rows.list_models(db) == []
