"""A remote that cannot be reached: its runs read as unknown (never ended) with the
reason as their health, and the remote is not asked again for a while, so a command with
many runs there answers at once after the first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ravelab.core.runs.executor import RunHandle
from ravelab.core.ssh import executor as ssh_executor
from ravelab.core.ssh.remotes import add_remote
from tests.ssh_remote import ssh_run_row


def test_an_unreachable_remote_is_said_once_then_held(
    db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_remote(db, "down", "127.0.0.1", port=1)  # refused at once
    monkeypatch.setattr(ssh_executor, "_unreachable_until", {})
    runs = []
    for n in range(3):
        run = tmp_path / f"run{n}"
        run.mkdir()
        ssh_executor.RemoteRun("down", f"/remote/run{n}").write(run)
        runs.append(run)
    executor = ssh_executor.SshExecutor(db)
    first = executor.state(runs[0], RunHandle("ssh"))
    assert first.alive is None and first.problem and "refused the connection" in first.problem

    def must_not_be_called(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the remote was asked again while held as unreachable")

    monkeypatch.setattr(ssh_executor, "call_agent", must_not_be_called)
    for run in runs[1:]:
        state = executor.state(run, RunHandle("ssh"))
        assert state.alive is None and state.problem == first.problem


def test_a_stop_that_cannot_be_delivered_changes_nothing(
    db: Any, dataset_id: int, make_manager: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ravelab.core.errors import LaunchError
    from ravelab.db import experiments as rows

    monkeypatch.setattr(ssh_executor, "_unreachable_until", {})
    add_remote(db, "down", "127.0.0.1", port=1)
    experiment_id, _run = ssh_run_row(
        db, dataset_id, tmp_path, "down", "/remote/0001-far", pid=4242, pid_start_time=1.0,
        host="far-away",
    )  # fmt: skip
    manager = make_manager(follow=False, reattach=False)
    for at_checkpoint in (False, True):
        with pytest.raises(LaunchError, match="It goes on there"):
            manager.stop_training(experiment_id, at_checkpoint=at_checkpoint)
        record = rows.get_experiment(db, experiment_id)
        assert record is not None and record.status == "running"
        assert record.stop_requested_at is None and not record.stop_at_checkpoint
