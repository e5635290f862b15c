"""TrainingManager and TrainingProcess over real processes: the supervisor and the
`rave` double replaying genuine RAVE captures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.errors import ConfigError, RaveNotFoundError
from ravelab.core.runs.executor import trainer_identity
from ravelab.core.runs.run_files import EXIT_FILE
from ravelab.core.runs.training_process import TrainingProcess
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import run_config as _config
from tests.helpers import wait_until


def test_a_run_completes_with_its_progress_metrics_and_signals(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id))
    process = manager.active_processes[experiment_id]
    seen: dict[str, list[Any]] = {"output": [], "steps": [], "finished": []}
    process.output.connect(seen["output"].append)
    process.step_update.connect(lambda step, total: seen["steps"].append((step, total)))
    process.finished.connect(lambda ok, message: seen["finished"].append((ok, message)))
    experiment = manager.wait(experiment_id, timeout=60)

    assert experiment["status"] == "completed"
    assert experiment["exit_code"] == 0 and experiment["reason"] is None
    assert experiment["completed_at"] is not None
    assert experiment["progress"]["step"] == 20
    assert experiment["progress"]["percent"] == 100
    assert experiment["progress"]["train_examples"] == 19
    assert experiment["argv"][1:4] == ["train", "--config", "v2_small"]
    assert experiment_id not in manager.active_processes
    assert seen["finished"] == [(True, "completed")]
    assert seen["steps"][-1] == (20, 20)
    assert any(line.startswith("train set: 19 examples") for line in seen["output"])
    # RAVE prints no lr: its schedule is recorded at its logging steps.
    lr = manager.get_metric_history(experiment_id, "lr")
    assert [step for step, _ in lr] == []  # 20 steps: no logging step (49) reached yet
    assert manager.get_training_metrics(experiment_id)["step"] == 20
    run_dir = Path(experiment["run_dir"])
    assert json.loads((run_dir / EXIT_FILE).read_text())["exit_code"] == 0
    assert list(run_dir.glob("run_*/version_0/events.out.tfevents.*"))


def test_lr_schedule_points_follow_raves_logging_steps(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.001")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id, max_steps=120))
    assert manager.wait(experiment_id, timeout=90)["status"] == "completed"
    lr = manager.get_metric_history(experiment_id, "lr")
    assert [step for step, _ in lr] == [49, 99]
    assert lr[0][1] == pytest.approx(1e-3 * (1 - 0.9 * 49 / 150))


def test_stop_ends_the_run_as_stopped(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id, max_steps=300))
    process = manager.active_processes[experiment_id]
    started = threading.Event()
    process.step_update.connect(lambda step, total: started.set())
    assert started.wait(60), "the run never reached its first step"
    assert manager.stop_training(experiment_id) is True
    assert manager.get_experiment(experiment_id)["status"] == "stopped"
    experiment = manager.wait(experiment_id, timeout=60)
    assert experiment["status"] == "stopped"
    assert experiment["exit_code"] == 0  # RAVE exits 0 after SIGINT
    assert experiment["ended_at"] is not None
    assert manager.stop_training(experiment_id) is False
    assert manager.stop_training(99999) is False
    stderr = (Path(experiment["run_dir"]) / "stderr.log").read_text()
    assert "Detected KeyboardInterrupt" in stderr


def test_stop_kills_dataloader_workers_that_ignore_sigint(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id, max_steps=300, workers=2))
    run_dir = Path(manager.get_experiment(experiment_id)["run_dir"])
    identity = wait_until(lambda: trainer_identity(run_dir), what="supervisor.json")
    pgid = identity[1]
    assert manager.stop_training(experiment_id)
    assert manager.wait(experiment_id, timeout=60)["status"] == "stopped"
    wait_until(lambda: _group_gone(pgid), timeout=10, what="worker group gone")


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_crash_fails_with_the_reason(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    monkeypatch.setenv("FAKE_RAVE_CRASH", "oom")
    monkeypatch.setenv("FAKE_RAVE_CRASH_AT", "5")
    manager = make_manager()
    seen: list[tuple[bool, str]] = []
    experiment_id = manager.start_training(_config(dataset_id, max_steps=300))
    manager.active_processes[experiment_id].finished.connect(
        lambda ok, message: seen.append((ok, message))
    )
    experiment = manager.wait(experiment_id, timeout=60)
    assert experiment["status"] == "failed"
    assert experiment["exit_code"] == 1
    assert "CUDA out of memory" in experiment["reason"]
    assert "batch size" in experiment["reason"]
    assert seen and seen[0][0] is False


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
    app.kill()  # the app dies without a chance to clean up
    app.wait()
    app.stdout.close()
    record = rows.get_experiment(db, experiment_id)
    assert record is not None and record.status == "running" and record.ended_at is None
    manager = make_manager()
    assert experiment_id in manager.active_processes  # re-attached and followed
    experiment = manager.wait(experiment_id, timeout=90)
    assert experiment["status"] == "completed"
    assert experiment["progress"]["step"] == 60
    lr = manager.get_metric_history(experiment_id, "lr")
    assert [step for step, _ in lr] == [49]  # no point twice, none lost


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


def test_reading_the_logs_again_adds_nothing(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_STEP_LINES", "500")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id, max_steps=500))
    assert manager.wait(experiment_id, timeout=60)["status"] == "completed"
    before = rows.count_points(db, experiment_id)
    assert before >= 500 * 2
    db.execute("DELETE FROM source_offsets WHERE experiment_id = ?", (experiment_id,))
    record = rows.get_experiment(db, experiment_id)
    assert record is not None
    again = TrainingProcess(
        record.config, db=db, experiment_id=experiment_id, run_dir=record.run_dir
    )
    again.poll()
    assert rows.count_points(db, experiment_id) == before
    history = manager.get_metric_history(experiment_id, "loss")
    assert [step for step, _ in history] == list(range(1, 501))


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"dataset_id": 12345}, ConfigError, "dataset id 12345 not found"),
        ({"name": "no spaces"}, ConfigError, "is not allowed"),
        ({"config": "v9_nonexistent"}, ConfigError, "unknown base config"),
        ({"modifiers": ["warp"]}, ConfigError, "unknown modifier"),
        ({"max_steps": 0}, ConfigError, "out of range"),
        ({"batch_size": -1}, ConfigError, "out of range"),
        ({"executor": "kubernetes"}, ConfigError, "executor 'kubernetes' is not available"),
        ({"learning_rate": 0.01}, ConfigError, "RAVE 2.3.1 has no learning-rate setting"),
        (
            {"dataset_path": "/nonexistent/folder", "dataset_id": None},
            ConfigError,
            "does not exist",
        ),
    ],
)
def test_bad_input_creates_nothing(
    make_manager: Any,
    dataset_id: int,
    db: Database,
    runs_dir: Path,
    change: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    manager = make_manager()
    with pytest.raises(error, match=message):
        manager.start_training(_config(dataset_id, **change))
    assert manager.list_experiments() == []
    assert not runs_dir.exists() or not any(runs_dir.iterdir())
    assert manager.active_processes == {}


def test_missing_rave_creates_nothing(
    make_manager: Any, dataset_id: int, runs_dir: Path, tmp_path: Path
) -> None:
    manager = make_manager(rave=str(tmp_path / "no-rave-here"))
    with pytest.raises(RaveNotFoundError, match="does not exist or is not executable"):
        manager.start_training(_config(dataset_id))
    assert manager.list_experiments() == []
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_a_duplicate_name_is_refused(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id, name="twice"))
    with pytest.raises(ConfigError, match="a run named 'twice' exists already"):
        manager.start_training(_config(dataset_id, name="twice"))
    manager.wait(experiment_id, timeout=60)
    assert len(manager.list_experiments()) == 1


def test_the_original_apis_bookkeeping_methods(
    make_manager: Any, db: Database, dataset_id: int
) -> None:
    manager = make_manager()
    experiment_id = rows.insert_experiment(
        db, name="manual", project_id=1, dataset_id=dataset_id, config={"max_steps": 10}
    )
    assert manager.get_training_metrics(experiment_id) == {}
    manager.update_training_metrics(experiment_id, {"step": 5, "loss": 0.5, "lr": 1e-4})
    manager.update_training_metrics(experiment_id, {"step": 6, "loss": 0.4})
    assert manager.get_training_metrics(experiment_id) == {"step": 6, "loss": 0.4, "lr": 1e-4}
    assert manager.get_metric_history(experiment_id, "loss") == [(5, 0.5), (6, 0.4)]
    manager.update_experiment_status(experiment_id, "completed")
    experiment = manager.get_experiment(experiment_id)
    assert experiment["status"] == "completed" and experiment["completed_at"]
    with pytest.raises(ConfigError, match="unknown status 'done'"):
        manager.update_experiment_status(experiment_id, "done")
    assert manager.get_experiment(424242) is None
    assert [e["id"] for e in manager.list_experiments(project_id=1)] == [experiment_id]
    assert manager.list_experiments(project_id=2) == []
    process = TrainingProcess({"max_steps": 10})
    manager.register_process(experiment_id, process)
    assert manager.active_processes[experiment_id] is process
    manager.unregister_process(experiment_id)
    assert experiment_id not in manager.active_processes


# -- what ravelab never deletes, launch owners, one run's trouble --------------------------


def test_a_run_folder_that_exists_already_is_never_touched(
    make_manager: Any, dataset_id: int, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    # Left by another database sharing the runs folder (its id 1 was also 'run').
    foreign = runs_dir / "0001-run"
    (foreign / "run_abc" / "version_0").mkdir(parents=True)
    checkpoint = foreign / "run_abc" / "version_0" / "best.ckpt"
    checkpoint.write_bytes(b"weights")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id))
    experiment = manager.wait(experiment_id, timeout=60)
    assert experiment["status"] == "completed"
    assert experiment["run_dir"] == str(runs_dir / "0001-run-2")
    assert checkpoint.read_bytes() == b"weights"
    assert sorted(p.name for p in foreign.rglob("*")) == ["best.ckpt", "run_abc", "version_0"]


class _FailingExecutor:
    """Writes what a launch writes, then fails (optionally after a file appeared that
    the launch did not write)."""

    name = "local"

    def __init__(self, foreign: bool) -> None:
        self.foreign = foreign

    def launch(self, run_dir: Path, spec: Any, options: Any = None) -> Any:
        from ravelab.core.errors import LaunchError

        spec.write(run_dir)
        (run_dir / "slurm-job.sh").write_text("#!/bin/sh\n")  # as a SLURM launch does
        if self.foreign:
            (run_dir / "notes.txt").write_text("not ravelab's")
        raise LaunchError("no supervisor today")


@pytest.mark.parametrize("foreign", [False, True])
def test_a_failed_launch_removes_only_what_it_wrote(
    make_manager: Any, dataset_id: int, runs_dir: Path, foreign: bool
) -> None:
    from ravelab.core.errors import LaunchError

    manager = make_manager(executor=_FailingExecutor(foreign))
    with pytest.raises(LaunchError, match="no supervisor today"):
        manager.start_training(_config(dataset_id))
    assert manager.list_experiments() == []
    run_dir = runs_dir / "0001-run"
    if foreign:
        assert sorted(p.name for p in run_dir.iterdir()) == ["notes.txt"]
    else:
        assert not run_dir.exists()


def test_resume_sets_the_previous_attempts_files_aside(
    make_manager: Any, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager()
    experiment_id = manager.start_training(_config(dataset_id, max_steps=30))
    first = manager.wait(experiment_id, timeout=60)
    assert first["status"] == "completed"
    run_dir = Path(first["run_dir"])
    supervisor_before = (run_dir / "supervisor.json").read_text()
    exit_before = (run_dir / EXIT_FILE).read_text()
    (run_dir / "exit.0.json").write_text("kept")  # a name already taken is skipped
    manager.resume_training(experiment_id, max_steps=40)
    assert manager.wait(experiment_id, timeout=60)["status"] == "completed"
    assert (run_dir / "exit.0.json").read_text() == "kept"
    assert (run_dir / "exit.1.json").read_text() == exit_before
    assert (run_dir / "supervisor.0.json").read_text() == supervisor_before
    assert (run_dir / "supervisor.json").read_text() != supervisor_before


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


def test_a_job_folder_that_exists_already_is_never_touched(
    make_manager: Any,
    db: Database,
    dataset_id: int,
    runs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ravelab.db import jobs as job_rows
    from tests.core.jobs.test_job_manager import _train_with_checkpoints

    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    manager = make_manager()
    experiment_id = _train_with_checkpoints(manager, dataset_id)
    foreign = runs_dir / "jobs" / "0001-export-export-me"  # another database's job 1
    foreign.mkdir(parents=True)
    (foreign / "stdout.log").write_text("another database's export\n")
    job_id = manager.jobs.export_model(experiment_id)
    job = manager.jobs.wait(job_id, timeout=60)
    assert job.status == "completed", job.reason
    assert job.run_dir == str(runs_dir / "jobs" / "0001-export-export-me-2")
    assert (foreign / "stdout.log").read_text() == "another database's export\n"
    assert [p.name for p in foreign.iterdir()] == ["stdout.log"]
    assert job_rows.get_job(db, job_id) is not None
