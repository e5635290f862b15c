"""Checking a database file: :func:`check_database` runs ``PRAGMA integrity_check`` (or
``quick_check``) and ``PRAGMA foreign_key_check`` and says in words whether the file is
sound, which tables and indexes are damaged, and what to do."""

from __future__ import annotations

import os
import re
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ravelab.db.errors import CannotOpenError, error_name
from ravelab.db.file_access import Target, is_damage, path_of, reading_connection, translated
from ravelab.db.migrations import MIGRATIONS

#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: At most this many messages are asked of ``integrity_check`` (it stops there).
MAX_PROBLEMS = 100
#: Pages copied per backup step (4 MiB with 4 KiB pages): progress shows between steps.
_INDEX_PROBLEM = re.compile(
    r"(?:missing from index|wrong # of entries in index|non-unique entry in UNIQUE index"
    r"|in index)\s+(\S+)"
)


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
    path = path_of(target)
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
    with reading_connection(target) as conn:
        try:
            return _check(conn, path, quick)
        except sqlite3.Error as error:
            if not is_damage(error):
                raise translated(path, error, "checking") from error
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
        if not is_damage(error):
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
            if not is_damage(error):
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
        if not is_damage(error) and error_name(error) != "SQLITE_ERROR":
            raise
        return 0  # damaged pages (reported above) or not ravelab's table
    return int(row[0])


def _broken_references(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table whose foreign key points at a missing row."""
    try:
        rows = conn.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.Error as error:
        if not is_damage(error):
            raise
        return {}  # the integrity check already says the file is damaged
    return dict(Counter(str(row[0]) for row in rows))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
