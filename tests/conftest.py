"""Shared fixtures: an isolated environment, databases, datasets, the rave double,
and a guard that fails any test leaving processes behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FIXTURES = Path(__file__).parent / "fixtures" / "rave-2.3.1"
_MARKER = "RAVELAB_TEST_MARKER"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` (the default): two workers for each CPU xdist would count (``-n
    logical``: each logical CPU). Most tests spend their time waiting for real processes
    (a run of the rave double, a command, a warden), so one worker per CPU leaves the CPUs
    half idle: on two CPUs the suite took 199 s with two workers and 162 s with four, and
    more gained nothing (the CPUs were busy). ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still
    decides when set (None passes the question on to xdist)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    from xdist.plugin import pytest_xdist_auto_num_workers as per_cpu

    return 2 * per_cpu(config)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """No test reads the user's settings or writes to their data dir; every process a
    test starts carries a marker, so leftovers can be found."""
    for name in ("RAVELAB_DB", "RAVELAB_RAVE", "RAVELAB_RUNS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    # Tests start wardens themselves where they test one; none starts on its own.
    monkeypatch.setenv("RAVELAB_WARDEN", "0")
    marker = uuid.uuid4().hex
    monkeypatch.setenv(_MARKER, marker)
    yield marker
    leftovers = _marked_processes(marker)
    deadline = time.monotonic() + 15
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.1)
        leftovers = _marked_processes(marker)
    for process in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(process.pid), 9)
    assert not leftovers, f"test left processes running: {[p.cmdline() for p in leftovers]}"


def _marked_processes(marker: str) -> list[psutil.Process]:
    found = []
    me = os.getpid()
    for process in psutil.process_iter(["pid", "status"]):
        if process.pid == me or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if process.environ().get(_MARKER) == marker:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ravelab.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[object]:
    from ravelab.db import Database

    database = Database(db_path)
    yield database
    database.close()


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    """A preprocessed dataset folder as `rave preprocess` leaves it (20 examples)."""
    folder = tmp_path / "datasets" / "synth"
    folder.mkdir(parents=True)
    from tests.helpers import write_lmdb

    shutil.copy(FIXTURES / "dataset-prep" / "metadata.yaml", folder / "metadata.yaml")
    write_lmdb(folder, 20)
    return folder


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def dataset_id(db: Any, dataset_dir: Path) -> int:
    """The `dataset_dir` dataset, registered as 'synth'."""
    from ravelab.core.datasets import register_dataset

    return register_dataset(db, dataset_dir, "synth").id


@pytest.fixture
def make_manager(db: Any, rave_double: Path, runs_dir: Path) -> Iterator[Callable[..., Any]]:
    """TrainingManagers over the test DB and the `rave` double; every run they follow is
    stopped (and waited for) afterwards, so no process outlives the test."""
    from ravelab.core.runs.training_manager import TrainingManager

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


@pytest.fixture(scope="session")
def rave_double(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `rave` test double (replays the genuine captures) as an executable."""
    from tests.fake_rave import write_launcher

    return write_launcher(tmp_path_factory.mktemp("fake-rave-bin"))
