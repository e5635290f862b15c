"""Starting a run (``manager_launch``): bad input or no `rave` creates nothing, a taken name
is refused, a run folder that exists already is never touched, and a failed launch
removes only what it wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ravelab.core.errors import ConfigError, RaveNotFoundError
from ravelab.db import Database
from tests.helpers import run_config as _config


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
