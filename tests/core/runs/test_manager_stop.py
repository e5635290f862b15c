"""Stopping a run (``manager_stop``) over real processes: the run ends as stopped, and
dataloader workers that ignore SIGINT go with it."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from ravelab.core.runs.executor import trainer_identity
from ravelab.db import Database
from tests.helpers import run_config as _config
from tests.helpers import wait_until


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
