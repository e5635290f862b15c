"""The queue under kills and races: the claimer (a `train --queue` command, the warden)
killed right after its claim committed and before the run's process is recorded, and
several processes claiming one device at once. Every queued run ends up started exactly
once, never lost, never doubled."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.operations import warden
from ravelab.db import Database
from ravelab.db import experiments as rows
from ravelab.db import run_queue as queue_rows
from tests.faults.run_helpers import (
    assert_points_exact,
    cli_env,
    gate_env,
    ravelab_ok,
    start_command,
    train_args,
    wait_reached,
)
from tests.helpers import run_config, wait_until

pytestmark = pytest.mark.faults

_STEPS = 40


def _attempts(db: Database, experiment_id: int) -> int:
    row = db.query_one(
        "SELECT COUNT(*) FROM run_attempts WHERE experiment_id = ?", (experiment_id,)
    )
    assert row is not None
    return int(row[0])


def _run_warden(db_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ravelab.core.operations.warden", str(db_path)],
        env={**env, warden.IDLE_ENV: "0"},
    )


def _assert_started_once(db: Database, experiment_id: int, runs: Path) -> None:
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    assert (record.status, record.reason) == ("completed", None), record
    assert _attempts(db, experiment_id) == 1
    # One folder for the run (a claim that died before making one leaves none behind).
    folders = [p for p in runs.iterdir() if p.name.startswith(f"{experiment_id:04d}-")]
    assert folders == [Path(record.run_dir)]
    assert len(assert_points_exact(db, experiment_id)) == _STEPS


def test_a_train_queue_command_killed_after_its_claim_leaves_the_run_queued(
    db: Database, db_path: Path, dataset_id: int, rave_double: Path, tmp_path: Path
) -> None:
    env = cli_env(rave_double, FAKE_RAVE_STEP_LINES=str(_STEPS))
    gate = tmp_path / "gate"
    proc = start_command(
        train_args(db_path, "claimed", "--queue"),
        {**env, **gate_env(gate, "RAVELAB_FAULT_QUEUE", "after-claim")},
        output=False,
    )
    wait_reached(gate, proc)
    (record,) = rows.list_experiments(db)
    assert (record.status, record.pid, record.run_dir) == ("running", None, None)
    assert queue_rows.list_queue(db) == []  # claimed: out of the queue, held by the claimer
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    # The next command re-attaches: the run goes back to the head of its queue.
    listed = json.loads(ravelab_ok(db_path, env, "queue", "--json").stdout)
    assert [(e["experiment_id"], e["rank"], e["device"]) for e in listed] == [(record.id, 1, "cpu")]
    assert rows.get_experiment(db, record.id).status == "queued"
    # The warden starts it, follows it to its end, and exits.
    assert _run_warden(db_path, env).wait(timeout=120) == 0
    _assert_started_once(db, record.id, tmp_path / "runs")
    assert queue_rows.list_queue(db) == []


def test_a_train_queue_command_killed_after_starting_the_run_is_adopted_not_requeued(
    db: Database, db_path: Path, dataset_id: int, rave_double: Path, tmp_path: Path
) -> None:
    env = cli_env(rave_double, FAKE_RAVE_STEP_LINES=str(_STEPS))
    gate = tmp_path / "gate"
    proc = start_command(
        train_args(db_path, "launched", "--queue"),
        {**env, **gate_env(gate, "RAVELAB_FAULT_LAUNCH", "after-launch")},
        output=False,
    )
    wait_reached(gate, proc)  # the run's supervisor started; not recorded yet
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (record,) = rows.list_experiments(db)
    assert (record.status, record.pid) == ("running", None) and record.run_dir is not None

    # Re-attaching adopts the running (or ended) run: it never goes back to the queue.
    ravelab_ok(db_path, env, "list")
    assert queue_rows.list_queue(db) == []
    wait_until(
        lambda: (ravelab_ok(db_path, env, "list"), rows.get_experiment(db, record.id).ended_at)[1],
        timeout=120,
        what="the adopted run to end",
    )
    _assert_started_once(db, record.id, tmp_path / "runs")


def test_the_warden_killed_after_its_claim_loses_and_doubles_nothing(
    db: Database,
    db_path: Path,
    dataset_id: int,
    rave_double: Path,
    tmp_path: Path,
    make_manager: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = cli_env(rave_double, FAKE_RAVE_STEP_LINES=str(_STEPS))
    runs = tmp_path / "runs"
    monkeypatch.setenv("RAVELAB_RUNS_DIR", str(runs))
    env["RAVELAB_RUNS_DIR"] = str(runs)
    manager = make_manager(follow=False)
    ids = [
        manager.queue_training(run_config(dataset_id, f"q{i}"), start_if_free=False)
        for i in range(2)
    ]
    gate = tmp_path / "gate"
    paused = _run_warden(db_path, {**env, **gate_env(gate, "RAVELAB_FAULT_QUEUE", "after-claim")})
    wait_reached(gate, paused)
    assert [r.experiment_id for r in queue_rows.list_queue(db)] == ids[1:]
    paused.send_signal(signal.SIGKILL)
    paused.wait(timeout=30)

    # A new warden (any command would start one) puts the claimed run back first, then
    # starts both in their order.
    assert _run_warden(db_path, env).wait(timeout=180) == 0
    for experiment_id in ids:
        _assert_started_once(db, experiment_id, runs)
    first, second = (rows.get_experiment(db, i) for i in ids)
    assert first.ended_at <= second.started_at  # one at a time on the device
    assert queue_rows.list_queue(db) == []


_CLAIM = """
import sys, time
from pathlib import Path
from ravelab.db import Database
from ravelab.db import run_queue
from ravelab.db.records import LaunchOwner
db = Database(sys.argv[1])
gate = Path(sys.argv[2])
Path(sys.argv[3]).touch()
while not gate.exists():
    time.sleep(0.005)
print(run_queue.claim_head(db, "cpu", LaunchOwner(1, 1.0, "elsewhere", 0.0)))
"""


def test_claimers_in_several_processes_at_once_start_one_run_per_device(
    db: Database, db_path: Path, dataset_id: int, make_manager: Any, tmp_path: Path
) -> None:
    manager = make_manager(follow=False)
    ids = [
        manager.queue_training(run_config(dataset_id, f"r{i}"), start_if_free=False)
        for i in range(3)
    ]
    gate = tmp_path / "go"
    claimers = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIM, str(db_path), str(gate), str(tmp_path / f"ready{i}")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    wait_until(
        lambda: all((tmp_path / f"ready{i}").exists() for i in range(4)), what="the claimers"
    )
    gate.touch()
    results = [proc.communicate(timeout=60)[0].strip() for proc in claimers]
    assert sorted(results) == sorted([str(ids[0]), "None", "None", "None"])
    assert [r.experiment_id for r in queue_rows.list_queue(db)] == ids[1:]
