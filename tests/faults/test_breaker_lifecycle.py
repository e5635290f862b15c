"""A run's life attacked through the real CLI: two resumes at once, a stop that lands
while the run is being launched (with its launcher killed then), a process of a run that
outlives its exit.json, a stop at the next checkpoint whose supervisor is killed. Each
break found this way is pinned here with real processes and the test-only pause points
(no sleeps: every wait is on a condition)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.core.runs.executor import STOPPER_ENV, run_processes, trainer_identity
from ravelab.core.runs.process_identity import ProcessIdentity, is_alive, processes_with_env
from ravelab.core.runs.run_files import (
    RUN_MARKER_ENV,
    SUPERVISOR_FILE,
    LaunchSpec,
    SupervisorInfo,
    marker_value,
)
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.faults.run_helpers import (
    LONG_RUN,
    assert_points_exact,
    cli_args,
    cli_env,
    experiment,
    kill_supervisor,
    long_runs,
    no_traceback,
    ravelab,
    ravelab_ok,
    start_command,
    start_paused,
    start_run,
    train_args,
    wait_some_points,
    wait_training,
)
from tests.helpers import wait_until

pytestmark = pytest.mark.faults


def _supervisors(run_dir: Path) -> list[int]:
    """The pids of the supervisors working in a run folder."""
    found = []
    for process in run_processes(run_dir):
        try:
            if "ravelab.core.runs.supervisor" in process.cmdline():
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def _checkpoint(run_dir: Path) -> Path:
    """A checkpoint where RAVE writes them (the double writes none in step-line mode)."""
    folder = next(run_dir.glob("*_*/version_0"))
    path = folder / "checkpoints" / "last.ckpt"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"checkpoint")
    return path


#: ``stopped_run(name)``: (experiment id, run folder) of a long run stopped by the user.
StoppedRun = Callable[[str], tuple[int, Path]]


@pytest.fixture
def stopped_run(
    make_manager: Any, db: Database, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> StoppedRun:
    """Start a long run (as are all the runs the test starts after it), stop it after a
    few steps, and wait until its processes have ended."""

    def stop(name: str) -> tuple[int, Path]:
        long_runs(monkeypatch)
        manager, experiment_id, run_dir = start_run(make_manager, db, dataset_id, name)
        wait_some_points(run_dir)
        assert manager.stop_training(experiment_id)
        final = manager.wait(experiment_id, timeout=60)
        assert final["status"] == "stopped"
        wait_until(lambda: not run_processes(run_dir), timeout=30, what="the run's processes end")
        return experiment_id, run_dir

    return stop


def test_two_resumes_at_once_start_one_run(
    stopped_run: StoppedRun,
    db: Database,
    db_path: Path,
    rave_double: Path,
    tmp_path: Path,
) -> None:
    experiment_id, run_dir = stopped_run("twice")
    before = rows.metric_history(db, experiment_id, "loss")
    _checkpoint(run_dir)
    env = cli_env(rave_double)
    gate = tmp_path / "gate"
    # The first resume passes every check, then waits; the second resumes meanwhile.
    first = start_paused(
        cli_args(db_path, "resume", str(experiment_id)), env, gate, "resume-checked", output=True
    )
    ravelab_ok(db_path, env, "resume", str(experiment_id))
    wait_until(lambda: _supervisors(run_dir), timeout=60, what="the resumed supervisor")
    gate.touch()
    out, err = first.communicate(timeout=120)
    no_traceback(out, err)
    assert first.returncode != 0
    assert err.strip().count("\n") == 0 and "resumed or changed by another" in err, err
    # One supervisor, the recorded one, and its supervisor.json was left where it is.
    record = experiment(db, experiment_id)
    assert _supervisors(run_dir) == [record.pid]
    info = wait_until(lambda: SupervisorInfo.read(run_dir), what="supervisor.json")
    assert info.supervisor_pid == record.pid
    assert (record.status, record.ended_at) == ("running", None)
    ravelab_ok(db_path, env, "stop", str(experiment_id))
    record = experiment(db, experiment_id)
    assert (record.status, record.reason) == ("stopped", "stopped by the user")
    assert record.ended_at is not None and not run_processes(run_dir)
    # The first attempt's points are all kept, none doubled by the second attempt.
    assert rows.metric_history(db, experiment_id, "loss")[: len(before)] == before


def test_a_stop_while_the_run_is_launched_stops_it(
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
) -> None:
    env = cli_env(rave_double, **LONG_RUN)
    gate = tmp_path / "gate"
    train = start_paused(
        train_args(db_path, "stopped-early"), env, gate, "after-insert", output=True
    )
    ravelab_ok(db_path, env, "stop", "stopped-early", "--no-wait")
    gate.touch()
    out, err = train.communicate(timeout=120)
    no_traceback(out, err)
    assert train.returncode == 0, err
    record = rows.find_experiment_by_name(db, "stopped-early")
    assert record is not None and record.run_dir is not None
    run_dir = Path(record.run_dir)
    # The stop reaches the run once it has a process: it ends, and is shown as stopped.
    wait_until(lambda: not run_processes(run_dir), timeout=60, what="the run's processes end")
    listing = ravelab(db_path, env, "list")
    no_traceback(listing.stdout, listing.stderr)
    record = experiment(db, record.id)
    assert (record.status, record.reason) == ("stopped", "stopped by the user")
    assert record.ended_at is not None
    assert_points_exact(db, record.id)


@pytest.mark.slow
def test_a_process_of_the_run_that_outlives_its_exit_json_can_still_be_stopped(
    stopped_run: StoppedRun,
    db: Database,
    db_path: Path,
    rave_double: Path,
) -> None:
    experiment_id, run_dir = stopped_run("stray")
    points = assert_points_exact(db, experiment_id)
    # A process of the run that left its trainer's group (its own session) and so
    # outlived the supervisor's clean-up, as a second trainer in the folder would.
    stray = subprocess.Popen(
        [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"],
        env={**os.environ, RUN_MARKER_ENV: str(run_dir)},
        start_new_session=True,
    )
    try:
        wait_until(lambda: run_processes(run_dir), what="the stray process")
        env = cli_env(rave_double)
        _checkpoint(run_dir)
        resume = ravelab(db_path, env, "resume", str(experiment_id))
        no_traceback(resume.stdout, resume.stderr)
        assert resume.returncode != 0 and "still shutting down" in resume.stderr, resume
        ravelab_ok(db_path, env, "stop", str(experiment_id))
        assert stray.wait(timeout=60) is not None
    finally:
        if stray.poll() is None:
            stray.kill()
            stray.wait()
    record = experiment(db, experiment_id)
    assert (record.status, record.reason) == ("stopped", "stopped by the user")
    assert not (run_dir / SUPERVISOR_FILE).is_dir()
    assert trainer_identity(run_dir) is not None
    assert rows.metric_history(db, experiment_id, "loss") == points
    again = ravelab(db_path, env, "stop", str(experiment_id))
    assert again.returncode == ExitCode.INVALID and "is not running" in again.stderr


@pytest.mark.parametrize("point", ["after-insert", "after-launch"])
def test_a_run_stopped_while_launched_by_a_command_then_killed_is_settled(
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
    point: str,
) -> None:
    env = cli_env(rave_double, **LONG_RUN)
    gate = tmp_path / "gate"
    train = start_paused(train_args(db_path, "orphan-stop"), env, gate, point, output=False)
    record = rows.find_experiment_by_name(db, "orphan-stop")
    assert record is not None
    if point == "after-launch":
        run_dir = Path(str(record.run_dir))
        wait_some_points(run_dir)
    ravelab_ok(db_path, env, "stop", str(record.id), "--no-wait")
    train.kill()
    train.wait()
    if point == "after-launch":
        wait_until(lambda: not run_processes(run_dir), timeout=60, what="the run's processes end")
    listing = ravelab(db_path, env, "list")
    no_traceback(listing.stdout, listing.stderr)
    record = experiment(db, record.id)
    assert record.status == "stopped" and record.ended_at is not None, record
    if point == "after-launch":
        assert record.reason == "stopped by the user"
        assert len(assert_points_exact(db, record.id)) >= 3  # what it printed is kept
    else:
        assert record.reason == "stopped by the user before it started"
        assert record.run_dir is None


@pytest.mark.slow
@pytest.mark.parametrize("killed", ["before-the-request", "after-the-request"])
def test_a_stop_at_the_next_checkpoint_survives_its_supervisor(
    make_manager: Any,
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    monkeypatch: pytest.MonkeyPatch,
    killed: str,
) -> None:
    long_runs(monkeypatch)
    _, experiment_id, run_dir = start_run(make_manager, db, dataset_id, "at-checkpoint")
    trainer = wait_training(run_dir)
    env = cli_env(rave_double)
    if killed == "before-the-request":
        kill_supervisor(db, experiment_id)
    asked = ravelab(db_path, env, "stop", str(experiment_id), "--at-checkpoint")
    no_traceback(asked.stdout, asked.stderr)
    assert asked.returncode == 0 and "at its next checkpoint" in asked.stdout, asked
    if killed == "after-the-request":
        kill_supervisor(db, experiment_id)
        listing = ravelab(db_path, env, "list")  # re-attaching hands the request on
        no_traceback(listing.stdout, listing.stderr)
    wait_until(lambda: processes_with_env(STOPPER_ENV, marker_value(run_dir)), what="a stopper")
    # No checkpoint yet: the run trains on, and shows as running.
    assert is_alive(trainer[0]) is True
    assert experiment(db, experiment_id).status == "running"
    checkpoint = _checkpoint(run_dir)
    wait_until(lambda: not run_processes(run_dir), timeout=60, what="the run's processes end")
    listing = ravelab(db_path, env, "list")
    no_traceback(listing.stdout, listing.stderr)
    final = experiment(db, experiment_id)
    assert (final.status, final.reason) == ("stopped", "stopped by the user")
    assert final.ended_at is not None and checkpoint.exists()
    assert_points_exact(db, experiment_id)
    wait_until(
        lambda: not processes_with_env(STOPPER_ENV, marker_value(run_dir)),
        what="the stopper ends",
    )


def test_a_run_whose_folder_is_moved_away_says_so_and_still_stops(
    make_manager: Any,
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    long_runs(monkeypatch)
    _, experiment_id, run_dir = start_run(make_manager, db, dataset_id, "moved")
    wait_training(run_dir)
    run_dir.rename(tmp_path / "elsewhere")
    env = cli_env(rave_double)
    logs = ravelab(db_path, env, "logs", str(experiment_id))
    no_traceback(logs.stdout, logs.stderr)
    assert logs.returncode == ExitCode.NOT_FOUND
    assert logs.stderr.count("\n") == 1 and "is missing: it was moved or deleted" in logs.stderr
    show = ravelab(db_path, env, "show", str(experiment_id))
    assert show.returncode == 0 and f"{run_dir} (missing)" in show.stdout, show
    # The run's processes still carry the folder's old path: they are found and stopped.
    ravelab_ok(db_path, env, "stop", str(experiment_id))
    assert not run_processes(run_dir)
    assert (experiment(db, experiment_id).status, experiment(db, experiment_id).reason) == (
        "stopped",
        "stopped by the user",
    )


@pytest.mark.slow
def test_a_resume_killed_before_it_starts_anything_is_never_started(
    stopped_run: StoppedRun,
    db: Database,
    db_path: Path,
    rave_double: Path,
    tmp_path: Path,
) -> None:
    experiment_id, run_dir = stopped_run("cut-short")
    points = rows.metric_history(db, experiment_id, "loss")
    _checkpoint(run_dir)
    env = cli_env(rave_double)
    gate = tmp_path / "gate"
    resume = start_paused(
        cli_args(db_path, "resume", str(experiment_id)), env, gate, "resume-claimed", output=False
    )
    # Meanwhile the row belongs to a living launcher: a `list` leaves it alone.
    listing = ravelab(db_path, env, "list")
    no_traceback(listing.stdout, listing.stderr)
    record = experiment(db, experiment_id)
    assert (record.status, record.ended_at, record.pid) == ("running", None, None)
    resume.kill()
    resume.wait()
    listing = ravelab(db_path, env, "list")
    no_traceback(listing.stdout, listing.stderr)
    record = experiment(db, experiment_id)
    assert record.status == "failed" and record.ended_at is not None
    assert record.reason is not None and record.reason.startswith("never started"), record.reason
    assert not run_processes(run_dir)
    assert rows.metric_history(db, experiment_id, "loss") == points  # none lost, none doubled
    # It can be resumed again, from the same checkpoint.
    ravelab_ok(db_path, env, "resume", str(experiment_id))
    done = ravelab(db_path, env, "stop", str(experiment_id))
    assert done.returncode == 0, done.stderr
    assert experiment(db, experiment_id).status == "stopped"


def test_exports_of_two_checkpoints_never_share_one_model_file(
    stopped_run: StoppedRun,
    db: Database,
    db_path: Path,
    rave_double: Path,
) -> None:
    experiment_id, run_dir = stopped_run("exported")
    latest = _checkpoint(run_dir)
    best = latest.with_name("best.ckpt")
    best.write_bytes(b"best")
    os.utime(best, (latest.stat().st_mtime - 60, latest.stat().st_mtime - 60))
    env = cli_env(rave_double)
    ravelab_ok(db_path, env, "export", str(experiment_id), "--checkpoint", "best")
    (model,) = rows_models(db)
    kept = Path(model["path"]).read_bytes()
    # The latest checkpoint, twice at once: each export gets a file of its own.
    both = [
        start_command(
            cli_args(db_path, "export", str(experiment_id), "--checkpoint", "latest"),
            env,
            output=True,
        )
        for _ in range(2)
    ]
    for proc in both:
        out, err = proc.communicate(timeout=120)
        no_traceback(out, err)
        assert proc.returncode == 0, err
    models = rows_models(db)
    assert len({m["path"] for m in models}) == 3, models
    assert Path(model["path"]).read_bytes() == kept  # the first model is untouched
    assert [m["checkpoint"] for m in models].count(str(best)) == 1
    assert [m["checkpoint"] for m in models].count(str(latest)) == 2


def rows_models(db: Database) -> list[dict[str, Any]]:
    """The recorded models, oldest first."""
    return [dict(row) for row in db.query("SELECT path, checkpoint FROM models ORDER BY id")]


def test_a_supervisor_json_naming_another_process_never_gets_it_signalled(
    make_manager: Any,
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    long_runs(monkeypatch)
    _, experiment_id, run_dir = start_run(make_manager, db, dataset_id, "swapped")
    wait_training(run_dir)
    kill_supervisor(db, experiment_id)
    # An unrelated process (its own session), named as the trainer with its true identity.
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"], start_new_session=True
    )
    try:
        data = json.loads((run_dir / SUPERVISOR_FILE).read_text())
        data.update(
            trainer_pid=bystander.pid,
            trainer_pgid=bystander.pid,
            trainer_start_time=psutil.Process(bystander.pid).create_time(),
        )
        (run_dir / SUPERVISOR_FILE).write_text(json.dumps(data))
        env = cli_env(rave_double)
        ravelab_ok(db_path, env, "stop", str(experiment_id))
        # The run's own processes (found by their marker) are stopped; the bystander lives.
        assert not run_processes(run_dir)
        assert bystander.poll() is None
        final = experiment(db, experiment_id)
        assert (final.status, final.reason) == ("stopped", "stopped by the user")
        assert final.ended_at is not None
        assert_points_exact(db, experiment_id)
    finally:
        bystander.kill()
        bystander.wait()


def test_a_run_of_another_machine_is_not_marked_stopped_from_here(
    stopped_run: StoppedRun,
    db: Database,
    db_path: Path,
    rave_double: Path,
) -> None:
    experiment_id, run_dir = stopped_run("elsewhere")
    # As a database on a shared drive shows a run that another machine is training.
    (run_dir / "exit.json").rename(run_dir / "exit.0.json")
    db.execute(
        "UPDATE experiments SET status = 'running', ended_at = NULL, completed_at = NULL, "
        "stop_requested_at = NULL, reason = NULL, host = 'another-host' WHERE id = ?",
        (experiment_id,),
    )
    env = cli_env(rave_double)
    for extra in ([], ["--at-checkpoint"]):
        done = ravelab(db_path, env, "stop", str(experiment_id), "--no-wait", *extra)
        no_traceback(done.stdout, done.stderr)
        assert done.returncode != 0
        assert done.stderr.count("\n") == 1 and "runs on 'another-host'" in done.stderr
        record = experiment(db, experiment_id)
        assert (record.status, record.stop_requested_at, record.ended_at) == (
            "running",
            None,
            None,
        )
        assert not record.stop_at_checkpoint
    # Stopped over there but not ended yet: no second trainer is started here.
    db.execute(
        "UPDATE experiments SET status = 'stopped', stop_requested_at = '2026-01-01T00:00:00' "
        "WHERE id = ?",
        (experiment_id,),
    )
    _checkpoint(run_dir)
    resume = ravelab(db_path, env, "resume", str(experiment_id))
    no_traceback(resume.stdout, resume.stderr)
    assert resume.returncode != 0 and "still shutting down" in resume.stderr, resume.stderr
    assert not run_processes(run_dir)


def test_a_stop_after_the_trainer_ended_does_not_call_its_run_stopped(
    make_manager: Any, db: Database, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_STEP_LINES", "40")
    manager, experiment_id, run_dir = start_run(make_manager, db, dataset_id, "finished")
    # It completes while nobody has read it yet (the app's poll has not come round).
    wait_until(lambda: (run_dir / "exit.json").exists(), timeout=60, what="exit.json")
    assert experiment(db, experiment_id).status == "running"
    for at_checkpoint in (False, True):
        assert manager.stop_training(experiment_id, at_checkpoint=at_checkpoint) is False
        record = experiment(db, experiment_id)
        assert (record.status, record.stop_requested_at, record.exit_code) == (
            "completed",
            None,
            0,
        )
    assert len(assert_points_exact(db, experiment_id)) == 40


@pytest.mark.parametrize("stop", ["plain", "at-checkpoint"])
def test_a_run_adopted_without_its_supervisor_stops_with_its_workers(
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
    stop: str,
) -> None:
    env = cli_env(rave_double, **LONG_RUN)
    gate = tmp_path / "gate"
    # Two dataloader workers that ignore SIGINT (the double's), in the trainer's group.
    train = start_paused(
        [*train_args(db_path, "adopted")[:-2], "--workers", "2"],
        env,
        gate,
        "after-launch",
        output=False,
    )
    record = rows.find_experiment_by_name(db, "adopted")
    assert record is not None and record.run_dir is not None
    run_dir = Path(record.run_dir)
    wait_training(run_dir)
    # A short SIGINT grace: the workers ignore SIGINT, only the SIGTERM after it ends them.
    spec = LaunchSpec.read(run_dir)
    LaunchSpec(spec.argv, spec.cwd, int_grace_s=1.0, term_grace_s=5.0).write(run_dir)
    # The launcher and the supervisor die: re-attaching adopts the trainer.
    for pid in _supervisors(run_dir):
        os.kill(pid, 9)
    train.kill()
    train.wait()
    wait_until(lambda: not _supervisors(run_dir), what="the supervisor is gone")
    listing = ravelab(db_path, env, "list")
    no_traceback(listing.stdout, listing.stderr)
    adopted = experiment(db, record.id)
    assert adopted.pid is not None and adopted.pid not in _supervisors(run_dir)
    assert (adopted.status, adopted.ended_at) == ("running", None)
    if stop == "at-checkpoint":
        ravelab_ok(db_path, env, "stop", str(record.id), "--at-checkpoint")
        # Not killed on the spot: a stopper waits for the checkpoint.
        wait_until(lambda: processes_with_env(STOPPER_ENV, marker_value(run_dir)), what="stopper")
        assert is_alive(ProcessIdentity(adopted.pid, adopted.pid_start_time)) is True
        _checkpoint(run_dir)
    else:
        done = ravelab(db_path, env, "stop", str(record.id))
        no_traceback(done.stdout, done.stderr)
        assert done.returncode == 0 and "stopped (exit code" in done.stdout, done
    wait_until(lambda: not run_processes(run_dir), timeout=60, what="the run's processes end")
    listing = ravelab(db_path, env, "list")
    final = experiment(db, record.id)
    assert (final.status, final.reason) == ("stopped", "stopped by the user")
    assert final.ended_at is not None
    assert_points_exact(db, record.id)
