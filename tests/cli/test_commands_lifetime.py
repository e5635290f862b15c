"""``ravelab rename | note | tag | archive | unarchive | delete`` and ``list``'s filters,
against a real database and runs of the ``rave`` double."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.db import Database, RunStatus
from ravelab.db import experiments as rows


def _completed_run(cli: Any, dataset_dir: Path, name: str = "run", *flags: str) -> int:
    code, out, _ = cli("dataset", "list", "--json")
    if not json.loads(out):
        code, _, err = cli("dataset", "add", str(dataset_dir), "--name", "ds")
        assert code == 0, err
    code, out, err = cli(
        "train", "--dataset", "ds", "--name", name, "--max-steps", "30", "--follow", *flags
    )
    assert code == 0, err
    code, out, _ = cli("show", name, "--json")
    return int(json.loads(out)["id"])


def _names(cli: Any, *args: str) -> list[str]:
    code, out, err = cli("list", "--json", *args)
    assert code == 0, err
    return [run["name"] for run in json.loads(out)]


def test_rename_note_tag_and_list_filters(cli: Any, dataset_dir: Path) -> None:
    run = _completed_run(cli, dataset_dir, "first")
    assert cli("rename", str(run), "drums-v2")[1] == f"run {run} 'first' is now 'drums-v2'\n"
    code, _, err = cli("rename", "drums-v2", "bad name")
    assert code == ExitCode.INVALID and "not allowed" in err and err.count("\n") == 1
    code, _, err = cli("rename", "404", "x")
    assert code == ExitCode.NOT_FOUND and "experiment '404' not found" in err
    assert cli("note", "drums-v2", "too much reverb")[0] == 0
    assert cli("note", "drums-v2")[1] == "too much reverb\n"
    assert cli("tag", "drums-v2", "+baseline", "keep")[1].endswith(": baseline, keep\n")
    assert cli("tag", "drums-v2", "-keep")[1].endswith(": baseline\n")
    code, _, err = cli("tag", "drums-v2", "+a,b")
    assert code == ExitCode.INVALID and "comma" in err
    assert _names(cli, "--tag", "baseline") == ["drums-v2"]
    assert _names(cli, "--tag", "other") == []
    assert _names(cli, "--filter", "REVERB drums") == ["drums-v2"]
    assert _names(cli, "--filter", "snare") == []
    code, out, _ = cli("show", "drums-v2")
    assert "tags        baseline" in out and "notes       too much reverb" in out
    assert "trained     " not in out and ", trained " in out
    code, out, _ = cli("list")
    assert "TAGS" in out and "baseline" in out


def test_archive_hides_a_run_until_asked(cli: Any, dataset_dir: Path) -> None:
    run = _completed_run(cli, dataset_dir, "old")
    assert cli("archive", str(run))[0] == 0
    assert _names(cli) == []
    assert _names(cli, "--archived") == ["old"]
    assert _names(cli, "--all") == ["old"]
    assert "every experiment is archived" in cli("list")[1]
    assert cli("unarchive", "old")[0] == 0
    assert _names(cli) == ["old"]


def test_delete_with_and_without_files(cli: Any, dataset_dir: Path, tmp_path: Path) -> None:
    kept = _completed_run(cli, dataset_dir, "kept")
    gone = _completed_run(cli, dataset_dir, "gone")
    db = Database(tmp_path / "cli.db")
    kept_dir = Path(rows.get_experiment(db, kept).run_dir)  # type: ignore[arg-type, union-attr]
    gone_dir = Path(rows.get_experiment(db, gone).run_dir)  # type: ignore[arg-type, union-attr]
    code, _, err = cli("delete", "kept")  # pytest's stdin is no terminal: --yes is needed
    assert code == ExitCode.INVALID and "needs --yes" in err
    code, out, _ = cli("delete", "kept", "--yes")
    assert code == 0 and "was kept" in out and kept_dir.is_dir()
    code, out, _ = cli("delete", str(gone), "--files", "--yes")
    assert code == 0 and f"its folder {gone_dir}" in out and not gone_dir.exists()
    assert _names(cli, "--all") == []
    assert db.query_one("SELECT COUNT(*) FROM metric_blocks")[0] == 0  # type: ignore[index]
    db.close()


def test_delete_refuses_a_live_run(cli: Any, tmp_path: Path, dataset_dir: Path) -> None:
    _completed_run(cli, dataset_dir, "done")
    db = Database(tmp_path / "cli.db")
    live = rows.insert_experiment(
        db, name="live", project_id=1, dataset_id=None, config={}, status=RunStatus.RUNNING
    )
    # A launcher that lives (this test) owns it: re-attaching leaves it alone.
    from ravelab.core.runs.launch_owner import this_launcher

    owner = this_launcher()
    rows.update_fields(
        db,
        live,
        launcher_pid=owner.pid,
        launcher_start_time=owner.start_time,
        launcher_host=owner.host,
        launch_lease_until=owner.lease_until,
    )
    code, _, err = cli("delete", "live", "--yes")
    assert code == ExitCode.INVALID and "has not ended (running): stop it first" in err
    assert rows.get_experiment(db, live) is not None
    rows.delete_experiment(db, live)
    db.close()


@pytest.mark.parametrize("command", ["rename", "note", "tag", "archive", "delete"])
def test_unknown_runs_are_one_line_errors(cli: Any, command: str) -> None:
    args = {"rename": ["nope", "x"], "note": ["nope", "x"]}.get(command, ["nope"])
    code, _, err = cli(command, *args, *(["--yes"] if command == "delete" else []))
    assert code == ExitCode.NOT_FOUND and err.count("\n") == 1 and "'nope' not found" in err


def test_a_completed_run_is_extended_and_says_its_checkpoint_step(
    cli: Any, dataset_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _completed_run(cli, dataset_dir, "short", "--max-steps", "60", "--val-every", "20")
    code, out, err = cli("resume", str(run), "--max-steps", "80", "--follow")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith(f"resumed run {run} 'short' from ") and ".ckpt (step " in first
    code, out, _ = cli("show", "short")
    assert "in 2 attempts" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    assert cli("note", "short", "-")[0] == 0
    assert cli("note", "short")[1] == "from stdin\n"
    assert cli("note", "short", "--clear")[1].endswith("notes cleared\n")
    # Bytes that are not UTF-8 on standard input: one line naming the byte, nothing stored.
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"ok \xff\xfe")))
    code, _, err = cli("note", "short", "-")
    assert code != 0 and "not UTF-8 (byte 3)" in err and "Traceback" not in err
    assert cli("note", "short")[1].endswith("has no notes\n")
