"""`ravelab configs | doctor | projects | settings` through main(argv)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode


@pytest.fixture
def no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH without SLURM's commands: where SLURM is installed but its controller is down,
    `scontrol ping` alone waits about 9 s, and these tests are not about SLURM."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_configs_and_doctor(cli: Any, rave_double: Path, no_cluster: None) -> None:
    code, out, _ = cli("configs", "--json")
    data = json.loads(out)
    assert "v2_small" in [c["name"] for c in data["base configs"]]
    assert "causal" in [c["name"] for c in data["modifiers"]]
    code, out, _ = cli("configs")
    assert "Original continuous model" in out and "learning rate" in out
    code, out, _ = cli("doctor", "--json")
    report = json.loads(out)
    assert code == ExitCode.OK and report["rave"] == str(rave_double.resolve())
    assert report["database_schema"] >= 1
    assert report["warden"]["alive"] is False and report["warden"]["enabled"] is False
    code, out, _ = cli("doctor")
    assert "not started on its own (RAVELAB_WARDEN=0)" in out


def test_settings_store_the_rave_executable(
    cli: Any, rave_double: Path, monkeypatch: pytest.MonkeyPatch, no_cluster: None
) -> None:
    monkeypatch.delenv("RAVELAB_RAVE")
    code, out, _ = cli("settings", "set", "rave", str(rave_double))
    assert code == ExitCode.OK
    code, out, _ = cli("settings", "show")
    assert f"rave = {rave_double.resolve()}" in out
    code, out, _ = cli("doctor", "--json")
    assert json.loads(out)["rave"] == str(rave_double.resolve())


def test_projects_lists_each_with_its_runs_and_datasets(cli: Any, dataset_dir: Path) -> None:
    cli("dataset", "add", str(dataset_dir), "--name", "synth")
    code, out, err = cli("projects", "--json")
    assert code == ExitCode.OK, err
    (default,) = json.loads(out)
    assert (default["id"], default["experiments"], default["datasets"]) == (1, 0, 1)
    code, out, _ = cli("projects")
    assert out.splitlines()[0].split() == ["ID", "NAME", "RUNS", "DATASETS"]


def test_settings_keep_a_runs_folder_absolute_and_a_cleared_one_unset(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("settings", "set", "runs_dir", "elsewhere/runs")
    assert code == ExitCode.OK, err
    assert out == f"runs_dir = {tmp_path.resolve() / 'elsewhere' / 'runs'}\n"
    code, out, _ = cli("settings", "set", "stalled_after_minutes", "45")
    assert code == ExitCode.OK and out == "stalled_after_minutes = 45\n"
    code, out, _ = cli("settings", "set", "runs_dir", "")
    assert code == ExitCode.OK and out == "runs_dir = (not set)\n"
    shown = cli("settings", "show")[1]
    assert "runs_dir = (not set)" in shown and "stalled_after_minutes = 45" in shown
