"""Looking after the database file: an integrity check, an online backup, a summary.

* :func:`check_database` (in ``integrity``): is the file sound, what is damaged, what to do.
* :func:`backup_database` (in ``backup``): an online, checked copy.
* :func:`database_info` (here): path, sizes, schema version.

All three open their own connection on the file (``file_access``), never through
:class:`Database`, so a file too damaged to open as a ravelab database can still be
checked. Every name stays importable from here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from ravelab.db.backup import BACKUP_STEP_PAGES as BACKUP_STEP_PAGES
from ravelab.db.backup import BackupRefusedError as BackupRefusedError
from ravelab.db.backup import BackupResult as BackupResult
from ravelab.db.backup import backup_database as backup_database
from ravelab.db.file_access import Target, file_size, path_of, reading_connection, translated
from ravelab.db.integrity import MAX_PROBLEMS as MAX_PROBLEMS
from ravelab.db.integrity import SQLITE_HEADER as SQLITE_HEADER
from ravelab.db.integrity import CheckReport as CheckReport
from ravelab.db.integrity import check_database as check_database
from ravelab.db.migrations import MIGRATIONS


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


def database_info(target: Target) -> DatabaseInfo:
    """Path, sizes and schema version of a database file (it is not created or migrated)."""
    path = path_of(target)
    with reading_connection(target) as conn:
        try:

            def one(sql: str) -> Any:
                return conn.execute(sql).fetchone()[0]

            experiments: int | None = None
            if one("SELECT count(*) FROM sqlite_master WHERE name = 'experiments'"):
                experiments = int(one("SELECT count(*) FROM experiments"))
            info = DatabaseInfo(
                path=path,
                size_bytes=file_size(path),
                wal_bytes=file_size(f"{path}-wal"),
                schema_version=int(one("PRAGMA user_version")),
                known_schema_version=len(MIGRATIONS),
                page_size=int(one("PRAGMA page_size")),
                page_count=int(one("PRAGMA page_count")),
                free_pages=int(one("PRAGMA freelist_count")),
                journal_mode=str(one("PRAGMA journal_mode")),
                experiments=experiments,
            )
        except sqlite3.Error as error:
            raise translated(path, error, "reading its summary") from error
    return info
