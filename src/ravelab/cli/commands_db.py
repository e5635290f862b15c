"""``ravelab db check | backup | info``: the database file's health, copies and figures.

These commands work on the file itself (``--db``): they never create or migrate it, so a
file too damaged for the other commands can still be checked and its state reported.
"""

from __future__ import annotations

import argparse

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import print_json
from ravelab.core.database_care import (
    BackupRefusedError,
    backup_database,
    check_database,
    database_info,
)


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="check, back up or describe the database file")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")

    check = sub.add_parser(
        "check",
        help="check the database's integrity and say what to do",
        description="Runs SQLite's integrity check and foreign key check on the file and "
        "says whether it is sound, which tables and indexes are damaged, and what to do. "
        "Exit code 0 when sound, 6 otherwise.",
    )
    check.add_argument(
        "--quick", action="store_true", help="quick_check: faster, but does not read indexes"
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=cmd_db_check)

    backup = sub.add_parser(
        "backup",
        help="copy the database safely, even while runs are followed",
        description="Copies the database with SQLite's online backup API (a consistent "
        "snapshot; other processes keep writing), checks the copy, and only then gives "
        "it the name PATH. An existing PATH is kept unless --force.",
    )
    backup.add_argument("path", metavar="PATH", help="where the copy goes (its folder must exist)")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    backup.set_defaults(handler=cmd_db_backup)

    info = sub.add_parser("info", help="the database's path, sizes and schema version")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=cmd_db_info)


def cmd_db_check(ctx: Context) -> int:
    report = check_database(ctx.db_path, quick=ctx.args.quick)
    if ctx.args.json:
        print_json(report.to_dict(), ctx.out)
    else:
        ctx.out.write(report.summary + "\n")
        for problem in report.problems[:10]:
            ctx.out.write(f"  {problem}\n")
        if len(report.problems) > 10:
            ctx.out.write(f"  ... {len(report.problems) - 10} more (--json lists them)\n")
        ctx.out.write(report.advice + "\n")
    return ExitCode.OK if report.sound else ExitCode.DATABASE


def cmd_db_backup(ctx: Context) -> int:
    tty = ctx.err.isatty()

    def show(done: int, total: int) -> None:
        if tty and total:
            ctx.err.write(f"\rbacking up: {100 * done // total:3d}% of {total} pages")
            ctx.err.flush()

    try:
        result = backup_database(ctx.db_path, ctx.args.path, force=ctx.args.force, progress=show)
    except BackupRefusedError as error:
        ctx.err.write(f"ravelab: error: {error}\n")
        return ExitCode.INVALID
    finally:
        if tty:
            ctx.err.write("\r\x1b[2K")
    ctx.out.write(
        f"backed up {result.source} to {result.path}: {result.pages} pages, "
        f"{result.size_bytes / 1e6:.1f} MB, integrity check ok\n"
    )
    return ExitCode.OK


def cmd_db_info(ctx: Context) -> int:
    info = database_info(ctx.db_path)
    if ctx.args.json:
        print_json(info.to_dict(), ctx.out)
        return ExitCode.OK
    rows = [
        ("path", info.path),
        ("size", f"{info.size_bytes / 1e6:.1f} MB ({info.page_count} pages of {info.page_size})"),
        ("free pages", str(info.free_pages)),
        ("write-ahead log", f"{info.wal_bytes / 1e6:.1f} MB ({info.journal_mode})"),
        ("schema version", f"{info.schema_version} (this ravelab: {info.known_schema_version})"),
        ("experiments", "-" if info.experiments is None else str(info.experiments)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        ctx.out.write(f"{name.ljust(width)}  {value}\n")
    return ExitCode.OK
