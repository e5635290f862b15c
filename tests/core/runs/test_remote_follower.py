"""Following runs in a child process (the app's mode): the child's messages become the
same signals, nothing is lost when the child dies, and it never outlives its follower."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from ravelab.core.runs.follow_child import Relay
from ravelab.core.runs.training_process import TrainingProcess
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import run_config as _config
from tests.helpers import wait_until

CHILD_MODULE = "ravelab.core.runs.follow_child"


def _follower_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if CHILD_MODULE in child.cmdline():
                found.append(child)
        except psutil.Error:
            continue
    return found


def _start(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, scale: str, steps: int
) -> tuple[Any, int, TrainingProcess]:
    """A run of the double, followed as the app follows: (manager, experiment id, process)."""
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", scale)
    manager = make_manager(follow_out_of_process=True)
    experiment_id = manager.start_training(_config(dataset_id, max_steps=steps))
    return manager, experiment_id, manager.active_processes[experiment_id]


def test_a_run_followed_in_a_child_reports_through_the_same_signals(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    manager, experiment_id, process = _start(make_manager, dataset_id, monkeypatch, "0.01", 60)
    seen: dict[str, list[Any]] = {"steps": [], "progress": [], "finished": []}
    process.step_update.connect(lambda step, total: seen["steps"].append((step, total)))
    process.progress_update.connect(seen["progress"].append)
    process.finished.connect(lambda ok, message: seen["finished"].append((ok, message)))
    children = wait_until(_follower_children, timeout=30, what="a follower child")
    assert f"{experiment_id}" in children[0].cmdline()

    experiment = manager.wait(experiment_id, timeout=90)

    assert experiment["status"] == "completed" and experiment["progress"]["step"] == 60
    assert seen["finished"] == [(True, "completed")]
    assert process.outcome is not None and process.outcome.status == "completed"
    assert seen["steps"] and seen["steps"][-1] == (60, 60)
    assert any("epoch" in progress for progress in seen["progress"])
    assert process.current_metrics["step"] == 60
    assert [step for step, _ in manager.get_metric_history(experiment_id, "lr")] == [49]
    assert experiment_id not in manager.active_processes
    wait_until(lambda: not _follower_children(), timeout=10, what="the child to exit")


def test_lines_are_relayed_to_listeners_present_when_following_starts(
    db: Database, make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.01")
    manager = make_manager(follow=False, follow_out_of_process=True)
    experiment_id = manager.start_training(_config(dataset_id, max_steps=60))
    process = manager.follower(experiment_id)  # followed below, listened to from the start
    assert process.out_of_process
    lines: list[str] = []
    process.output.connect(lines.append)
    process.start()
    assert process.wait(90)
    process.join(10)
    assert any(line.startswith("train set: 19 examples") for line in lines)
    assert process.outcome is not None and process.outcome.status == "completed"


def test_when_the_child_dies_the_thread_takes_the_run_up_without_loss(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    manager, experiment_id, process = _start(make_manager, dataset_id, monkeypatch, "0.05", 120)
    stepped = threading.Event()
    process.step_update.connect(lambda step, total: stepped.set())
    (child,) = wait_until(_follower_children, timeout=30, what="a follower child")
    assert stepped.wait(60), "no step relayed"
    child.kill()

    experiment = manager.wait(experiment_id, timeout=120)

    assert experiment["status"] == "completed" and experiment["progress"]["step"] == 120
    assert not _follower_children()  # taken up in the thread, not in a new child
    lr = manager.get_metric_history(experiment_id, "lr")
    assert [step for step, _ in lr] == [49, 99]  # nothing lost, nothing twice


def test_shutdown_stops_the_child_and_leaves_the_run_going(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    manager, experiment_id, process = _start(make_manager, dataset_id, monkeypatch, "0.05", 120)
    wait_until(_follower_children, timeout=30, what="a follower child")
    wait_until(lambda: rows.get_offsets(db, experiment_id).get("stdout"), what="a first read")
    manager.shutdown()
    assert not _follower_children()
    assert manager.get_experiment(experiment_id)["status"] == "running"
    # This thread takes up where the child stopped, should it poll again.
    stored = rows.get_offsets(db, experiment_id)["stdout"]
    assert process._splitters["stdout"].offset == stored > 0
    again = make_manager()  # the next app re-attaches and follows to the end
    assert again.wait(experiment_id, timeout=120)["status"] == "completed"


def test_an_in_memory_database_is_followed_in_process(
    rave_double: Path, runs_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ravelab.core.runs.training_manager import TrainingManager

    memory = Database(":memory:")
    try:
        manager = TrainingManager(memory, rave=str(rave_double), follow_out_of_process=True)
        assert manager.follow_out_of_process is False
    finally:
        memory.close()


def _run_child(db_path: Path, experiment: int) -> subprocess.CompletedProcess[str]:
    """Run a follower child to its end, with no parent feeding its stdin."""
    return subprocess.run(
        [sys.executable, "-m", CHILD_MODULE, "--db", str(db_path), "--experiment", str(experiment)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_the_child_refuses_an_unknown_experiment_in_one_line(db_path: Path, db: Database) -> None:
    result = _run_child(db_path, 999)
    assert result.returncode == 2
    assert "experiment 999 not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_the_child_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ravelab.db"
    result = _run_child(missing, 1)
    assert result.returncode == 2
    assert f"no database at {missing}" in result.stderr and "Traceback" not in result.stderr
    assert not missing.parent.exists()


def test_the_relay_merges_signals_and_keeps_nan() -> None:
    process = TrainingProcess({"max_steps": 10})
    out = io.StringIO()
    relay = Relay(process, out)
    process.metrics_update.emit({"loss": 1.0})
    process.metrics_update.emit({"loss": float("nan"), "lr": 0.001})
    process.step_update.emit(3, 10)
    process.step_update.emit(4, 10)
    process.progress_update.emit({"epoch": 1})
    process.progress_update.emit({"batch": 2})
    process.health_update.emit("broken", "NaN in loss")
    process.output_line.emit("stdout", "not relayed", False)
    relay.flush()
    relay.flush()  # nothing pending: nothing written
    (line,) = out.getvalue().splitlines()
    message = json.loads(line)
    assert math.isnan(message["metrics"]["loss"]) and message["metrics"]["lr"] == 0.001
    assert message["step"] == [4, 10]
    assert message["progress"] == {"epoch": 1, "batch": 2}
    assert message["health"] == ["broken", "NaN in loss"]
    assert "lines" not in message

    receiver = TrainingProcess({"max_steps": 10})
    got: list[Any] = []
    receiver.metrics_update.connect(got.append)
    receiver.health_update.connect(lambda health, detail: got.append((health, detail)))
    receiver.apply_relayed(message)
    assert receiver.health == "broken" and receiver.parser.step == 4
    assert math.isnan(receiver.current_metrics["loss"])
    assert got[0] == ("broken", "NaN in loss")  # status and health first, then values
    assert math.isnan(got[1]["loss"]) and got[1]["lr"] == 0.001
