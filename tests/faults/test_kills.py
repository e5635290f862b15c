"""Kills at chosen points, with real processes: the supervisor before and after it writes
supervisor.json, the trainer, and stops whose supervisor is gone (`stop --no-wait`, a stop
asked twice, a damaged launch.json). The test-only pause points put each kill exactly
where it is meant to land."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.runs.executor import run_processes, trainer_identity
from ravelab.core.runs.process_identity import ProcessIdentity, is_alive
from ravelab.core.runs.run_files import LAUNCH_FILE, SUPERVISOR_FILE, LaunchSpec
from ravelab.db import Database
from tests.faults.run_helpers import (
    assert_points_exact,
    cli_env,
    experiment,
    gate_env,
    no_traceback,
    printed_points,
    ravelab,
    wait_reached,
)
from tests.helpers import run_config, wait_until

pytestmark = pytest.mark.faults

#: A run long enough to be killed mid-way (it is always stopped, never waited out).
_LONG = {"FAKE_RAVE_STEP_LINES": "100000", "FAKE_RAVE_STEP_RATE": "100"}


def _long_run(monkeypatch: pytest.MonkeyPatch, gate: Path | None, point: str = "") -> None:
    for name, value in _LONG.items():
        monkeypatch.setenv(name, value)
    if gate is not None:
        for name, value in gate_env(gate, "RAVELAB_FAULT_SUPERVISOR", point).items():
            monkeypatch.setenv(name, value)


def _kill_supervisor(db: Database, experiment_id: int) -> Path:
    record = experiment(db, experiment_id)
    assert record.pid is not None and record.pid_start_time is not None
    supervisor = ProcessIdentity(record.pid, record.pid_start_time)
    os.kill(record.pid, signal.SIGKILL)
    wait_until(lambda: is_alive(supervisor) is False, timeout=30, what="supervisor gone")
    return Path(record.run_dir)


def _some_points(run_dir: Path) -> None:
    wait_until(lambda: len(printed_points(run_dir)) >= 3, timeout=60, what="a few steps")


@pytest.mark.parametrize("point", ["before-supervisor-json", "after-supervisor-json"])
def test_a_killed_supervisor_leaves_a_run_that_stays_running_and_stops(
    make_manager: Any,
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:
    gate = tmp_path / "gate"
    _long_run(monkeypatch, gate, point)
    first = make_manager(follow=False)
    experiment_id = first.start_training(run_config(dataset_id, name="orphaned"))
    wait_reached(gate)
    run_dir = _kill_supervisor(db, experiment_id)
    assert (run_dir / SUPERVISOR_FILE).exists() == (point == "after-supervisor-json")
    _some_points(run_dir)
    # Every command re-attaches: the trainer lives on, so the run is still running.
    second = make_manager(follow=False)
    record = experiment(db, experiment_id)
    assert (record.status, record.ended_at) == ("running", None), record.reason
    assert run_processes(run_dir)
    # `stop --no-wait` returns at once; the stop it started must still finish the run.
    done = ravelab(db_path, cli_env(rave_double), "stop", str(experiment_id), "--no-wait")
    no_traceback(done.stdout, done.stderr)
    assert done.returncode == 0, done.stderr
    final = second.wait(experiment_id, timeout=60)
    assert (final["status"], final["reason"]) == ("stopped", "stopped by the user")
    wait_until(lambda: not run_processes(run_dir), timeout=30, what="the run's processes end")
    assert_points_exact(db, experiment_id)


@pytest.mark.slow
def test_a_stop_asked_twice_escalates_where_the_supervisor_is_gone(
    make_manager: Any,
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = tmp_path / "gate"
    _long_run(monkeypatch, gate, "after-supervisor-json")
    manager = make_manager(follow=False)
    # Two dataloader workers that ignore SIGINT: only SIGTERM ends them.
    experiment_id = manager.start_training(run_config(dataset_id, name="stubborn", workers=2))
    wait_reached(gate)
    run_dir = _kill_supervisor(db, experiment_id)
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
    make_manager: Any,
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    gate = tmp_path / "gate"
    _long_run(monkeypatch, gate, "after-supervisor-json")
    manager = make_manager(follow=False)
    experiment_id = manager.start_training(run_config(dataset_id, name="damaged"))
    wait_reached(gate)
    run_dir = _kill_supervisor(db, experiment_id)
    (run_dir / LAUNCH_FILE).unlink()
    if damage == "folder":
        (run_dir / LAUNCH_FILE).mkdir()
    else:
        (run_dir / LAUNCH_FILE).write_text(damage)
    _some_points(run_dir)
    done = ravelab(db_path, cli_env(rave_double), "stop", str(experiment_id))
    no_traceback(done.stdout, done.stderr)
    assert done.returncode == 0, done.stderr
    final = manager.wait(experiment_id, timeout=60)
    assert final["status"] == "stopped"
    assert not run_processes(run_dir)
    assert_points_exact(db, experiment_id)


def test_a_killed_trainer_fails_with_its_signal_and_keeps_its_points(
    make_manager: Any, db: Database, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _long_run(monkeypatch, None)
    manager = make_manager(follow=False)
    experiment_id = manager.start_training(run_config(dataset_id, name="killed"))
    run_dir = Path(experiment(db, experiment_id).run_dir)
    trainer = wait_until(lambda: trainer_identity(run_dir), what="supervisor.json")
    _some_points(run_dir)
    os.killpg(trainer[1], signal.SIGKILL)
    final = manager.wait(experiment_id, timeout=60)
    assert final["status"] == "failed"
    assert "SIGKILL" in final["reason"]
    assert json.loads((run_dir / "exit.json").read_text())["signal"] == "SIGKILL"
    assert_points_exact(db, experiment_id)


def test_a_damaged_exit_json_while_the_run_lives_does_not_end_it(
    make_manager: Any, db: Database, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _long_run(monkeypatch, None)
    first = make_manager(follow=False)
    experiment_id = first.start_training(run_config(dataset_id, name="poisoned"))
    run_dir = Path(experiment(db, experiment_id).run_dir)
    wait_until(lambda: trainer_identity(run_dir), what="supervisor.json")
    _some_points(run_dir)
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
    make_manager: Any,
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    supervisor: str,
) -> None:
    gate = tmp_path / "gate"
    _long_run(monkeypatch, gate, "after-supervisor-json")
    manager = make_manager(follow=False)
    experiment_id = manager.start_training(run_config(dataset_id, name="flagged"))
    wait_reached(gate)
    run_dir = Path(experiment(db, experiment_id).run_dir)
    data = json.loads((run_dir / SUPERVISOR_FILE).read_text())
    data["trainer_pid"] = None
    (run_dir / SUPERVISOR_FILE).write_text(json.dumps(data))
    if supervisor == "killed":
        _kill_supervisor(db, experiment_id)
    else:
        gate.touch()  # the supervisor goes on supervising
    _some_points(run_dir)
    env = cli_env(rave_double)
    listing = ravelab(db_path, env, "list")
    no_traceback(listing.stdout, listing.stderr)
    record = experiment(db, experiment_id)
    assert (record.status, record.ended_at) == ("running", None)
    assert record.reason == (
        "damaged run file: supervisor.json: trainer_pid is None, expected a positive integer (pid)"
    )
    done = ravelab(db_path, env, "stop", str(experiment_id))
    no_traceback(done.stdout, done.stderr)
    assert done.returncode == 0, done.stderr
    final = manager.wait(experiment_id, timeout=60)
    assert (final["status"], final["reason"]) == ("stopped", "stopped by the user")
    assert not run_processes(run_dir)
    assert_points_exact(db, experiment_id)
