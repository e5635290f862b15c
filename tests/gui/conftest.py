"""Fixtures for the desktop app's tests: a manager over the `rave` double, a registered
dataset, isolated QSettings, and widgets that are cleaned up before the database closes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings

from ravelab.core.datasets import register_dataset
from ravelab.core.training_manager import TrainingManager
from ravelab.db import Database
from ravelab.gui.pyside_workarounds import protect_singletons

# PySide6 6.12.0 on Python 3.11 drops references to True and None at every emit() and slot
# call; the suite makes thousands (see ravelab.gui.pyside_workarounds).
protect_singletons()


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def dataset_id(db: Database, dataset_dir: Path) -> int:
    return register_dataset(db, dataset_dir, "synth").id


@pytest.fixture
def make_manager(
    db: Database, rave_double: Path, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., TrainingManager]]:
    """TrainingManagers over the test DB and the `rave` double; every run they follow is
    stopped (and waited for) afterwards, so no process outlives the test."""
    monkeypatch.setenv("FAKE_RAVE_TIME_SCALE", "0.002")
    managers: list[TrainingManager] = []

    def make(**options: Any) -> TrainingManager:
        settings: dict[str, Any] = {
            "rave": str(rave_double),
            "runs_dir": runs_dir,
            "poll_interval": 0.05,
        }
        settings.update(options)
        manager = TrainingManager(db, **settings)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        for experiment_id in list(manager.active_processes):
            manager.stop_training(experiment_id)
    for manager in managers:
        for experiment_id in list(manager.active_processes):
            with contextlib.suppress(TimeoutError):
                manager.wait(experiment_id, timeout=30)
        manager.shutdown()


@pytest.fixture
def manager(make_manager: Callable[..., TrainingManager]) -> TrainingManager:
    return make_manager()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "ravelab-gui.ini"), QSettings.Format.IniFormat)


def training_config(dataset_id: int, name: str = "run", **extra: Any) -> dict[str, Any]:
    """A small config the double runs in about a second."""
    config: dict[str, Any] = {
        "name": name,
        "dataset_id": dataset_id,
        "config": "v2_small",
        "max_steps": 20,
        "batch_size": 4,
        "gpu": -1,
        "val_every": 8,
        "save_every": 12,
        "n_signal": 65536,
    }
    config.update(extra)
    return config
