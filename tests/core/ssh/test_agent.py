"""The remote agent's commands, run here on plain folders (the remote side's code is
this code): retention never follows a link, a run that never started reads as ended."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ravelab.core.ssh import agent


def test_retention_removes_the_entry_never_a_links_target(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "x_1" / "version_0" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "epoch_300.ckpt").write_bytes(b"newest")
    (folder / "epoch_1.ckpt").symlink_to(folder / "epoch_300.ckpt")
    (folder / "epoch_2.ckpt").write_bytes(b"old")
    (folder / "best.ckpt").write_bytes(b"best")
    answer = agent.remove_checkpoints(
        argparse.Namespace(
            run_dir=str(tmp_path / "run"),
            paths=[
                "x_1/version_0/checkpoints/epoch_1.ckpt",
                "x_1/version_0/checkpoints/epoch_2.ckpt",
                "x_1/version_0/checkpoints/best.ckpt",
                "../outside/version_0/checkpoints/epoch_3.ckpt",
            ],
        )
    )
    assert answer["removed"] == ["x_1/version_0/checkpoints/epoch_2.ckpt"]
    assert len(answer["refused"]) == 3
    assert (folder / "epoch_300.ckpt").read_bytes() == b"newest"
    assert (folder / "best.ckpt").exists() and (folder / "epoch_1.ckpt").is_symlink()


def test_a_run_that_never_started_reads_as_ended(tmp_path: Path) -> None:
    run = tmp_path / "0001-x"
    run.mkdir()
    (run / "launch.json").write_text("{}")
    answer = agent.state(argparse.Namespace(run_dir=str(run), pid=None, start=None, host=None))
    assert answer["alive"] is False and answer["exit"] is False


def test_a_gone_run_folder_reads_as_ended(tmp_path: Path) -> None:
    answer = agent.state(
        argparse.Namespace(run_dir=str(tmp_path / "gone"), pid=None, start=None, host=None)
    )
    assert answer == {"alive": False, "missing": True, "checkpoints": []}


def test_no_second_trainer_in_a_folder_that_still_has_processes(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import io
    import os
    import subprocess
    import sys

    import pytest

    run = tmp_path / "0001-x"
    run.mkdir()
    env = {**os.environ, "RAVELAB_RUN_DIR": str(run)}
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)
    try:
        monkeypatch.setattr(sys, "stdin", io.StringIO('{"argv": ["x"], "cwd": "/"}'))
        with pytest.raises(agent.AgentError, match="still has processes"):
            agent.launch(argparse.Namespace(run_dir=str(run), resume=True, rave=None))
        assert not (run / "launch.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
