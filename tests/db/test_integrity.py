"""`check_database` and `ravelab db check`: a sound file checks sound, damage is named by
table and index with what to do, and the check never creates a database."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ravelab.cli.exit_codes import ExitCode
from ravelab.db import CannotOpenError, Database, DatabaseDamagedError
from ravelab.db import experiments as rows
from ravelab.db.maintenance import check_database
from tests.db.damage import garble_rows_of
from tests.db.test_maintenance import _cli, _filled


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
    # Its attempt too (schema 7: one row per launch or resume).
    assert not report.sound and report.broken_references == {"metric_blocks": 1, "run_attempts": 1}
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
