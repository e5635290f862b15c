"""`check_database`, `backup_database`, `database_info` and their `ravelab db` commands."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.main import main
from ravelab.db import CannotOpenError, Database, DatabaseDamagedError
from ravelab.db import experiments as rows
from ravelab.db.maintenance import (
    BackupRefusedError,
    backup_database,
    check_database,
    database_info,
)
from tests.db.damage import garble_rows_of
from tests.helpers import wait_until


def _filled(path: Path, runs: int = 3, points: int = 200) -> Path:
    with Database(path) as db:
        for i in range(runs):
            experiment = rows.insert_experiment(
                db, name=f"run{i}", project_id=1, dataset_id=None, config={}
            )
            rows.insert_points(
                db, experiment, [("loss", s, 1.0 / (s + 1), float(s)) for s in range(points)]
            )
    return path


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- check ---------------------------------------------------------------------------------


def test_a_sound_database_checks_sound(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled(db_path)
    report = check_database(db_path)
    assert report.sound and not report.problems and report.schema_version is not None
    assert "is sound" in report.summary
    assert check_database(db_path, quick=True).sound
    code, out, _ = _cli(capsys, "--db", str(db_path), "db", "check")
    assert code == ExitCode.OK and "is sound" in out
    code, out, _ = _cli(capsys, "--db", str(db_path), "db", "check", "--json")
    assert code == ExitCode.OK and json.loads(out)["sound"] is True


def test_a_damaged_table_is_named_with_what_to_do(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _filled(db_path)
    garble_rows_of(db_path, "experiments")
    report = check_database(db_path)
    assert not report.sound
    assert "experiments" in report.damaged_tables
    assert "metric_blocks" not in report.damaged_tables
    assert report.problems and "is damaged" in report.summary
    assert "ravelab db backup" in report.advice
    code, out, _ = _cli(capsys, "--db", str(db_path), "db", "check", "--json")
    assert code == ExitCode.DATABASE
    assert "experiments" in json.loads(out)["damaged_tables"]
    code, out, _ = _cli(capsys, "--db", str(db_path), "db", "check")
    assert code == ExitCode.DATABASE and "table experiments" in out


def test_a_garbled_interior_page_still_names_its_table(db_path: Path) -> None:
    _filled(db_path, runs=1, points=40_000)  # metric_blocks spans several pages
    page = garble_rows_of(db_path, "metric_blocks")
    data = bytearray(db_path.read_bytes())
    with sqlite3.connect(db_path) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'metric_blocks'")
        (root_page,) = root.fetchone()
    conn.close()
    assert page != root_page  # the rows were on a leaf below the root
    data[(root_page - 1) * size : (root_page - 1) * size + 8] = b"\xff" * 8  # its header too
    db_path.write_bytes(bytes(data))
    report = check_database(db_path)
    assert not report.sound and "metric_blocks" in report.damaged_tables
    assert "experiments" not in report.damaged_tables


def test_a_file_that_is_not_sqlite_checks_unsound(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello\n" * 100)
    report = check_database(path)
    assert not report.sound and "not a SQLite database" in report.summary


def test_rows_referring_to_missing_rows_are_reported(db_path: Path) -> None:
    _filled(db_path, runs=1, points=10)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA foreign_keys = OFF")  # as another program might
    conn.execute("DELETE FROM experiments")
    conn.commit()
    conn.close()
    report = check_database(db_path)
    assert not report.sound and report.broken_references == {"metric_blocks": 1}
    assert not report.problems and "refer to rows that no longer exist" in report.advice


def test_check_never_creates_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.db"
    with pytest.raises(CannotOpenError, match="no database at"):
        check_database(missing)
    code, _, err = _cli(capsys, "--db", str(missing), "db", "check")
    assert code == ExitCode.DATABASE and err.count("\n") == 1 and "no database at" in err
    assert not missing.exists()


def test_an_in_memory_database_can_be_checked() -> None:
    with Database(":memory:") as db:
        assert check_database(db).sound


# -- backup --------------------------------------------------------------------------------


def test_a_backup_is_a_checked_standalone_copy(db_path: Path, tmp_path: Path) -> None:
    _filled(db_path)
    os.chmod(db_path, 0o640)
    seen: list[tuple[int, int]] = []
    copy = tmp_path / "copy.db"
    result = backup_database(
        db_path, copy, progress=lambda done, total: seen.append((done, total)), step_pages=4
    )
    assert result.path == str(copy) and result.pages > 4 and result.size_bytes > 0
    assert len(seen) > 1 and seen[-1][0] == seen[-1][1] == result.pages
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert check_database(copy).sound
    assert not Path(f"{copy}-wal").exists()
    assert sqlite3.connect(copy).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert copy.stat().st_mode & 0o777 == 0o640
    with Database(copy) as restored, Database(db_path) as original:
        for experiment in (1, 2, 3):
            assert rows.metric_history(restored, experiment, "loss") == rows.metric_history(
                original, experiment, "loss"
            )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_backup_never_overwrites_unless_forced(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _filled(db_path)
    existing = tmp_path / "precious.db"
    existing.write_text("not ravelab's")
    with pytest.raises(BackupRefusedError, match=r"exists.*--force"):
        backup_database(db_path, existing)
    assert existing.read_text() == "not ravelab's"
    code, _, err = _cli(capsys, "--db", str(db_path), "db", "backup", str(existing))
    assert code == ExitCode.INVALID and err.count("\n") == 1
    assert existing.read_text() == "not ravelab's"
    code, out, _ = _cli(capsys, "--db", str(db_path), "db", "backup", str(existing), "--force")
    assert code == ExitCode.OK and "integrity check ok" in out
    assert check_database(existing).sound


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_a_backup_onto_the_database_itself_is_refused(db_path: Path, suffix: str) -> None:
    _filled(db_path)
    # -wal and -shm exist while it is open
    with Database(db_path), pytest.raises(BackupRefusedError, match="the database itself"):
        backup_database(db_path, f"{db_path}{suffix}", force=True)
    assert check_database(db_path).sound


def test_a_backup_through_another_name_of_the_database_is_refused(
    db_path: Path, tmp_path: Path
) -> None:
    _filled(db_path)
    alias = tmp_path / "alias.db"
    alias.symlink_to(db_path)
    with pytest.raises(BackupRefusedError):
        backup_database(db_path, alias, force=True)
    assert check_database(db_path).sound


def test_a_backup_into_a_missing_folder_or_onto_a_folder_is_refused(
    db_path: Path, tmp_path: Path
) -> None:
    _filled(db_path)
    with pytest.raises(BackupRefusedError, match="does not exist"):
        backup_database(db_path, tmp_path / "no" / "copy.db")
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(BackupRefusedError, match="not a plain file"):
        backup_database(db_path, tmp_path / "a-folder", force=True)


def test_a_damaged_database_gives_no_backup_and_leaves_nothing(
    db_path: Path, tmp_path: Path
) -> None:
    _filled(db_path)
    garble_rows_of(db_path, "experiments")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DatabaseDamagedError, match="ravelab db check"):
        backup_database(db_path, out / "copy.db")
    assert list(out.iterdir()) == []  # not even the temporary file


_WRITER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("CREATE TABLE IF NOT EXISTS ticks(n INTEGER PRIMARY KEY)")
print("ready", flush=True)
n = 0
while True:
    n += 1
    conn.execute("INSERT INTO ticks VALUES (?)", (n,))
"""


def test_a_backup_while_another_process_writes_is_a_consistent_snapshot(
    db_path: Path, tmp_path: Path
) -> None:
    _filled(db_path, runs=2, points=20_000)
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        with Database(db_path) as db:

            def ticks() -> int:
                row = db.query_one("SELECT count(*) FROM ticks")
                return int(row[0]) if row else 0

            before = wait_until(ticks, what="the writer's first commits")
            copy = tmp_path / "live.db"
            backup_database(db_path, copy, step_pages=2)  # many steps, many commits between
            after = ticks()
    finally:
        writer.kill()
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()
    assert check_database(copy).sound
    conn = sqlite3.connect(copy)
    count, top = conn.execute("SELECT count(*), max(n) FROM ticks").fetchone()
    conn.close()
    assert before <= count <= after and count == top  # every commit before it, none half
    assert after > count  # the writer went on meanwhile: the copy did not block it


def test_an_in_memory_database_can_be_backed_up(tmp_path: Path) -> None:
    with Database(":memory:") as db:
        db.set_setting("k", "v")
        backup_database(db, tmp_path / "mem.db")
    with Database(tmp_path / "mem.db") as copy:
        assert copy.get_setting("k") == "v"


# -- info ----------------------------------------------------------------------------------


def test_info_describes_the_file(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled(db_path, runs=2, points=10)
    info = database_info(db_path)
    assert info.experiments == 2 and info.schema_version == info.known_schema_version
    assert info.size_bytes > 0 and info.journal_mode == "wal"
    code, out, _ = _cli(capsys, "--db", str(db_path), "db", "info", "--json")
    data: dict[str, Any] = json.loads(out)
    assert code == ExitCode.OK and data["experiments"] == 2
    code, out, _ = _cli(capsys, "--db", str(db_path), "db", "info")
    assert code == ExitCode.OK and "schema version" in out


def test_a_block_of_points_another_program_garbled_is_found_and_refused(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _filled(db_path, runs=2, points=10)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE metric_blocks SET steps = x'0102' WHERE experiment_id = 1")
    conn.commit()
    conn.close()
    report = check_database(db_path)  # SQLite's own check sees nothing wrong here
    assert not report.sound and report.damaged_tables == ["metric_blocks"]
    assert "1 block(s) of metric points cannot be read" in report.problems
    with Database(db_path) as db:
        with pytest.raises(DatabaseDamagedError, match=r"metric_blocks.*ravelab db check"):
            rows.metric_history(db, 1, "loss")
        with pytest.raises(DatabaseDamagedError):  # a write that would merge with it, too
            rows.insert_points(db, 1, [("loss", 5, 9.0, 9.0)])
        assert len(rows.metric_history(db, 2, "loss")) == 10  # the other run reads fine
    code, _, err = _cli(capsys, "--db", str(db_path), "metrics", "1")
    assert code == ExitCode.DATABASE and err.count("\n") == 1 and "`ravelab db check`" in err
