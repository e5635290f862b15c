"""Resuming a run (``manager_resume``): the previous attempt's files are set aside, never
overwritten."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ravelab.core.runs.run_files import EXIT_FILE
from tests.helpers import run_config as _config


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
