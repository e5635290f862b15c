"""Copying a database file: :func:`backup_database` uses SQLite's online backup API while
other processes (followers of live runs) keep writing: the copy is one consistent snapshot,
taken inside a single read transaction, so it holds every commit made before the backup
began and none half-made. It is written to a temporary file beside the destination,
checked, and only then renamed into place; an existing file is replaced only when asked,
and the database itself never."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ravelab.db.errors import (
    CHECK_HINT,
    DatabaseDamagedError,
    DatabaseError,
    StorageUnavailableError,
    error_name,
)
from ravelab.db.file_access import (
    Target,
    file_size,
    is_damage,
    path_of,
    reading_connection,
    translated,
)

#: Pages copied per backup step (4 MiB with 4 KiB pages): progress shows between steps.
BACKUP_STEP_PAGES = 1024


class BackupRefusedError(DatabaseError):
    """``backup_database`` would overwrite something it must not; nothing was written."""


@dataclass(frozen=True)
class BackupResult:
    """A finished, checked backup."""

    source: str
    path: str
    pages: int
    size_bytes: int
    seconds: float


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
    source_path = path_of(source)
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
    return BackupResult(
        source_path, str(dest), pages, file_size(str(dest)), time.monotonic() - started
    )


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

    with reading_connection(source) as conn:
        try:
            copy = sqlite3.connect(tmp, isolation_level=None)
        except sqlite3.Error as error:
            raise translated(str(dest), error, "backup") from error
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
                blame = source_path if is_damage(error) or "BUSY" in name else str(dest)
                raise translated(blame, error, "backup") from error
            finally:
                if began and conn.in_transaction:
                    conn.execute("COMMIT")
            try:
                # The copy stands alone: one file, no -wal beside it.
                copy.execute("PRAGMA journal_mode = DELETE")
                verdict = [str(row[0]) for row in copy.execute("PRAGMA integrity_check(10)")]
                pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
            except sqlite3.Error as error:
                if is_damage(error):
                    verdict = [str(error)]
                else:
                    raise translated(str(dest), error, "checking the backup") from error
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
