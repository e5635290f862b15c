"""A maintenance tool's own connection on a database file: never creates or migrates it,
only reads through it, and an in-memory database is read through its own connection."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ravelab.db import CannotOpenError, Database
from ravelab.db.file_access import (
    file_size,
    is_damage,
    open_existing,
    path_of,
    reading_connection,
)


def test_a_missing_file_or_a_folder_is_refused_and_never_created(tmp_path: Path) -> None:
    with pytest.raises(CannotOpenError, match=r"no database at .*: check the --db path"):
        open_existing(str(tmp_path / "missing.db"))
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(CannotOpenError, match="is not a file: check the --db path"):
        open_existing(str(tmp_path))


def test_the_connection_only_reads(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    Database(path).close()
    with reading_connection(str(path)) as conn:
        assert conn.execute("SELECT count(*) FROM experiments").fetchone()[0] == 0
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|query_only"):
            conn.execute("DELETE FROM experiments")
    assert path_of(path) == str(path) and file_size(str(path)) > 0
    assert file_size(str(tmp_path / "gone.db")) == 0


def test_an_in_memory_database_is_read_through_its_own_connection() -> None:
    with Database(":memory:") as db:
        assert path_of(db) == ":memory:"
        with reading_connection(db) as conn:
            assert conn.execute("SELECT count(*) FROM projects").fetchone()[0] == 1


def test_damage_is_told_from_other_errors(tmp_path: Path) -> None:
    bad = tmp_path / "not.db"
    bad.write_bytes(b"not a database at all, but long enough to be read as one" * 20)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        sqlite3.connect(bad).execute("SELECT * FROM sqlite_master").fetchall()
    assert is_damage(caught.value)
    with pytest.raises(sqlite3.OperationalError) as other:
        sqlite3.connect(":memory:").execute("SELECT * FROM nowhere")
    assert not is_damage(other.value)
