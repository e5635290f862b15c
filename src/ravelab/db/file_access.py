"""Opening a database file for maintenance: its own read-only connection, never through
:class:`Database` (which would create or migrate it), so a file too damaged to open as a
ravelab database can still be checked, copied or summed up."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ravelab.db.database import BUSY_TIMEOUT_MS, Database
from ravelab.db.errors import CannotOpenError, classify, error_name

Target = Database | str | os.PathLike[str]


def path_of(target: Target) -> str:
    """The file a target names (``:memory:`` for an in-memory database)."""
    return target.path if isinstance(target, Database) else os.fspath(target)


def open_existing(path: str) -> sqlite3.Connection:
    """A connection on an existing file: never creates one, never migrates."""
    if not os.path.exists(path):
        raise CannotOpenError(f"no database at {path}: check the --db path")
    if not os.path.isfile(path):
        raise CannotOpenError(f"database {path} is not a file: check the --db path")
    conn = _connect(path, "mode=rw")
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as error:
        name = error_name(error) or ""
        folder = os.path.dirname(os.path.abspath(path))
        if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")) and not os.access(
            folder, os.W_OK
        ):
            # A WAL database on read-only media (a mounted backup disk): SQLite cannot make
            # its -shm file there. Nothing can write to it either, so it can be read as
            # an immutable file.
            conn.close()
            conn = _connect(path, "mode=ro&immutable=1")
        # Otherwise the caller's own queries meet the error and report it (damage is
        # what `check_database` is for).
    return conn


def _connect(path: str, options: str) -> sqlite3.Connection:
    uri = f"{Path(path).absolute().as_uri()}?{options}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.isolation_level = None
        conn.execute("PRAGMA query_only = ON")  # these tools only ever read the source
    except sqlite3.Error as error:
        raise translated(path, error) from error
    return conn


@contextlib.contextmanager
def reading_connection(target: Target) -> Iterator[sqlite3.Connection]:
    """A connection for reading ``target``: its own one on the file, or, for an in-memory
    ``Database``, that database's connection under its lock."""
    if isinstance(target, Database) and target.path == ":memory:":
        with target.connection() as conn:
            yield conn
        return
    conn = open_existing(path_of(target))
    try:
        yield conn
    finally:
        conn.close()


def translated(path: str, error: sqlite3.Error, doing: str = "") -> BaseException:
    """The ravelab error that says in words what an SQLite error means (else itself)."""
    classified = classify(path, error, doing)
    return error if classified is None else classified


def is_damage(error: sqlite3.Error) -> bool:
    """Whether an SQLite error means a damaged file (rather than a lock or I/O)."""
    name = error_name(error) or ""
    return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"


def file_size(path: str) -> int:
    """A file's size in bytes; 0 when it is missing or unreadable."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
