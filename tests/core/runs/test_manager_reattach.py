"""Re-attaching when a manager is made (``manager_reattach``): a run outlives the app that
started it and is followed again, a run that ended meanwhile is settled, a lost one is
failed, a run being launched waits for its launcher, and one run's trouble never stops
the others."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.runs.executor import trainer_identity
from ravelab.core.runs.run_files import EXIT_FILE
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.core.runs.test_manager_stop import _group_gone
from tests.helpers import assert_reattached_run_completes, wait_until
from tests.helpers import run_config as _config

_APP = """
import sys, time
from ravelab import Database, TrainingManager
db = Database(sys.argv[1])
manager = TrainingManager(db, rave=sys.argv[2], runs_dir=sys.argv[3], poll_interval=0.05)
experiment_id = manager.start_training({
    "name": "orphan", "dataset_id": int(sys.argv[4]), "config": "v2_small", "max_steps": 60,
    "batch_size": 4, "gpu": -1, "workers": 0, "overrides": ["PHASE_1_DURATION=150"]})
print(experiment_id, flush=True)
time.sleep(600)
"""


def test_killing_the_app_keeps_the_run_and_a_new_manager_reattaches(
    db: Database,
    rave_double: Path,
    runs_dir: Path,
    dataset_id: int,
    monkeypatch: pytest.MonkeyPatch,
    make_manager: Any,
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.02")
    # The trainer holds at step 5 until the new manager is there: on a loaded machine
    # it could otherwise end before anyone re-attaches.
    hold = runs_dir.parent / "hold"
    monkeypatch.setenv("FAKE_RAVE_HOLD_AT", "5")
    monkeypatch.setenv("FAKE_RAVE_HOLD_FILE", str(hold))
    app = subprocess.Popen(
        [sys.executable, "-c", _APP, db.path, str(rave_double), str(runs_dir), str(dataset_id)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert app.stdout is not None
    experiment_id = int(app.stdout.readline())
    wait_until(
        lambda: rows.get_experiment(db, experiment_id).progress.step > 3,
        timeout=60,
        what="the app's follower to record steps",
    )
    wait_until(lambda: Path(f"{hold}.reached").exists(), timeout=60, what="the hold")
    app.kill()  # the app dies without a chance to clean up
    app.wait()
    app.stdout.close()
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.status == "running" and record.ended_at is None
    manager = make_manager()
    hold.touch()
    assert_reattached_run_completes(manager, experiment_id, timeout=90)


def test_a_run_that_ended_while_the_app_was_closed_is_settled_on_start(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    first = make_manager()
    experiment_id = first.start_training(_config(dataset_id))
    first.shutdown()  # the app closes; the run goes on
    run_dir = Path(rows.get_experiment(db, experiment_id).run_dir)  # type: ignore[union-attr,arg-type]
    wait_until(lambda: (run_dir / EXIT_FILE).exists(), timeout=60, what="exit.json")
    assert rows.get_experiment(db, experiment_id).status == "running"  # type: ignore[union-attr]
    second = make_manager(follow=False)
    experiment = second.get_experiment(experiment_id)
    assert experiment["status"] == "completed"
    assert experiment["progress"]["step"] == 20


def test_a_run_whose_processes_vanished_is_failed_as_lost(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    first = make_manager()
    experiment_id = first.start_training(_config(dataset_id, max_steps=300))
    first.shutdown()
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.run_dir is not None and record.pid is not None
    trainer = wait_until(lambda: trainer_identity(Path(record.run_dir)), what="trainer")
    os.kill(record.pid, signal.SIGKILL)  # supervisor gone: no exit.json will be written
    os.killpg(trainer[1], signal.SIGKILL)
    wait_until(lambda: _group_gone(trainer[1]), timeout=10, what="trainer gone")
    second = make_manager(follow=False)
    experiment = second.get_experiment(experiment_id)
    assert experiment["status"] == "failed"
    assert experiment["reason"].startswith("process lost")


def test_a_launching_run_waits_for_its_owner(
    make_manager: Any, db: Database, dataset_id: int
) -> None:
    import time

    from ravelab.core.runs.process_identity import HOST, identify
    from ravelab.db.experiments import DuplicateNameError
    from ravelab.db.records import LaunchOwner

    me = identify(os.getpid())
    assert me is not None
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    owners = {
        "alive-here": LaunchOwner(os.getpid(), me.start_time, HOST, 0.0),
        "dead-here": LaunchOwner(int(dead.stdout), 1.0, HOST, time.time() + 600),
        "leased-elsewhere": LaunchOwner(1, 1.0, "elsewhere", time.time() + 600),
        "expired-elsewhere": LaunchOwner(1, 1.0, "elsewhere", time.time() - 1),
    }
    ids = {
        name: rows.insert_experiment(
            db, name=name, project_id=1, dataset_id=dataset_id, config={}, owner=owner
        )
        for name, owner in owners.items()
    }
    with pytest.raises(DuplicateNameError, match="'alive-here' exists already"):
        rows.insert_experiment(db, name="alive-here", project_id=1, dataset_id=None, config={})
    make_manager(follow=False)
    states = {name: rows.get_experiment(db, i) for name, i in ids.items()}
    assert {name: r.status for name, r in states.items() if r is not None} == {
        "alive-here": "running",
        "dead-here": "failed",
        "leased-elsewhere": "running",
        "expired-elsewhere": "failed",
    }
    reason = states["dead-here"].reason  # type: ignore[union-attr]
    assert reason is not None and reason.startswith("never started")


def test_one_runs_trouble_never_stops_the_others_reattaching(
    make_manager: Any, db: Database, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ravelab.core.runs.training_manager import TrainingManager

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    first = make_manager(follow=False)
    broken = first.start_training(_config(dataset_id, name="broken"))
    sound = first.start_training(_config(dataset_id, name="sound"))
    for experiment_id in (broken, sound):
        run_dir = Path(rows.get_experiment(db, experiment_id).run_dir)  # type: ignore[union-attr,arg-type]
        wait_until(lambda d=run_dir: (d / EXIT_FILE).exists(), timeout=60, what="exit.json")
    real = TrainingManager._make_process

    def make_process(self: Any, experiment_id: int, *args: Any) -> Any:
        if experiment_id == broken:
            raise RuntimeError("something unforeseen")
        return real(self, experiment_id, *args)

    monkeypatch.setattr(TrainingManager, "_make_process", make_process)
    make_manager(follow=False)
    bad = rows.get_experiment(db, broken)
    assert bad is not None and bad.status == "running"
    assert bad.reason == "ravelab cannot follow this run: something unforeseen"
    good = rows.get_experiment(db, sound)
    assert good is not None and good.status == "completed"
