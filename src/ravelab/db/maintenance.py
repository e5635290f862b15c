"""Looking after the database file: an integrity check, an online backup, a summary.

* :func:`check_database` runs ``PRAGMA integrity_check`` (or ``quick_check``) and
  ``PRAGMA foreign_key_check`` and says in words whether the file is sound, which tables
  and indexes are damaged, and what to do.
* :func:`backup_database` copies the database with SQLite's online backup API while other
  processes (followers of live runs) keep writing: the copy is one consistent snapshot,
  taken inside a single read transaction, so it holds every commit made before the backup
  began and none half-made. It is written to a temporary file beside the destination,
  checked, and only then renamed into place; an existing file is replaced only when asked,
  and the database itself never.
* :func:`database_info`: path, sizes, schema version.

These open their own connection on the file (never through :class:`Database`, which would
create or migrate it), so a file too damaged to open as a ravelab database can still be
checked.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ravelab.db.database import BUSY_TIMEOUT_MS, Database
from ravelab.db.errors import (
    CHECK_HINT,
    CannotOpenError,
    DatabaseDamagedError,
    DatabaseError,
    StorageUnavailableError,
    classify,
    error_name,
)
from ravelab.db.migrations import MIGRATIONS

#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: At most this many messages are asked of ``integrity_check`` (it stops there).
MAX_PROBLEMS = 100
#: Pages copied per backup step (4 MiB with 4 KiB pages): progress shows between steps.
BACKUP_STEP_PAGES = 1024

_INDEX_PROBLEM = re.compile(
    r"(?:missing from index|wrong # of entries in index|non-unique entry in UNIQUE index"
    r"|in index)\s+(\S+)"
)

Target = Database | str | os.PathLike[str]


class BackupRefusedError(DatabaseError):
    """``backup_database`` would overwrite something it must not; nothing was written."""


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_database` found.

    ``sound`` is True when the file passed the integrity check and no row refers to a
    missing row. ``summary`` and ``advice`` are sentences for people.
    """

    path: str
    sound: bool
    summary: str
    advice: str
    quick: bool
    schema_version: int | None = None
    problems: list[str] = field(default_factory=list)
    damaged_tables: list[str] = field(default_factory=list)
    damaged_indexes: list[str] = field(default_factory=list)
    broken_references: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``ravelab db check --json``)."""
        return asdict(self)


@dataclass(frozen=True)
class BackupResult:
    """A finished, checked backup."""

    source: str
    path: str
    pages: int
    size_bytes: int
    seconds: float


@dataclass(frozen=True)
class DatabaseInfo:
    """A database file in figures (``ravelab db info``)."""

    path: str
    size_bytes: int
    wal_bytes: int
    schema_version: int
    known_schema_version: int
    page_size: int
    page_count: int
    free_pages: int
    journal_mode: str
    experiments: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- connections ---------------------------------------------------------------------------


def _path_of(target: Target) -> str:
    return target.path if isinstance(target, Database) else os.fspath(target)


def _open_existing(path: str) -> sqlite3.Connection:
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
        raise _translated(path, error) from error
    return conn


@contextlib.contextmanager
def _connection(target: Target) -> Iterator[sqlite3.Connection]:
    """A connection for reading ``target``: its own one on the file, or, for an in-memory
    ``Database``, that database's connection under its lock."""
    if isinstance(target, Database) and target.path == ":memory:":
        with target.connection() as conn:
            yield conn
        return
    conn = _open_existing(_path_of(target))
    try:
        yield conn
    finally:
        conn.close()


def _translated(path: str, error: sqlite3.Error, doing: str = "") -> BaseException:
    classified = classify(path, error, doing)
    return error if classified is None else classified


def _is_damage(error: sqlite3.Error) -> bool:
    name = error_name(error) or ""
    return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"


# -- check ---------------------------------------------------------------------------------

_DAMAGED_ADVICE = (
    "Stop ravelab and the app writing to it and keep a copy of the file as it is (with its "
    "-wal file). Then restore the newest good copy made with `ravelab db backup` (check it "
    "with `ravelab --db COPY db check`), or salvage what is readable with the sqlite3 "
    "command's `.recover` into a new file; runs can also be imported again from their "
    "folders with `ravelab import-run`."
)


def check_database(target: Target, *, quick: bool = False) -> CheckReport:
    """Check a database file's integrity and say what to do.

    Args:
        target: a ``Database`` or the path of a database file (not created if missing).
        quick: ``PRAGMA quick_check`` (skips matching indexes to their tables: faster on
            a large file, but blind to a damaged index).

    Raises:
        DatabaseError: the check could not run (no such file, locked, I/O error).
    """
    path = _path_of(target)
    if path != ":memory:" and os.path.isfile(path):
        try:
            with open(path, "rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError as error:
            raise CannotOpenError(
                f"database {path} cannot be read: {error.strerror or error}; check its permissions"
            ) from error
        if header and header != SQLITE_HEADER:
            return CheckReport(
                path,
                False,
                f"{path} is not a SQLite database (its first bytes are not SQLite's "
                "header), or its header is damaged",
                "Check the --db path. If this was a ravelab database: " + _DAMAGED_ADVICE,
                quick,
                problems=["the file does not start with SQLite's header"],
            )
    with _connection(target) as conn:
        try:
            return _check(conn, path, quick)
        except sqlite3.Error as error:
            if not _is_damage(error):
                raise _translated(path, error, "checking") from error
            return CheckReport(
                path,
                False,
                f"{path} is damaged: {error} ({error_name(error)}); the check could not "
                "even read its list of tables",
                _DAMAGED_ADVICE,
                quick,
                problems=[str(error)],
            )


def _check(conn: sqlite3.Connection, path: str, quick: bool) -> CheckReport:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    pragma = "quick_check" if quick else "integrity_check"
    try:
        rows = conn.execute(f"PRAGMA {pragma}({MAX_PROBLEMS})").fetchall()
        # One message may span lines ("*** in database main ***\nOn tree page ...").
        lines = [line.strip() for row in rows for line in str(row[0]).splitlines()]
        problems = [line for line in lines if line and not line.startswith("***")]
    except sqlite3.Error as error:
        if not _is_damage(error):
            raise
        # Some damage (a garbled interior page) stops the check itself: the per-table
        # checks below still say where.
        problems = [f"{error} ({error_name(error)}): the check stopped there"]
    if problems == ["ok"]:
        problems = []
    tables: list[str] = []
    indexes: list[str] = []
    if problems:
        tables = _damaged_tables(conn, pragma)
        found = {m.group(1) for p in problems for m in _INDEX_PROBLEM.finditer(p)}
        indexes = sorted(found)
    blocks = _damaged_blocks(conn)
    if blocks:
        problems.append(f"{blocks} block(s) of metric points cannot be read")
        if "metric_blocks" not in tables:
            tables.append("metric_blocks")
    references = _broken_references(conn)
    known = len(MIGRATIONS)
    newer = f" (schema {version}, newer than this ravelab's {known})" if version > known else ""
    if not problems and not references:
        what = "quick check" if quick else "integrity check"
        return CheckReport(
            path,
            True,
            f"{path} is sound: the {what} found no damage{newer}",
            "Nothing to do." if not quick else "Nothing to do (a full check also reads indexes).",
            quick,
            version,
        )
    parts = []
    if problems:
        where = ", ".join([f"table {t}" for t in tables] + [f"index {i}" for i in indexes])
        more = "+" if len(problems) >= MAX_PROBLEMS else ""  # the check stops there
        parts.append(f"{len(problems)}{more} problem(s) found" + (f" in {where}" if where else ""))
    if references:
        counted = ", ".join(f"{n} in {name}" for name, n in sorted(references.items()))
        parts.append(f"rows referring to missing rows ({counted})")
    only_indexes = bool(problems) and all(_INDEX_PROBLEM.search(p) for p in problems)
    if only_indexes:
        advice = (
            "Only indexes are damaged, and indexes can be rebuilt from their tables: stop "
            "ravelab and the app, keep a copy of the file, then run "
            f"`sqlite3 {path} REINDEX` and check again."
        )
    elif problems:
        advice = _DAMAGED_ADVICE
    else:
        advice = (
            "The file itself is sound, but some rows refer to rows that no longer exist "
            "(written by another program, or with foreign keys off). Restore a good copy "
            "made with `ravelab db backup` if the missing rows matter."
        )
    return CheckReport(
        path,
        False,
        f"{path} is damaged: " + "; ".join(parts) + newer,
        advice,
        quick,
        version,
        problems,
        tables,
        indexes,
        references,
    )


def _damaged_tables(conn: sqlite3.Connection, pragma: str) -> list[str]:
    """The tables whose own check (with their indexes) fails (SQLite 3.33+ takes a table
    name), found only once the whole file failed."""
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
    ]
    damaged = []
    for name in names:
        try:
            rows = conn.execute(f"PRAGMA {pragma}({_quote(name)})").fetchall()
        except sqlite3.Error as error:
            if not _is_damage(error):
                raise
            damaged.append(name)
            continue
        if [str(row[0]) for row in rows] != ["ok"]:
            damaged.append(name)
    return damaged


def _damaged_blocks(conn: sqlite3.Connection) -> int:
    """Rows of ``metric_blocks`` whose blobs are not ``count`` 8-byte items each: bytes
    another program wrote, which SQLite's own check cannot see (it reads no payload)."""
    try:
        present = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'metric_blocks'"
        ).fetchone()[0]
        if not present:
            return 0
        row = conn.execute(
            "SELECT count(*) FROM metric_blocks WHERE typeof(steps) != 'blob' "
            "OR typeof(vals) != 'blob' OR typeof(walls) != 'blob' "
            "OR length(steps) != 8 * count OR length(vals) != 8 * count "
            "OR length(walls) != 8 * count OR first_step > last_step"
        ).fetchone()
    except sqlite3.Error as error:
        if not _is_damage(error) and error_name(error) != "SQLITE_ERROR":
            raise
        return 0  # damaged pages (reported above) or not ravelab's table
    return int(row[0])


def _broken_references(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table whose foreign key points at a missing row."""
    try:
        rows = conn.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.Error as error:
        if not _is_damage(error):
            raise
        return {}  # the integrity check already says the file is damaged
    return dict(Counter(str(row[0]) for row in rows))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- backup --------------------------------------------------------------------------------


def backup_database(
    source: Target,
    destination: str | os.PathLike[str],
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
    step_pages: int = BACKUP_STEP_PAGES,
) -> BackupResult:
    """Copy a database, online, to ``destination``, and check the copy.

    Safe while other processes write (followers of live runs): the copy is the database as
    it was when the backup began. It goes to a temporary file beside ``destination``
    (removed again on any failure), passes ``PRAGMA integrity_check``, is flushed to disk,
    and only then takes ``destination``'s name.

    Args:
        source: a ``Database`` or the path of an existing database file.
        destination: the copy's path; its folder must exist.
        force: replace ``destination`` if it is an existing file (never the database
            itself, nor a folder).
        progress: called with (pages copied, pages in all) after each step.
        step_pages: pages copied per step.

    Raises:
        BackupRefusedError: ``destination`` exists (without ``force``), is a folder, is in
            a missing folder, or is the database (or its journal) itself.
        DatabaseError: the source could not be read (damaged: the copy failed its check),
            or the copy could not be written (disk full...).
    """
    started = time.monotonic()
    source_path = _path_of(source)
    dest = Path(destination).expanduser().absolute()
    try:
        _refuse_bad_destination(source_path, dest, force)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    except OSError as error:
        raise BackupRefusedError(
            f"backup destination {dest} cannot be written: {error.strerror or error}; "
            "choose another path"
        ) from error
    os.close(fd)
    tmp = Path(tmp_name)
    _copy_mode(source_path, tmp)
    try:
        pages = _copy(source, source_path, tmp, dest, progress, step_pages)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())  # the copy is on disk before it takes the name
        _move_into_place(tmp, dest, force)
    except OSError as error:
        raise StorageUnavailableError(
            f"backup to {dest} failed: {error.strerror or error}; nothing was written to "
            f"{dest}; check the free space and permissions of {dest.parent}"
        ) from error
    finally:
        # Only what this call created: the temporary file and any journal SQLite made.
        for leftover in (tmp, *(Path(f"{tmp}{s}") for s in ("-journal", "-wal", "-shm"))):
            with contextlib.suppress(OSError):
                leftover.unlink()
    _sync_folder(dest.parent)
    return BackupResult(source_path, str(dest), pages, _size(str(dest)), time.monotonic() - started)


def _refuse_bad_destination(source_path: str, dest: Path, force: bool) -> None:
    if source_path != ":memory:":
        source = Path(source_path).absolute()
        names = {os.path.realpath(f"{source}{s}") for s in ("", "-wal", "-shm", "-journal")}
        same = os.path.realpath(dest) in names
        with contextlib.suppress(OSError):
            same = same or os.path.samefile(source, dest)
        if same:
            raise BackupRefusedError(
                f"backup destination {dest} is the database itself (or its journal): "
                "choose another path"
            )
    if not dest.parent.is_dir():
        raise BackupRefusedError(
            f"backup destination folder {dest.parent} does not exist: create it first"
        )
    if dest.is_symlink() or (dest.exists() and not dest.is_file()):
        raise BackupRefusedError(
            f"backup destination {dest} exists and is not a plain file: choose another path"
        )
    if dest.exists() and not force:
        raise BackupRefusedError(
            f"backup destination {dest} exists: choose another path, or add --force to replace it"
        )


def _copy(
    source: Target,
    source_path: str,
    tmp: Path,
    dest: Path,
    progress: Callable[[int, int], None] | None,
    step_pages: int,
) -> int:
    """Back ``source`` up into the file ``tmp``; return the page count."""
    pages = 0

    def report(_status: int, remaining: int, total: int) -> None:
        nonlocal pages
        pages = total
        if progress is not None:
            progress(total - remaining, total)

    with _connection(source) as conn:
        try:
            copy = sqlite3.connect(tmp, isolation_level=None)
        except sqlite3.Error as error:
            raise _translated(str(dest), error, "backup") from error
        try:
            # One read transaction around every step: the steps then all read the same
            # snapshot, and a writer in another process neither blocks (WAL) nor makes the
            # backup start again (which, under a busy follower, it might do forever).
            began = not conn.in_transaction
            try:
                if began:
                    conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                conn.backup(copy, pages=max(1, step_pages), progress=report)
            except sqlite3.Error as error:
                # Damage or a lock is the source's; anything else (full, I/O) the copy's.
                name = error_name(error) or ""
                blame = source_path if _is_damage(error) or "BUSY" in name else str(dest)
                raise _translated(blame, error, "backup") from error
            finally:
                if began and conn.in_transaction:
                    conn.execute("COMMIT")
            try:
                # The copy stands alone: one file, no -wal beside it.
                copy.execute("PRAGMA journal_mode = DELETE")
                verdict = [str(row[0]) for row in copy.execute("PRAGMA integrity_check(10)")]
                pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
            except sqlite3.Error as error:
                if _is_damage(error):
                    verdict = [str(error)]
                else:
                    raise _translated(str(dest), error, "checking the backup") from error
        finally:
            copy.close()
    if verdict != ["ok"]:
        raise DatabaseDamagedError(
            f"database {source_path}: its copy failed the integrity check ({verdict[0]}), "
            f"so the database is damaged; nothing was written to {dest}; {CHECK_HINT}"
        )
    return pages


def _copy_mode(source_path: str, tmp: Path) -> None:
    """The copy gets the database's permissions (mkstemp makes it private to its owner)."""
    with contextlib.suppress(OSError):
        mode = os.stat(source_path).st_mode & 0o777 if source_path != ":memory:" else 0o600
        os.chmod(tmp, mode)


def _move_into_place(tmp: Path, dest: Path, force: bool) -> None:
    if force:
        os.replace(tmp, dest)
        return
    try:
        # A hard link never replaces: a file that appeared meanwhile is kept.
        os.link(tmp, dest)
    except FileExistsError:
        raise BackupRefusedError(
            f"backup destination {dest} appeared during the backup: nothing was replaced; "
            "choose another path, or add --force"
        ) from None
    except OSError:
        if dest.exists():  # no hard links here (some network filesystems)
            raise BackupRefusedError(
                f"backup destination {dest} exists: choose another path, or add --force"
            ) from None
        os.replace(tmp, dest)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX; a no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- info ----------------------------------------------------------------------------------


def database_info(target: Target) -> DatabaseInfo:
    """Path, sizes and schema version of a database file (it is not created or migrated)."""
    path = _path_of(target)
    with _connection(target) as conn:
        try:

            def one(sql: str) -> Any:
                return conn.execute(sql).fetchone()[0]

            experiments: int | None = None
            if one("SELECT count(*) FROM sqlite_master WHERE name = 'experiments'"):
                experiments = int(one("SELECT count(*) FROM experiments"))
            info = DatabaseInfo(
                path=path,
                size_bytes=_size(path),
                wal_bytes=_size(f"{path}-wal"),
                schema_version=int(one("PRAGMA user_version")),
                known_schema_version=len(MIGRATIONS),
                page_size=int(one("PRAGMA page_size")),
                page_count=int(one("PRAGMA page_count")),
                free_pages=int(one("PRAGMA freelist_count")),
                journal_mode=str(one("PRAGMA journal_mode")),
                experiments=experiments,
            )
        except sqlite3.Error as error:
            raise _translated(path, error, "reading its summary") from error
    return info


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
