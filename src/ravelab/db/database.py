"""The SQLite file behind ravelab: connection, pragmas, migrations and transactions.

One ``Database`` owns one ``sqlite3`` connection shared by the threads of a process
(monitor threads, the GUI, the CLI) behind a lock; other processes (a CLI in another
terminal, a detached follower) open their own ``Database`` on the same file. WAL and a
busy timeout make that safe.

Every SQLite failure, at open time or later (a statement, a fetch, BEGIN, COMMIT,
ROLLBACK), leaves here as a :class:`~ravelab.db.errors.DatabaseError` chosen by SQLite's
result code (see :mod:`ravelab.db.errors`). A transaction either commits whole or not at
all: when SQLite has already rolled it back itself (it does after SQLITE_FULL or an I/O
error), no second ROLLBACK is tried, and a ROLLBACK that fails is logged, never raised in
place of the error that caused it.

Test-only fault hook: ``RAVELAB_FAULT_DB_KILL_BEFORE_COMMIT=N`` makes the process kill
itself (SIGKILL) just before the N-th COMMIT of an ``atomic`` block, so tests can check
that a transaction cut short leaves nothing of itself behind.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from ravelab.db.errors import (
    CannotOpenError,
    DatabaseError,
    DatabaseTooNewError,
    StorageUnavailableError,
    classify,
    error_name,
)
from ravelab.db.migrations import MIGRATIONS

if TYPE_CHECKING:
    import logging

__all__ = [
    "BUSY_TIMEOUT_MS",
    "Database",
    "DatabaseError",
    "DatabaseTooNewError",
    "SqlParams",
    "StorageUnavailableError",
]


def _logger() -> logging.Logger:
    """This module's logger. :mod:`logging` is imported when something is logged (a
    failed close or rollback, a migration), not by every command that opens the file."""
    import logging

    return logging.getLogger(__name__)


#: How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 30_000

#: The test-only fault hook (see the module docstring), read once.
FAULT_KILL_ENV = "RAVELAB_FAULT_DB_KILL_BEFORE_COMMIT"
_KILL_VALUE = os.environ.get(FAULT_KILL_ENV, "")
_KILL_AT_COMMIT = int(_KILL_VALUE) if _KILL_VALUE.isascii() and _KILL_VALUE.isdigit() else 0

SqlParams = Sequence[Any] | dict[str, Any]


def _folder_problem(folder: Path, error: OSError) -> str:
    """Why ``folder`` cannot be made, in words: e.g. ``--db /etc/passwd/x.db`` puts the
    database under a regular file."""
    for ancestor in (folder, *folder.parents):
        try:
            mode = os.stat(ancestor).st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            break  # e.g. a folder above that this user may not enter
        if not stat.S_ISDIR(mode):
            return f"{ancestor} is a file, not a folder"
        break
    return f"its folder {folder} cannot be made ({error.strerror or error})"


class Database:
    """A ravelab SQLite database, created and migrated on first use.

    Args:
        path: file path, or ``":memory:"`` for a private in-memory database (tests).
        tracer: optional callback receiving every SQL statement and its parameters.

    Raises:
        DatabaseTooNewError: the file's schema is newer than this code.
        StorageUnavailableError: the file cannot be opened or migrated (a subclass says
            why: ``CannotOpenError``, ``DatabaseDamagedError``, ``DiskFullError``...).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        tracer: Callable[[str, SqlParams | None], None] | None = None,
    ) -> None:
        self.path = str(path)
        self._tracer = tracer
        self._lock = threading.RLock()
        self._depth = 0
        self._commits = 0
        if self.path != ":memory:":
            folder = Path(self.path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise CannotOpenError(
                    f"database {self.path} cannot be created: {_folder_problem(folder, error)}; "
                    "choose another --db path"
                ) from error
            try:
                mode = os.stat(self.path).st_mode
            except FileNotFoundError:
                mode = stat.S_IFREG  # created below
            except OSError as error:
                raise CannotOpenError(
                    f"database {self.path} cannot be reached: {error.strerror or error}; check "
                    "the permissions of its folders, or choose another --db path"
                ) from error
            if not stat.S_ISREG(mode):
                kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
                raise CannotOpenError(
                    f"database {self.path} is {kind}: give the path of a database file with --db"
                )
        try:
            self._conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                isolation_level=None,  # we manage transactions explicitly
            )
        except sqlite3.Error as error:
            self._raise_open_error(error)
        self._conn.row_factory = sqlite3.Row
        try:
            self._configure()
            self._migrate()
        except sqlite3.Error as error:
            self._close_quietly()
            self._raise_open_error(error)
        except BaseException:
            self._close_quietly()
            raise

    # -- errors ------------------------------------------------------------------------------

    def _raise(self, error: sqlite3.Error, doing: str = "") -> NoReturn:
        """Raise the ``DatabaseError`` for ``error`` (chained), or ``error`` if it is a bug."""
        classified = classify(self.path, error, doing)
        if classified is None:
            raise error
        raise classified from error

    def _raise_open_error(self, error: sqlite3.Error) -> NoReturn:
        if error_name(error) == "SQLITE_ERROR":
            # At open time a plain SQL error means tables ravelab did not make (another
            # program's SQLite file), not a bug in a statement.
            raise StorageUnavailableError(
                f"database {self.path} cannot be used as a ravelab database: {error} "
                "(SQLITE_ERROR); choose another --db path"
            ) from error
        self._raise(error, "opening")

    def _aborted(self) -> StorageUnavailableError:
        return StorageUnavailableError(
            f"database {self.path}: SQLite rolled the transaction back after an earlier "
            "error; nothing of it was saved: retry"
        )

    def _check_transaction(self) -> None:
        """Inside ``atomic``, refuse to go on once SQLite has ended the transaction itself:
        later statements would each commit on their own, breaking the block's atomicity."""
        if self._depth and not self._conn.in_transaction:
            raise self._aborted()

    def _undo(self, depth: int, savepoint: str, cause: BaseException) -> None:
        """Roll back to before ``atomic`` began; never raise over ``cause``."""
        if not self._conn.in_transaction:
            return  # SQLite rolled back already (disk full, I/O error): nothing to undo
        try:
            if depth == 0:
                self._conn.execute("ROLLBACK")
            else:
                self._conn.execute(f"ROLLBACK TO {savepoint}")
                self._conn.execute(f"RELEASE {savepoint}")
        except sqlite3.Error as second:
            _logger().warning(
                "database %s: rolling back after %s failed too: %s (%s)",
                self.path,
                type(cause).__name__,
                second,
                error_name(second),
            )
            # Kept with the cause (shown in its traceback, not in its one-line message).
            cause.add_note(f"rolling back failed too: {second} ({error_name(second)})")

    def _close_quietly(self) -> None:
        try:
            self._conn.close()
        except sqlite3.Error as error:
            _logger().warning("database %s: closing failed: %s", self.path, error)

    # -- setup -----------------------------------------------------------------------------

    def _configure(self) -> None:
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode never corrupts; at worst the last commits before a power
        # cut are lost, which re-reading the log files restores.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")

    @property
    def schema_version(self) -> int:
        """The schema version stored in the file (``PRAGMA user_version``)."""
        row = self.query_one("PRAGMA user_version")
        assert row is not None
        return int(row[0])

    def _migrate(self) -> None:
        latest = len(MIGRATIONS)
        with self._lock:
            current = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if current > latest:
                raise DatabaseTooNewError(
                    f"database {self.path} has schema version {current}, but this ravelab "
                    f"only knows up to {latest}: upgrade ravelab, or use another --db path"
                )
            if current == latest:
                return
            # BEGIN IMMEDIATE takes the write lock first, so two processes starting at
            # once cannot both migrate the same version.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                current = self._conn.execute("PRAGMA user_version").fetchone()[0]
                for version in range(current, latest):
                    _logger().info("migrating %s to schema %d", self.path, version + 1)
                    MIGRATIONS[version](self._conn)
                    self._conn.execute(f"PRAGMA user_version = {version + 1}")
                self._conn.execute("COMMIT")
            except BaseException as error:
                self._undo(0, "", error)
                raise

    # -- use ---------------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """Run a block in one transaction; nested blocks become savepoints.

        The block's changes are committed whole or not at all. A ``DatabaseError`` from
        COMMIT means nothing of the block was saved.
        """
        with self._lock:
            depth = self._depth
            name = f"sp{depth}"
            try:
                self._check_transaction()
                if depth == 0:
                    self._conn.execute("BEGIN IMMEDIATE")
                else:
                    self._conn.execute(f"SAVEPOINT {name}")
            except sqlite3.Error as error:
                self._raise(error, "begin")
            self._depth += 1
            try:
                yield self
            except BaseException as error:
                self._depth -= 1
                self._undo(depth, name, error)
                raise
            self._depth -= 1
            if not self._conn.in_transaction:
                # The block caught an error after which SQLite ended the transaction.
                raise self._aborted()
            if _KILL_AT_COMMIT and depth == 0:
                self._commits += 1
                if self._commits == _KILL_AT_COMMIT:
                    os.kill(os.getpid(), signal.SIGKILL)
            try:
                self._conn.execute("COMMIT" if depth == 0 else f"RELEASE {name}")
            except sqlite3.Error as error:
                self._undo(depth, name, error)  # e.g. COMMIT got SQLITE_BUSY: still open
                self._raise(error, "commit")

    def execute(self, sql: str, params: SqlParams = ()) -> sqlite3.Cursor:
        """Run one statement (in its own transaction unless inside ``atomic``)."""
        if self._tracer is not None:
            self._tracer(sql, params)
        with self._lock:
            self._check_transaction()
            try:
                return self._conn.execute(sql, params)
            except sqlite3.Error as error:
                self._raise(error)

    def executemany(self, sql: str, rows: Sequence[SqlParams]) -> None:
        """Run one statement for many parameter rows, all or none of them (outside
        ``atomic`` it gets a transaction of its own: sqlite3 would commit row by row)."""
        if self._tracer is not None:
            self._tracer(sql, None)
        with self._lock:
            if self._depth == 0:
                with self.atomic():
                    self._executemany(sql, rows)
            else:
                self._executemany(sql, rows)

    def _executemany(self, sql: str, rows: Sequence[SqlParams]) -> None:
        self._check_transaction()
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as error:
            self._raise(error)

    def query(self, sql: str, params: SqlParams = ()) -> list[sqlite3.Row]:
        """Run a SELECT and return all rows."""
        with self._lock:
            cursor = self.execute(sql, params)
            try:
                # A damaged page may only show while later rows are read.
                return cursor.fetchall()
            except sqlite3.Error as error:
                self._raise(error)

    def query_tuples(self, sql: str, params: SqlParams = ()) -> list[tuple[Any, ...]]:
        """Run a SELECT and return plain tuples (no ``sqlite3.Row``): for large results,
        where building a Row per point would cost more than the query."""
        if self._tracer is not None:
            self._tracer(sql, params)
        with self._lock:
            self._check_transaction()
            cursor = self._conn.cursor()
            cursor.row_factory = None
            try:
                rows: list[tuple[Any, ...]] = cursor.execute(sql, params).fetchall()
                return rows
            except sqlite3.Error as error:
                self._raise(error)
            finally:
                cursor.close()

    def query_one(self, sql: str, params: SqlParams = ()) -> sqlite3.Row | None:
        """Run a SELECT and return its first row, or None."""
        with self._lock:
            cursor = self.execute(sql, params)
            try:
                row: sqlite3.Row | None = cursor.fetchone()
            except sqlite3.Error as error:
                self._raise(error)
            return row

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The raw connection, held under this database's lock (maintenance: checks and
        backups of a ``:memory:`` database). The caller translates its errors."""
        with self._lock:
            yield self._conn

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` on this connection: it changes when another
        connection (another process, another ``Database``) commits, never for this one's
        own commits, and costs no read of the file. A cheap poll for "someone else wrote"."""
        row = self.query_one("PRAGMA data_version")
        assert row is not None
        return int(row[0])

    # -- settings ----------------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        """A per-user setting stored in the database (e.g. the ``rave`` executable)."""
        row = self.query_one("SELECT value FROM settings WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_setting(self, key: str, value: str | None) -> None:
        """Store (or, with None, remove) a per-user setting."""
        if value is None:
            self.execute("DELETE FROM settings WHERE key = ?", (key,))
        else:
            self.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; the object is unusable afterwards. Never raises: what
        was committed is in the file, and a failure here must not hide another error."""
        with self._lock:
            self._close_quietly()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.path!r})"
