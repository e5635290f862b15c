"""SQLite failures after open time: each becomes the DatabaseError subclass its result code
names, with one line naming the file and what to do; a transaction is whole or absent."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from ravelab.core.runs.process_thread import ProcessThread
from ravelab.db import (
    CannotOpenError,
    ConstraintError,
    Database,
    DatabaseBusyError,
    DatabaseDamagedError,
    DatabaseError,
    DatabaseReadOnlyError,
    DiskFullError,
    StorageUnavailableError,
)
from ravelab.db import experiments as rows
from ravelab.db.errors import classify
from tests.db.damage import garble_rows_of


def _limit_pages(db: Database, extra: int) -> None:
    """Make this connection's file full after ``extra`` more pages (SQLITE_FULL, as on a
    full disk: SQLite then rolls the whole transaction back itself)."""
    pages = db.query_one("PRAGMA page_count")[0]  # type: ignore[index]
    db.execute(f"PRAGMA max_page_count = {pages + extra}")


_EXPERIMENT = "INSERT INTO experiments(name, project_id, config, status, created_at)"


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    return text


def _fill(db: Database) -> None:
    for _ in range(50):
        db.execute("INSERT INTO filler VALUES (?)", (os.urandom(4000),))


def _setting_then_fill(db: Database) -> None:
    with db.atomic():
        db.set_setting("inside", "1")
        _fill(db)


def test_a_full_disk_inside_a_transaction_raises_disk_full_and_saves_nothing(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    db.set_setting("before", "1")
    db.execute("CREATE TABLE filler(x BLOB)")
    _limit_pages(db, 2)
    with caplog.at_level(logging.WARNING), pytest.raises(DiskFullError) as caught:
        _setting_then_fill(db)
    message = _one_line(caught.value)
    assert db.path in message and "disk full" in message and "free space on" in message
    assert "SQLITE_FULL" in message
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert "rollback" not in caplog.text.lower()  # no second, needless ROLLBACK was tried
    db.execute("PRAGMA max_page_count = 1073741823")
    assert db.get_setting("before") == "1"
    assert db.get_setting("inside") is None  # the block is absent as a whole
    assert db.query_one("SELECT count(*) FROM filler")[0] == 0  # type: ignore[index]
    with db.atomic():  # and the connection is usable again
        db.set_setting("after", "1")
    assert db.get_setting("after") == "1"


def _careless(db: Database) -> None:
    with db.atomic():
        db.set_setting("first", "1")
        with contextlib.suppress(DiskFullError):
            _fill(db)  # a careless caller goes on: its next statement would autocommit
        db.set_setting("second", "1")


def test_a_block_that_swallows_a_rolled_back_error_cannot_commit_half(db: Database) -> None:
    db.execute("CREATE TABLE filler(x BLOB)")
    _limit_pages(db, 2)
    with pytest.raises(StorageUnavailableError, match="rolled the transaction back"):
        _careless(db)
    db.execute("PRAGMA max_page_count = 1073741823")
    assert db.get_setting("first") is None and db.get_setting("second") is None


def _nested(db: Database) -> None:
    with db.atomic():
        db.set_setting("outer", "1")
        with db.atomic():
            _fill(db)


def test_a_full_disk_in_a_nested_block_leaves_the_outer_block_absent_too(db: Database) -> None:
    db.execute("CREATE TABLE filler(x BLOB)")
    _limit_pages(db, 2)
    with pytest.raises(DiskFullError):
        _nested(db)
    db.execute("PRAGMA max_page_count = 1073741823")
    assert db.get_setting("outer") is None


def test_executemany_is_translated_too(db: Database) -> None:
    db.execute("CREATE TABLE filler(x BLOB)")
    _limit_pages(db, 2)
    with pytest.raises(DiskFullError):
        db.executemany("INSERT INTO filler VALUES (?)", [(os.urandom(4000),)] * 50)
    db.execute("PRAGMA max_page_count = 1073741823")
    assert db.query_one("SELECT count(*) FROM filler")[0] == 0  # type: ignore[index]


def test_an_unknown_table_is_a_one_line_error_not_damage(db: Database) -> None:
    with pytest.raises(DatabaseError, match="no such table") as caught:
        db.query_tuples("SELECT * FROM no_such_table")
    assert not isinstance(caught.value, DatabaseDamagedError)
    assert "no such table" in _one_line(caught.value) and db.path in str(caught.value)


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("INSERT INTO projects(id, name, created_at) VALUES (1, 'again', 'now')", "primarykey"),
        (f"{_EXPERIMENT} VALUES ('x', 999, '{{}}', 'running', 'now')", "foreignkey"),
        (f"{_EXPERIMENT} VALUES ('x', 1, '{{}}', 'bogus', 'now')", "check"),
        ("INSERT INTO settings(key, value) VALUES ('k', NULL)", "notnull"),
    ],
)
def test_integrity_violations_are_constraint_errors_with_their_kind(
    db: Database, statement: str, kind: str
) -> None:
    with pytest.raises(ConstraintError) as caught:
        db.execute(statement)
    assert caught.value.kind == kind
    message = _one_line(caught.value)
    assert db.path in message and "nothing of it was saved" in message


def test_a_duplicate_experiment_name_is_a_unique_constraint_error(db: Database) -> None:
    rows.insert_experiment(db, name="twice", project_id=1, dataset_id=None, config={})
    with pytest.raises(ConstraintError) as caught:
        db.execute(f"{_EXPERIMENT} VALUES ('twice', 1, '{{}}', 'running', 'now')")
    assert caught.value.kind == "unique"


def test_a_damaged_table_page_fails_every_read_with_a_pointer_to_db_check(
    db_path: Path,
) -> None:
    with Database(db_path) as db:
        for i in range(3):
            rows.insert_experiment(db, name=f"run{i}", project_id=1, dataset_id=None, config={})
    garble_rows_of(db_path, "experiments")
    with Database(db_path) as db:  # the file opens: the damage shows on reading
        for read in (
            lambda: db.query("SELECT * FROM experiments"),
            lambda: db.query_one("SELECT name FROM experiments WHERE id = 2"),
            lambda: db.query_tuples("SELECT name, status FROM experiments"),
            lambda: rows.list_experiments(db),
        ):
            with pytest.raises(DatabaseDamagedError) as caught:
                read()
            message = _one_line(caught.value)
            assert str(db_path) in message and "`ravelab db check`" in message
            assert "ravelab db backup" in message


def test_a_file_that_is_not_sqlite_is_damaged_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"definitely not SQLite " * 500)
    with pytest.raises(DatabaseDamagedError, match=r"junk\.db is not a SQLite database"):
        Database(path)


def test_a_database_under_a_regular_file_says_so(tmp_path: Path) -> None:
    regular = tmp_path / "notes.txt"
    regular.write_text("a file")
    with pytest.raises(CannotOpenError, match=r"notes\.txt is a file, not a folder") as caught:
        Database(regular / "deeper" / "x.db")
    _one_line(caught.value)


def test_a_folder_or_a_device_given_as_the_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CannotOpenError, match="is a folder") as caught:
        Database(tmp_path)
    _one_line(caught.value)
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    with pytest.raises(CannotOpenError, match="is not a regular file"):
        Database(fifo)


def test_a_lock_held_too_long_is_a_busy_error(db: Database, db_path: Path) -> None:
    db.execute("PRAGMA busy_timeout = 50")  # instead of 30 s
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseBusyError, match=r"is locked.*try again"):
            db.atomic().__enter__()
    finally:
        other.execute("ROLLBACK")
        other.close()
    with db.atomic():
        db.set_setting("later", "1")


def test_writing_a_read_only_database_is_a_read_only_error(db: Database) -> None:
    db.execute("PRAGMA query_only = ON")
    with pytest.raises(DatabaseReadOnlyError, match="cannot be written"):
        db.set_setting("x", "1")


def test_bugs_stay_bugs(db: Database) -> None:
    # A wrong number of bindings carries no SQLite result code: it is ravelab's own mistake
    # and keeps its type (and traceback) rather than posing as a problem with the file.
    with pytest.raises(sqlite3.ProgrammingError):
        db.execute("SELECT ?", (1, 2))
    assert classify("x.db", sqlite3.ProgrammingError("no code")) is None


def test_close_never_raises_and_is_idempotent(db_path: Path) -> None:
    database = Database(db_path)
    database.close()
    database.close()


class _RollbackFails:
    """A connection whose ROLLBACK undoes the transaction and then reports a failure."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "ROLLBACK":
            self._conn.execute(sql)
            raise sqlite3.OperationalError("injected rollback failure")
        return self._conn.execute(sql, *args)


def _fail_inside(db: Database) -> None:
    with db.atomic():
        db.set_setting("inside", "1")
        raise ValueError("the original error")


def test_a_failing_rollback_never_hides_the_original_error(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    real = db._conn
    db._conn = _RollbackFails(real)  # type: ignore[assignment]
    try:
        with (
            caplog.at_level(logging.WARNING),
            pytest.raises(ValueError, match="original") as caught,
        ):
            _fail_inside(db)
    finally:
        db._conn = real
    assert "rolling back after ValueError failed too" in caplog.text
    assert any("injected rollback failure" in note for note in caught.value.__notes__)
    assert db.get_setting("inside") is None


class _FailingFollower(ProcessThread):
    """Its database fails for the first three polls, then answers; it ends at the fifth."""

    def __init__(self) -> None:
        super().__init__("run 7", poll_interval=0.001)
        self.polls = 0
        self.recoveries = 0

    def recover(self) -> None:
        self.recoveries += 1

    def poll(self) -> bool:
        self.polls += 1
        if self.polls <= 3:
            raise DiskFullError("database x.db: disk full: free space on /x and retry")
        if self.polls == 5:
            self._done.set()
        return False


def test_a_follower_thread_outlives_a_database_error_and_logs_it_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    follower = _FailingFollower()
    with caplog.at_level(logging.WARNING):
        follower.start()
        assert follower.wait(60)
        follower.join(30)
    assert not follower.is_alive()
    assert (follower.polls, follower.recoveries) == (5, 3)  # read again after each failure
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == (
        "run 7: database x.db: disk full: free space on /x and retry (retrying)"
    )
    assert record.exc_info is None  # no traceback: the message says what to do
    assert any("the database answers again" in r.getMessage() for r in caplog.records)


def test_a_stored_text_that_is_not_utf8_is_damage_told_in_one_printable_line(
    db: Database,
) -> None:
    garbled = b"a\nb\xff\x1b"
    db.execute("INSERT INTO settings(key, value) VALUES ('bad', CAST(? AS TEXT))", (garbled,))
    with pytest.raises(DatabaseDamagedError, match="cannot be read") as caught:
        db.get_setting("bad")
    assert _one_line(caught.value).isprintable()
