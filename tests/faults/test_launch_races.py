"""Launch races with real `ravelab` processes: many `train` commands at once on one
database while `list` commands re-attach, the same name launched twice at once, and the
launching command killed between the row's insert and the record of its supervisor."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.faults.run_helpers import (
    assert_points_exact,
    cli_args,
    cli_env,
    gate_env,
    no_traceback,
    ravelab,
    ravelab_ok,
    start_command,
    start_paused,
    train_args,
    wait_reached,
)
from tests.helpers import wait_until

pytestmark = pytest.mark.faults

_STARTED = re.compile(r"started run (\d+) '([^']+)'")


def _listing(db_path: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    done = ravelab_ok(db_path, env, "list", "--json")
    return {exp["name"]: exp for exp in json.loads(done.stdout)}


def _settle_all(db: Database, rave: Path, runs: Path) -> TrainingManager:
    manager = TrainingManager(db, rave=str(rave), runs_dir=runs, follow=False, poll_interval=0.05)
    for experiment_id in [e["id"] for e in manager.list_experiments()]:
        manager.wait(experiment_id, timeout=90)
    return manager


@pytest.mark.slow
def test_twenty_parallel_trains_are_each_accounted_for_once(
    db: Database, db_path: Path, dataset_id: int, rave_double: Path, tmp_path: Path
) -> None:
    env = cli_env(rave_double, FAKE_RAVE_STEP_LINES="40")
    names = [f"par-{i}" for i in range(20)]
    trains = [start_command(train_args(db_path, name), env, output=True) for name in names]
    # `list` re-attaches while the runs are being launched (the race that lost runs).
    lists = [start_command(cli_args(db_path, "list"), env, output=True) for _ in range(4)]
    started: dict[str, int] = {}
    for proc in trains + lists:
        out, err = proc.communicate(timeout=180)
        no_traceback(out, err)
        assert proc.returncode == 0, err
        for match in _STARTED.finditer(out):
            started[match.group(2)] = int(match.group(1))
    assert sorted(started) == sorted(names)

    manager = _settle_all(db, rave_double, tmp_path / "runs")
    experiments = manager.list_experiments()
    assert sorted(e["name"] for e in experiments) == sorted(names)  # each exactly once
    for exp in experiments:
        assert exp["id"] == started[exp["name"]]
        assert (exp["status"], exp["reason"]) == ("completed", None), exp
        assert exp["ended_at"] is not None
        assert len(assert_points_exact(db, exp["id"])) == 40
    run_dirs = {e["run_dir"] for e in experiments}
    assert len(run_dirs) == 20  # one folder each, none shared


@pytest.mark.slow
def test_the_same_name_launched_at_once_is_refused_cleanly(
    db: Database, db_path: Path, dataset_id: int, rave_double: Path, tmp_path: Path
) -> None:
    env = cli_env(rave_double)
    procs = [start_command(train_args(db_path, "same"), env, output=True) for _ in range(6)]
    results = [(proc, *proc.communicate(timeout=120)) for proc in procs]
    winners = [proc for proc, _, _ in results if proc.returncode == 0]
    assert len(winners) == 1
    for proc, out, err in results:
        no_traceback(out, err)
        if proc.returncode != 0:
            assert proc.returncode == ExitCode.INVALID
            # Refused by the early check or, in a true race, by the insert itself.
            assert "a run named 'same' exists already" in err
            assert err.count("\n") == 1, err  # one line, no traceback
    manager = _settle_all(db, rave_double, tmp_path / "runs")
    (only,) = manager.list_experiments()
    assert only["status"] == "completed"
    assert_points_exact(db, only["id"])


@pytest.mark.slow
def test_a_launch_in_progress_is_left_alone_and_a_killed_one_never_started(
    db: Database, db_path: Path, dataset_id: int, rave_double: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "launch-gate"
    cli = start_paused(
        train_args(db_path, "paused"), cli_env(rave_double), gate, "after-insert", output=True
    )
    # Another command re-attaches while the row has no process yet: it must wait.
    mid = _listing(db_path, cli_env(rave_double))["paused"]
    assert (mid["status"], mid["ended_at"], mid["reason"]) == ("running", None, None)
    cli.send_signal(signal.SIGKILL)
    cli.communicate(timeout=30)
    after = _listing(db_path, cli_env(rave_double))["paused"]
    assert after["status"] == "failed"
    assert after["reason"].startswith("never started")
    assert after["ended_at"] is not None


@pytest.mark.slow
def test_a_run_whose_launcher_died_after_starting_it_is_adopted(
    db: Database, db_path: Path, dataset_id: int, rave_double: Path, tmp_path: Path
) -> None:
    launch_gate, supervisor_gate = tmp_path / "launch-gate", tmp_path / "supervisor-gate"
    env = cli_env(
        rave_double,
        **gate_env(supervisor_gate, "RAVELAB_FAULT_SUPERVISOR", "after-supervisor-json"),
    )
    cli = start_paused(train_args(db_path, "orphan"), env, launch_gate, "after-launch", output=True)
    wait_reached(supervisor_gate)  # the supervisor lives; the launcher has not recorded it
    mid = _listing(db_path, cli_env(rave_double))["orphan"]
    assert (mid["status"], mid["ended_at"], mid["pid"]) == ("running", None, None)
    cli.send_signal(signal.SIGKILL)
    cli.communicate(timeout=30)
    adopted = _listing(db_path, cli_env(rave_double))["orphan"]
    run_dir = Path(adopted["run_dir"])
    supervisor_pid = json.loads((run_dir / "supervisor.json").read_text())["supervisor_pid"]
    assert (adopted["status"], adopted["pid"]) == ("running", supervisor_pid)
    supervisor_gate.touch()  # let the supervisor go on: the run ends as it should
    wait_until(lambda: (run_dir / "exit.json").exists(), timeout=60, what="exit.json")
    manager = _settle_all(db, rave_double, tmp_path / "runs")
    final = manager.get_experiment(adopted["id"])
    assert final is not None and (final["status"], final["reason"]) == ("completed", None)
    assert len(assert_points_exact(db, adopted["id"])) == 40
    assert rows.count_points(db, adopted["id"]) > 0


def test_a_run_that_ended_before_its_dead_launcher_recorded_it_is_settled_truly(
    db: Database, db_path: Path, dataset_id: int, rave_double: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "launch-gate"
    cli = start_paused(
        train_args(db_path, "unseen"), cli_env(rave_double), gate, "after-launch", output=True
    )
    run_dir = Path(_listing(db_path, cli_env(rave_double))["unseen"]["run_dir"])
    wait_until(lambda: (run_dir / "exit.json").exists(), timeout=60, what="the run ends")
    cli.send_signal(signal.SIGKILL)  # the launcher never recorded the supervisor
    cli.communicate(timeout=30)
    final = _listing(db_path, cli_env(rave_double))["unseen"]
    assert (final["status"], final["reason"], final["exit_code"]) == ("completed", None, 0)
    assert len(assert_points_exact(db, final["id"])) == 40


def test_a_job_whose_launcher_was_killed_is_left_alone_then_never_started(
    make_manager: Any,
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.db import jobs as job_rows
    from tests.core.jobs.test_job_manager import _train_with_checkpoints

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    experiment_id = _train_with_checkpoints(make_manager(), dataset_id)
    gate = tmp_path / "launch-gate"
    cli = start_paused(
        cli_args(db_path, "export", str(experiment_id)),
        cli_env(rave_double),
        gate,
        "after-insert",
        output=True,
    )
    listing = ravelab(db_path, cli_env(rave_double), "jobs", "--json")
    no_traceback(listing.stdout, listing.stderr)
    (job,) = job_rows.list_jobs(db)
    assert (job.status, job.ended_at) == ("running", None)  # its launcher still lives
    cli.send_signal(signal.SIGKILL)
    cli.communicate(timeout=30)
    listing = ravelab(db_path, cli_env(rave_double), "jobs", "--json")
    no_traceback(listing.stdout, listing.stderr)
    (job,) = job_rows.list_jobs(db)
    assert job.status == "failed" and job.ended_at is not None
    assert job.reason is not None and job.reason.startswith("never started")
