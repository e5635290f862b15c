"""Resume, stop at the next checkpoint, checkpoints, clone and diff, over real processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.errors import ConfigError, NotFoundError
from ravelab.core.runs.compare import diff_configs
from ravelab.core.runs.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.db import experiments as rows
from tests.helpers import wait_until


@pytest.fixture
def manager(db: Database, rave_double: Path, tmp_path: Path) -> Iterator[TrainingManager]:
    manager = TrainingManager(
        db, rave=str(rave_double), runs_dir=tmp_path / "runs", poll_interval=0.05
    )
    yield manager
    for experiment_id in list(manager.active_processes):
        manager.stop_training(experiment_id)
    for experiment_id in list(manager.active_processes):
        manager.wait(experiment_id, timeout=60)
    manager.shutdown()


def _config(dataset: int, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": "run",
        "dataset_id": dataset,
        "config": "v2_small",
        "max_steps": 300,
        "batch_size": 4,
        "gpu": -1,
        "val_every": 40,
        "save_every": 100,
        "n_signal": 65536,
        "workers": 0,
        "overrides": ["PHASE_1_DURATION=150"],
    }
    config.update(extra)
    return config


def test_resume_continues_the_same_experiment_without_duplicate_points(
    manager: TrainingManager, dataset_id: int, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    experiment_id = manager.start_training(_config(dataset_id))
    first = manager.wait(experiment_id, timeout=60)
    assert first["status"] == "completed" and first["progress"]["step"] == 300
    checkpoints = manager.list_checkpoints(experiment_id)
    assert {c["kind"] for c in checkpoints} >= {"best", "latest", "periodic"}
    # epoch-epoch=N.ckpt holds step (N + 1) x batches per epoch (19 examples // 4 = 4).
    (latest,) = [c for c in checkpoints if c["kind"] == "latest"]
    epoch = int(Path(latest["path"]).stem.split("=")[1])
    assert latest["step"] == (epoch + 1) * 4
    points_before = rows.count_points(db, experiment_id)
    validation_before = manager.get_metric_history(experiment_id, "validation")

    # The run has ended; its supervisor may still be on its way out, and a resume is
    # refused until it is gone ("still shutting down").
    wait_until(lambda: not manager.processes_live(experiment_id), 60, "the run's processes gone")
    manager.resume_training(experiment_id, max_steps=340)
    assert manager.get_experiment(experiment_id)["status"] == "running"
    second = manager.wait(experiment_id, timeout=60)
    assert second["status"] == "completed"
    assert second["id"] == experiment_id and second["name"] == "run"
    assert second["progress"]["resumes"] == 1
    assert "--ckpt" in second["argv"] and "--channels" in second["argv"]
    run_dir = Path(second["run_dir"])
    assert sorted(p.name for p in run_dir.glob("run_*/version_*")) == ["version_0", "version_1"]
    assert (run_dir / "exit.0.json").exists()
    # RAVE logs step 299 again in version_1: the first value is kept, nothing twice.
    history = manager.get_metric_history(experiment_id, "fullband_spectral_distance")
    steps = [step for step, _ in history]
    assert steps == sorted(set(steps)) and 299 in steps
    assert manager.get_metric_history(experiment_id, "validation")[: len(validation_before)] == (
        validation_before
    )
    assert rows.count_points(db, experiment_id) > points_before
    assert max(s for s, _ in manager.get_metric_history(experiment_id, "validation")) == 318


def test_resume_refuses_without_a_checkpoint_and_changes_nothing(
    manager: TrainingManager, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    experiment_id = manager.start_training(
        _config(dataset_id, max_steps=20, val_every=1000, save_every=1000)
    )
    manager.wait(experiment_id, timeout=60)
    before = manager.get_experiment(experiment_id)
    with pytest.raises(NotFoundError, match="no checkpoint"):
        manager.resume_training(experiment_id)
    with pytest.raises(NotFoundError, match="does not exist"):
        manager.resume_training(experiment_id, checkpoint="/nowhere/x.ckpt")
    assert manager.get_experiment(experiment_id) == before
    with pytest.raises(NotFoundError):
        manager.resume_training(4242)


def test_resume_refuses_a_running_run(
    manager: TrainingManager, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.3")
    experiment_id = manager.start_training(_config(dataset_id))
    with pytest.raises(ConfigError, match="is still running"):
        manager.resume_training(experiment_id)


@pytest.mark.slow
def test_stop_at_next_checkpoint_waits_for_the_checkpoint(
    manager: TrainingManager, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.05")
    experiment_id = manager.start_training(_config(dataset_id))
    process = manager.active_processes[experiment_id]
    started = threading.Event()
    process.step_update.connect(lambda step, total: started.set() if step >= 2 else None)
    assert started.wait(60)
    lost = manager.steps_since_checkpoint(experiment_id)
    assert lost is not None and lost >= 2
    assert manager.stop_training(experiment_id, at_checkpoint=True)
    assert manager.get_experiment(experiment_id)["status"] == "running"  # until the checkpoint
    experiment = manager.wait(experiment_id, timeout=90)
    assert experiment["status"] == "stopped"
    checkpoints = manager.list_checkpoints(experiment_id)
    assert any(c["kind"] == "best" for c in checkpoints)
    assert experiment["progress"]["step"] >= 40  # the first validation (and checkpoint) is 40
    assert experiment["progress"]["step"] < 300


def test_clone_and_diff(
    manager: TrainingManager, dataset_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    first = manager.start_training(_config(dataset_id, max_steps=20))
    config = manager.clone_config(first, name="copy", batch_size=8, modifiers=["causal"])
    assert "name" in config and config["name"] == "copy"
    second = manager.start_training(config)
    manager.wait(first, timeout=60)
    manager.wait(second, timeout=60)
    a = manager.get_experiment(first)
    b = manager.get_experiment(second)
    assert diff_configs(a["config"], b["config"]) == [
        ("batch_size", 4, 8),
        ("modifiers", [], ["causal"]),
    ]
