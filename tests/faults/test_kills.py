"""Kills at chosen points, with real processes: the supervisor before and after it writes
supervisor.json, the trainer, and stops whose supervisor is gone (`stop --no-wait`, a stop
asked twice, a damaged launch.json). The test-only pause points put each kill exactly
where it is meant to land."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.runs.executor import run_processes, trainer_identity
from ravelab.core.runs.process_identity import is_alive
from ravelab.core.runs.run_files import LAUNCH_FILE, SUPERVISOR_FILE, LaunchSpec
from ravelab.db import Database
from tests.faults.run_helpers import (
    assert_points_exact,
    cli_env,
    experiment,
    gate_env,
    kill_supervisor,
    long_runs,
    no_traceback,
    ravelab,
    ravelab_ok,
    start_run,
    wait_reached,
    wait_some_points,
    wait_training,
)
from tests.helpers import run_config, wait_until

pytestmark = pytest.mark.faults

#: ``paused_run(name, point, **config)``: (manager, experiment id, gate) of a long run
#: whose supervisor waits at the fault point ``point`` until ``gate`` exists.
PausedRun = Callable[..., tuple[Any, int, Path]]


@pytest.fixture
def paused_run(
    make_manager: Any, dataset_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> PausedRun:
    """Start a long run whose supervisor pauses at a test-only fault point, and wait
    until it got there: the kill then lands exactly there."""

    def start(name: str, point: str, **config: Any) -> tuple[Any, int, Path]:
        gate = tmp_path / "gate"
        long_runs(monkeypatch)
        for variable, value in gate_env(gate, "RAVELAB_FAULT_SUPERVISOR", point).items():
            monkeypatch.setenv(variable, value)
        manager = make_manager(follow=False)
        experiment_id = manager.start_training(run_config(dataset_id, name=name, **config))
        wait_reached(gate)
        return manager, experiment_id, gate

    return start


@pytest.mark.parametrize("point", ["before-supervisor-json", "after-supervisor-json"])
def test_a_killed_supervisor_leaves_a_run_that_stays_running_and_stops(
    make_manager: Any,
    paused_run: PausedRun,
    db: Database,
    db_path: Path,
    rave_double: Path,
    point: str,
) -> None:
    _, experiment_id, _ = paused_run("orphaned", point)
    run_dir = kill_supervisor(db, experiment_id)
    assert (run_dir / SUPERVISOR_FILE).exists() == (point == "after-supervisor-json")
    wait_some_points(run_dir)
    # Every command re-attaches: the trainer lives on, so the run is still running.
    second = make_manager(follow=False)
    record = experiment(db, experiment_id)
    assert (record.status, record.ended_at) == ("running", None), record.reason
    assert run_processes(run_dir)
    # `stop --no-wait` returns at once; the stop it started must still finish the run.
    ravelab_ok(db_path, cli_env(rave_double), "stop", str(experiment_id), "--no-wait")
    final = second.wait(experiment_id, timeout=60)
    assert (final["status"], final["reason"]) == ("stopped", "stopped by the user")
    wait_until(lambda: not run_processes(run_dir), timeout=30, what="the run's processes end")
    assert_points_exact(db, experiment_id)


@pytest.mark.slow
def test_a_stop_asked_twice_escalates_where_the_supervisor_is_gone(
    paused_run: PausedRun,
    db: Database,
    db_path: Path,
    rave_double: Path,
) -> None:
    # Two dataloader workers that ignore SIGINT: only SIGTERM ends them.
    manager, experiment_id, _ = paused_run("stubborn", "after-supervisor-json", workers=2)
    run_dir = kill_supervisor(db, experiment_id)
    trainer = trainer_identity(run_dir)
    assert trainer is not None
    # A long SIGINT grace: only a second stop can end the workers soon.
    spec = LaunchSpec.read(run_dir)
    LaunchSpec(spec.argv, spec.cwd, int_grace_s=3600.0, term_grace_s=5.0).write(run_dir)
    env = cli_env(rave_double)
    first = ravelab(db_path, env, "stop", str(experiment_id), "--no-wait")
    assert first.returncode == 0, first.stderr
    wait_until(lambda: is_alive(trainer[0]) is False, timeout=60, what="the trainer ends")
    assert run_processes(run_dir)  # the workers ignore SIGINT and live on
    record = experiment(db, experiment_id)
    assert record.status == "stopped"
    again = ravelab(db_path, env, "stop", str(experiment_id), "--no-wait")
    no_traceback(again.stdout, again.stderr)
    assert again.returncode == 0, again.stderr  # accepted: processes of the run live
    wait_until(lambda: not run_processes(run_dir), timeout=60, what="the workers end")
    final = manager.wait(experiment_id, timeout=60)
    assert final["status"] == "stopped"
    assert_points_exact(db, experiment_id)
    done = ravelab(db_path, env, "stop", str(experiment_id))
    assert done.returncode != 0 and "is not running" in done.stderr  # nothing left


@pytest.mark.parametrize("damage", ["[1, 2", '{"argv": "rave"}', "folder"])
def test_a_damaged_launch_json_never_keeps_a_run_from_stopping(
    paused_run: PausedRun,
    db: Database,
    db_path: Path,
    rave_double: Path,
    damage: str,
) -> None:
    manager, experiment_id, _ = paused_run("damaged", "after-supervisor-json")
    run_dir = kill_supervisor(db, experiment_id)
    (run_dir / LAUNCH_FILE).unlink()
    if damage == "folder":
        (run_dir / LAUNCH_FILE).mkdir()
    else:
        (run_dir / LAUNCH_FILE).write_text(damage)
    wait_some_points(run_dir)
    ravelab_ok(db_path, cli_env(rave_double), "stop", str(experiment_id))
    final = manager.wait(experiment_id, timeout=60)
    assert final["status"] == "stopped"
    assert not run_processes(run_dir)
    assert_points_exact(db, experiment_id)


def test_a_killed_trainer_fails_with_its_signal_and_keeps_its_points(
    make_manager: Any, db: Database, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_runs(monkeypatch)
    manager, experiment_id, run_dir = start_run(make_manager, db, dataset_id, "killed")
    trainer = wait_training(run_dir)
    os.killpg(trainer[1], signal.SIGKILL)
    final = manager.wait(experiment_id, timeout=60)
    assert final["status"] == "failed"
    assert "SIGKILL" in final["reason"]
    assert json.loads((run_dir / "exit.json").read_text())["signal"] == "SIGKILL"
    assert_points_exact(db, experiment_id)


def test_a_damaged_exit_json_while_the_run_lives_does_not_end_it(
    make_manager: Any, db: Database, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_runs(monkeypatch)
    _, experiment_id, run_dir = start_run(make_manager, db, dataset_id, "poisoned")
    wait_training(run_dir)
    (run_dir / "exit.json").write_text('{"exit_code": "x"}')
    second = make_manager(follow=False)
    record = experiment(db, experiment_id)
    assert (record.status, record.ended_at) == ("running", None)
    assert second.stop_training(experiment_id)
    final = second.wait(experiment_id, timeout=60)
    assert (final["status"], final["exit_code"]) == ("stopped", 0)  # the supervisor's own
    assert not run_processes(run_dir)
    assert_points_exact(db, experiment_id)


@pytest.mark.parametrize("supervisor", ["alive", "killed"])
def test_a_live_run_with_a_damaged_supervisor_json_is_flagged_and_stops(
    paused_run: PausedRun,
    db: Database,
    db_path: Path,
    rave_double: Path,
    supervisor: str,
) -> None:
    manager, experiment_id, gate = paused_run("flagged", "after-supervisor-json")
    run_dir = Path(experiment(db, experiment_id).run_dir)
    data = json.loads((run_dir / SUPERVISOR_FILE).read_text())
    data["trainer_pid"] = None
    (run_dir / SUPERVISOR_FILE).write_text(json.dumps(data))
    if supervisor == "killed":
        kill_supervisor(db, experiment_id)
    else:
        gate.touch()  # the supervisor goes on supervising
    wait_some_points(run_dir)
    env = cli_env(rave_double)
    listing = ravelab(db_path, env, "list")
    no_traceback(listing.stdout, listing.stderr)
    record = experiment(db, experiment_id)
    assert (record.status, record.ended_at) == ("running", None)
    assert record.reason == (
        "damaged run file: supervisor.json: trainer_pid is None, expected a positive integer (pid)"
    )
    ravelab_ok(db_path, env, "stop", str(experiment_id))
    final = manager.wait(experiment_id, timeout=60)
    assert (final["status"], final["reason"]) == ("stopped", "stopped by the user")
    assert not run_processes(run_dir)
    assert_points_exact(db, experiment_id)
