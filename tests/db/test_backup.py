"""`backup_database` and `ravelab db backup`: a checked, standalone, consistent copy that
never overwrites unless forced, never the database itself, and leaves nothing behind
when it fails."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.db import Database, DatabaseDamagedError
from ravelab.db import experiments as rows
from ravelab.db.maintenance import BackupRefusedError, backup_database, check_database
from tests.db.damage import garble_rows_of
from tests.db.test_maintenance import _cli, _filled
from tests.helpers import wait_until


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
