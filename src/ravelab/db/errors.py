"""Database errors a user can act on, and how a ``sqlite3`` error becomes one.

Every statement and transaction of :class:`~ravelab.db.database.Database` passes SQLite's
failures through :func:`classify`, which decides by SQLite's own result code
(``sqlite_errorname``: ``SQLITE_FULL``, ``SQLITE_CORRUPT_INDEX``, ...), never by the
message text, which changes between SQLite versions. Each class carries a one-line message
that names the file and says what to do, so the CLI, the app and the follower child can
show it as it is.

Errors without a SQLite result code (``sqlite3.ProgrammingError`` for a wrong number of
bindings, a closed connection) are bugs in ravelab, not states of the file, and are left
as they are; the one exception is the ``OperationalError`` the ``sqlite3`` module raises
itself when a stored text is not UTF-8, which is damage.
"""

from __future__ import annotations

import os
import sqlite3

#: What `ravelab db check` and `ravelab db backup` are called in messages.
CHECK_HINT = "run `ravelab db check` to see what is damaged"
RESTORE_HINT = (
    "keep this file, and restore a good copy made with `ravelab db backup` "
    "(or use another --db path)"
)


class DatabaseError(Exception):
    """A database problem a user can act on (newer schema, unreadable file, locked)."""

    #: SQLite's extended result code name (``SQLITE_FULL``...), when SQLite gave one.
    sqlite_name: str | None = None


class DatabaseTooNewError(DatabaseError):
    """The file was written by a newer ravelab whose schema this code does not know."""


class StorageUnavailableError(DatabaseError):
    """SQLite cannot use the file: locked for too long, read-only, disk full or corrupt."""


class DiskFullError(StorageUnavailableError):
    """The disk (or quota) holding the database or its journal is full."""


class DatabaseDamagedError(StorageUnavailableError):
    """The file is damaged (a bad page, a broken index) or is not a SQLite database."""


class DatabaseBusyError(StorageUnavailableError):
    """Another connection held a lock longer than the busy timeout."""


class DatabaseReadOnlyError(StorageUnavailableError):
    """The file, its folder or the filesystem is read-only."""


class DatabaseIOError(StorageUnavailableError):
    """The operating system failed a read or write (a bad disk, a vanished mount)."""


class CannotOpenError(StorageUnavailableError):
    """The file cannot be opened or created (a missing folder, a file where a folder
    should be, permissions)."""


class ConstraintError(DatabaseError):
    """A change broke one of the schema's rules and was refused: nothing of it was saved.

    ``kind`` says which rule: ``unique``, ``primarykey``, ``foreignkey``, ``notnull``,
    ``check``, ``trigger`` or ``other``. Callers that can name the cause in the user's
    words (a name already taken, an unknown project) check before they write; this is the
    safety net behind them.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def error_name(error: BaseException) -> str | None:
    """SQLite's extended result code name of ``error`` (None when SQLite gave none)."""
    name = getattr(error, "sqlite_errorname", None)
    return name if isinstance(name, str) else None


def _folder(path: str) -> str:
    return os.path.dirname(os.path.abspath(path)) or "."


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` as one printable line: a message may quote a damaged row's bytes."""
    printable = "".join(c if c.isprintable() else "?" for c in text)
    return printable if len(printable) <= limit else printable[: limit - 3] + "..."


def _constraint_kind(name: str) -> str:
    kind = name.removeprefix("SQLITE_CONSTRAINT").removeprefix("_").lower()
    return kind if kind else "other"


def classify(path: str, error: sqlite3.Error, doing: str = "") -> DatabaseError | None:
    """The :class:`DatabaseError` for a ``sqlite3`` error, or None when it is a bug.

    Args:
        path: the database file (named in the message).
        error: what ``sqlite3`` raised.
        doing: what failed, for the message (e.g. ``"commit"``); optional.
    """
    name = error_name(error)
    text = _one_line(str(error))
    if name is None:
        if isinstance(error, sqlite3.OperationalError):
            # Raised by the sqlite3 module itself while it converts a row: a stored text
            # that is not UTF-8 (a garbled page SQLite did not notice, or another
            # program's bytes). It is about the file's content, not a bug in a statement.
            return DatabaseDamagedError(
                f"database {path} holds a value that cannot be read: {text}; "
                f"{CHECK_HINT}, then {RESTORE_HINT}"
            )
        return None
    where = f"database {path}"
    what = f"{text} ({name}{', ' + doing if doing else ''})"
    folder = _folder(path)
    result: DatabaseError
    if name in ("SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"):
        # SHMSIZE: the -shm file beside a WAL database could not grow, i.e. no space.
        result = DiskFullError(
            f"{where}: disk full: {what}; free space on {folder} and retry; "
            "the change that failed was not saved"
        )
    elif name.startswith("SQLITE_CORRUPT"):
        result = DatabaseDamagedError(
            f"{where} is damaged: {what}; {CHECK_HINT}, then {RESTORE_HINT}"
        )
    elif name == "SQLITE_NOTADB":
        result = DatabaseDamagedError(
            f"{where} is not a SQLite database or its header is damaged: {what}; check the "
            f"--db path, {CHECK_HINT}, then {RESTORE_HINT}"
        )
    elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_PROTOCOL")):
        result = DatabaseBusyError(
            f"{where} is locked: {what}; another program holds a long write "
            "transaction: try again when it has finished"
        )
    elif name.startswith("SQLITE_READONLY"):
        result = DatabaseReadOnlyError(
            f"{where} cannot be written: {what}; make the file and {folder} writable, "
            "or choose another --db path"
        )
    elif name == "SQLITE_PERM":
        result = DatabaseReadOnlyError(
            f"{where}: access denied: {what}; check the permissions of the file and "
            f"{folder}, or choose another --db path"
        )
    elif name.startswith("SQLITE_CANTOPEN"):
        result = CannotOpenError(
            f"{where} cannot be opened: {what}; check that {folder} is a writable folder "
            "and that the file can be read and written, or choose another --db path"
        )
    elif name.startswith("SQLITE_IOERR") or name == "SQLITE_NOLFS":
        result = DatabaseIOError(
            f"{where}: disk I/O error: {what}; check the disk and the free space on "
            f"{folder}, then {CHECK_HINT}"
        )
    elif name.startswith("SQLITE_CONSTRAINT"):
        result = ConstraintError(
            f"{where}: the change was refused, {what}; nothing of it was saved",
            _constraint_kind(name),
        )
    elif name == "SQLITE_NOMEM":
        result = StorageUnavailableError(
            f"{where}: out of memory: {what}; close other programs and retry"
        )
    elif name == "SQLITE_TOOBIG":
        result = DatabaseError(
            f"{where}: a value is too large to store: {what}; the change was not saved"
        )
    else:
        # SQLITE_ERROR and the like: SQL this ravelab did not expect to fail, e.g. a table
        # changed by another program. One line for the user; the cause stays chained.
        result = DatabaseError(
            f"{where}: unexpected database error: {what}; {CHECK_HINT}, and report it "
            "if the file is sound"
        )
    result.sqlite_name = name
    return result


def translate(path: str, error: sqlite3.Error, doing: str = "") -> BaseException:
    """``classify``, or ``error`` itself when it is a bug: what to raise (``from error``)."""
    classified = classify(path, error, doing)
    return error if classified is None else classified
