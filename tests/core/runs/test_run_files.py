"""The run folder's own files: a new folder is created exclusively and a failed launch
removes only what it wrote; JSON is written whole or not at all; what is written reads
back the same, and a damaged file reads as what is wrong with it (the whole range of
damage is in tests/faults/test_damaged_run_files.py)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from ravelab.core.errors import LaunchError
from ravelab.core.runs import run_files
from ravelab.core.runs.run_files import (
    DAMAGED_PREFIX,
    DEFAULT_INT_GRACE_S,
    DEFAULT_TERM_GRACE_S,
    EXIT_FILE,
    LAUNCH_FILE,
    SUPERVISOR_LOG,
    DamagedFileError,
    ExitRecord,
    LaunchSpec,
    create_run_dir,
    fault_point,
    grace_times,
    load_json,
    marker_value,
    remove_created_run_dir,
    write_json_atomic,
)
from tests.helpers import wait_until


def test_a_taken_folder_is_never_reused(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = create_run_dir(runs, "0001-demo")
    (first / "theirs.txt").write_text("kept")
    second = create_run_dir(runs, "0001-demo")
    third = create_run_dir(runs, "0001-demo")
    assert (first.name, second.name, third.name) == ("0001-demo", "0001-demo-2", "0001-demo-3")
    assert (first / "theirs.txt").read_text() == "kept" and not any(second.iterdir())


def test_a_run_folder_is_absolute_even_from_a_relative_runs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    made = create_run_dir(Path("runs"), "demo")
    assert made.is_absolute() and made == tmp_path / "runs" / "demo"
    assert marker_value(made) == str(tmp_path / "runs" / "demo")


def test_when_every_suffixed_name_is_taken_the_launch_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_files, "_MAX_FOLDER_TRIES", 3)
    for name in ("demo", "demo-2", "demo-3"):
        (tmp_path / name).mkdir()
    with pytest.raises(LaunchError, match="choose another name or runs folder"):
        create_run_dir(tmp_path, "demo")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "demo-2", "demo-3"]


def test_a_failed_launch_removes_only_what_it_wrote(tmp_path: Path) -> None:
    mine = create_run_dir(tmp_path, "mine")
    LaunchSpec(argv=["rave", "train"], cwd=str(mine)).write(mine)
    (mine / SUPERVISOR_LOG).write_text("")
    remove_created_run_dir(mine)
    assert not mine.exists()
    shared = create_run_dir(tmp_path, "shared")
    LaunchSpec(argv=["rave", "train"], cwd=str(shared)).write(shared)
    (shared / "stdout.log").write_text("a trainer's line")
    remove_created_run_dir(shared)
    assert sorted(p.name for p in shared.iterdir()) == ["stdout.log"]


def test_json_is_replaced_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(target, {"a": object()})  # not JSON: the old file stays
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


def test_load_json_says_what_is_wrong_with_a_file(tmp_path: Path) -> None:
    assert load_json(tmp_path / "missing.json") is None
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(DamagedFileError, match=r"list\.json holds a list, not a JSON object"):
        load_json(tmp_path / "list.json")
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(DamagedFileError, match=r"folder\.json is a folder"):
        load_json(tmp_path / "folder.json")
    (tmp_path / "bytes.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(DamagedFileError, match=r"bytes\.json is not UTF-8 text"):
        load_json(tmp_path / "bytes.json")


def test_a_launch_spec_reads_back_as_written(tmp_path: Path) -> None:
    spec = LaunchSpec(
        argv=["rave", "train", "--name", "é x"],
        cwd=str(tmp_path),
        env={"CUDA_VISIBLE_DEVICES": "0"},
        stdin_text="y\n",
        int_grace_s=5,
        term_grace_s=2.5,
    )
    spec.write(tmp_path)
    assert LaunchSpec.read(tmp_path) == spec
    assert grace_times(tmp_path) == (5.0, 2.5)


def test_a_damaged_launch_spec_names_its_field_and_stops_fall_back_to_defaults(
    tmp_path: Path,
) -> None:
    with pytest.raises(FileNotFoundError):
        LaunchSpec.read(tmp_path)
    (tmp_path / LAUNCH_FILE).write_text(json.dumps({"argv": ["rave"], "cwd": "/", "env": []}))
    with pytest.raises(DamagedFileError, match=r"launch.json: env is \[\], expected an object"):
        LaunchSpec.read(tmp_path)
    (tmp_path / LAUNCH_FILE).write_text(
        json.dumps({"argv": ["rave"], "cwd": "/", "int_grace_s": -1})
    )
    assert grace_times(tmp_path) == (DEFAULT_INT_GRACE_S, DEFAULT_TERM_GRACE_S)


def test_an_exit_record_reads_back_and_damage_is_its_reason(tmp_path: Path) -> None:
    assert ExitRecord.read(tmp_path) is None
    ExitRecord(-2, "SIGINT", True, 1700000000.5).write(tmp_path)
    record = ExitRecord.read(tmp_path)
    assert record == ExitRecord(-2, "SIGINT", True, 1700000000.5) and not record.damaged
    (tmp_path / EXIT_FILE).write_text(json.dumps({"exit_code": "zero", "ended_at": 1}))
    damaged = ExitRecord.read(tmp_path)  # no process of this run lives: it has ended
    assert damaged is not None and damaged.damaged and damaged.exit_code is None
    assert (
        damaged.error == f"{DAMAGED_PREFIX}exit.json: exit_code is 'zero', expected an exit status"
    )
    refused = ExitRecord(127, None, False, 1.0, "could not start 'rave'")
    assert not refused.damaged  # a reason of the supervisor's, not a damaged file


def test_a_damaged_exit_record_replaced_as_the_run_ends_reads_as_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor writes its exit.json over a damaged one and ends while a reader
    checks whether the run's processes live: the reader takes the sound file, not the
    damage it read first."""
    (tmp_path / EXIT_FILE).write_text('{"exit_code": "x"}')

    def supervisor_ends_meanwhile(name: str, value: str) -> list[object]:
        ExitRecord(0, None, True, 1700000000.0).write(tmp_path)
        return []

    monkeypatch.setattr(run_files, "processes_with_env", supervisor_ends_meanwhile)
    assert ExitRecord.read(tmp_path) == ExitRecord(0, None, True, 1700000000.0)


def test_a_fault_point_does_nothing_unless_both_variables_name_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate"
    monkeypatch.setenv("RAVELAB_FAULT_TEST", "here")
    fault_point("RAVELAB_FAULT_TEST", "here")  # no gate variable: returns at once
    monkeypatch.setenv("RAVELAB_FAULT_TEST_GATE", str(gate))
    fault_point("RAVELAB_FAULT_TEST", "elsewhere")
    assert not Path(f"{gate}.reached").exists()
    paused = threading.Thread(target=fault_point, args=("RAVELAB_FAULT_TEST", "here"))
    paused.start()
    try:
        wait_until(Path(f"{gate}.reached").exists, what="the fault point")
        assert paused.is_alive()  # it waits for the gate
    finally:
        gate.touch()
        paused.join(30)
    assert not paused.is_alive()


def test_the_run_marker_is_the_absolute_unresolved_folder(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    assert marker_value(link) == os.path.abspath(link) != str(real)
