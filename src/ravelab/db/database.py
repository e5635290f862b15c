"""The SQLite file behind ravelab: connection, pragmas, migrations and transactions.

One ``Database`` owns one ``sqlite3`` connection shared by the threads of a process
(monitor threads, the GUI, the CLI) behind a lock; other processes (a CLI in another
terminal, a detached follower) open their own ``Database`` on the same file. WAL and a
busy timeout make that safe.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from ravelab.db.migrations import MIGRATIONS

logger = logging.getLogger(__name__)

#: How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 30_000

SqlParams = Sequence[Any] | dict[str, Any]


class DatabaseError(Exception):
    """A database problem a user can act on (newer schema, unreadable file, locked)."""


class DatabaseTooNewError(DatabaseError):
    """The file was written by a newer ravelab whose schema this code does not know."""


class StorageUnavailableError(DatabaseError):
    """SQLite cannot use the file: locked for too long, read-only, disk full or corrupt."""


def _map_operational_error(path: str, error: sqlite3.Error) -> DatabaseError:
    text = str(error)
    if "locked" in text or "busy" in text:
        hint = "another program holds a long write transaction; try again"
    elif "readonly" in text or "read-only" in text:
        hint = "the file or its folder is read-only; choose another path with --db"
    elif "disk" in text and "full" in text:
        hint = "the disk is full; free some space"
    elif "malformed" in text or "not a database" in text:
        hint = "the file is not a ravelab database or is damaged; use another --db path"
    else:
        hint = "check the path and its permissions"
    return StorageUnavailableError(f"database {path}: {text} ({hint})")


class Database:
    """A ravelab SQLite database, created and migrated on first use.

    Args:
        path: file path, or ``":memory:"`` for a private in-memory database (tests).
        tracer: optional callback receiving every SQL statement and its parameters.

    Raises:
        DatabaseTooNewError: the file's schema is newer than this code.
        StorageUnavailableError: the file cannot be opened or migrated.
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
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                isolation_level=None,  # we manage transactions explicitly
            )
        except sqlite3.Error as error:
            raise _map_operational_error(self.path, error) from error
        self._conn.row_factory = sqlite3.Row
        try:
            self._configure()
            self._migrate()
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise _map_operational_error(self.path, error) from error
        except DatabaseError:
            self._conn.close()
            raise

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
        row = self._conn.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def _migrate(self) -> None:
        latest = len(MIGRATIONS)
        with self._lock:
            current = self.schema_version
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
                current = self.schema_version
                for version in range(current, latest):
                    logger.info("migrating %s to schema %d", self.path, version + 1)
                    MIGRATIONS[version](self._conn)
                    self._conn.execute(f"PRAGMA user_version = {version + 1}")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # -- use ---------------------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """Run a block in one transaction; nested blocks become savepoints."""
        with self._lock:
            depth = self._depth
            name = f"sp{depth}"
            try:
                if depth == 0:
                    self._conn.execute("BEGIN IMMEDIATE")
                else:
                    self._conn.execute(f"SAVEPOINT {name}")
            except sqlite3.OperationalError as error:
                raise _map_operational_error(self.path, error) from error
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
                raise
            self._depth -= 1
            try:
                self._conn.execute("COMMIT" if depth == 0 else f"RELEASE {name}")
            except sqlite3.OperationalError as error:
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                raise _map_operational_error(self.path, error) from error

    def execute(self, sql: str, params: SqlParams = ()) -> sqlite3.Cursor:
        """Run one statement (in its own transaction unless inside ``atomic``)."""
        if self._tracer is not None:
            self._tracer(sql, params)
        with self._lock:
            try:
                return self._conn.execute(sql, params)
            except sqlite3.OperationalError as error:
                raise _map_operational_error(self.path, error) from error

    def executemany(self, sql: str, rows: Sequence[SqlParams]) -> None:
        """Run one statement for many parameter rows."""
        if self._tracer is not None:
            self._tracer(sql, None)
        with self._lock:
            try:
                self._conn.executemany(sql, rows)
            except sqlite3.OperationalError as error:
                raise _map_operational_error(self.path, error) from error

    def query(self, sql: str, params: SqlParams = ()) -> list[sqlite3.Row]:
        """Run a SELECT and return all rows."""
        with self._lock:
            return self.execute(sql, params).fetchall()

    def query_tuples(self, sql: str, params: SqlParams = ()) -> list[tuple[Any, ...]]:
        """Run a SELECT and return plain tuples (no ``sqlite3.Row``): for large results,
        where building a Row per point would cost more than the query."""
        if self._tracer is not None:
            self._tracer(sql, params)
        with self._lock:
            cursor = self._conn.cursor()
            cursor.row_factory = None
            try:
                rows: list[tuple[Any, ...]] = cursor.execute(sql, params).fetchall()
                return rows
            except sqlite3.OperationalError as error:
                raise _map_operational_error(self.path, error) from error
            finally:
                cursor.close()

    def query_one(self, sql: str, params: SqlParams = ()) -> sqlite3.Row | None:
        """Run a SELECT and return its first row, or None."""
        with self._lock:
            row: sqlite3.Row | None = self.execute(sql, params).fetchone()
            return row

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
        """Close the connection; the object is unusable afterwards."""
        with self._lock:
            self._conn.close()

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
