"""``ravelab rename | note | tag | archive | unarchive | delete``: a run's lifetime.

Each command is thin over ``ravelab.core.runs.lifetime`` (the app uses the same calls);
its errors (an unknown id, a live run, a bad name or tag) are one line each.
"""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO, TextIO

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.core.errors import ConfigError
from ravelab.core.runs import lifetime

__all__ = ["add_parsers"]


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rename = subparsers.add_parser(
        "rename",
        help="give a run another name (its folder stays)",
        description="The name rules of a new run apply and names stay unique. The run "
        "folder is not moved, and a resume keeps RAVE's original --name.",
    )
    rename.add_argument("experiment", metavar="ID", help="experiment id or name")
    rename.add_argument("name", metavar="NAME", help="the new name (letters, digits, -_.)")
    rename.set_defaults(handler=cmd_rename)

    note = subparsers.add_parser(
        "note",
        help="show or set a run's notes",
        description="Free text kept with the run; `ravelab list --filter` searches it.",
    )
    note.add_argument("experiment", metavar="ID", help="experiment id or name")
    note.add_argument(
        "text", metavar="TEXT", nargs="?", help="the notes (replace the old); '-' reads stdin"
    )
    note.add_argument("--clear", action="store_true", help="remove the notes")
    note.set_defaults(handler=cmd_note)

    tag = subparsers.add_parser(
        "tag",
        help="add or remove a run's tags (+x -y)",
        description="Tags are short labels (printable, up to 64 characters, no comma). "
        "`ravelab list --tag X` shows the runs tagged X.",
    )
    tag.add_argument("experiment", metavar="ID", help="experiment id or name")
    tag.add_argument(
        "changes",
        metavar="[+|-]TAG",
        # REMAINDER: "-y" after the run is a tag to remove, not an option.
        nargs=argparse.REMAINDER,
        help="+x (or x) adds tag x, -y removes tag y; none: print the tags",
    )
    tag.set_defaults(handler=cmd_tag)

    for name, text in (
        ("archive", "hide a run from `list` and the app (it is kept)"),
        ("unarchive", "show an archived run again"),
    ):
        archive = subparsers.add_parser(name, help=text)
        archive.add_argument("experiment", metavar="ID", nargs="+", help="experiment id or name")
        archive.set_defaults(handler=cmd_archive, archived=name == "archive")

    delete = subparsers.add_parser(
        "delete",
        help="delete an ended run, with --files its folder too",
        description="Deletes the run's row and everything stored with it (metric points, "
        "clips, checkpoints known, attempts). A run that has not ended is refused. With "
        "--files, the folder ravelab created for the run goes too (never an imported "
        "run's folder). Exported models are kept.",
    )
    delete.add_argument("experiment", metavar="ID", help="experiment id or name")
    delete.add_argument(
        "--files", action="store_true", help="also delete the run folder ravelab created"
    )
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(handler=cmd_delete)


def cmd_rename(ctx: Context) -> int:
    record = ctx.experiment(ctx.args.experiment)
    renamed = lifetime.rename_run(ctx.db, record.id, ctx.args.name)
    ctx.out.write(f"run {record.id} '{record.name}' is now '{renamed.name}'\n")
    return ExitCode.OK


def cmd_note(ctx: Context) -> int:
    record = ctx.experiment(ctx.args.experiment)
    text = ctx.args.text
    if ctx.args.clear:
        text = ""
    elif text == "-":
        text = _read_notes(sys.stdin)
    if text is None:
        ctx.out.write(record.notes + "\n" if record.notes else f"run {record.id} has no notes\n")
        return ExitCode.OK
    changed = lifetime.set_run_notes(ctx.db, record.id, text)
    ctx.out.write(
        f"run {record.id} '{record.name}': "
        + (f"notes set ({len(changed.notes)} characters)\n" if changed.notes else "notes cleared\n")
    )
    return ExitCode.OK


def cmd_tag(ctx: Context) -> int:
    record = ctx.experiment(ctx.args.experiment)
    changes = [word for word in ctx.args.changes if word != "--"]
    if changes:
        add, remove = lifetime.parse_tag_changes(changes)
        record = lifetime.change_run_tags(ctx.db, record.id, add, remove)
    tags = ", ".join(record.tags) if record.tags else "(no tags)"
    ctx.out.write(f"run {record.id} '{record.name}': {tags}\n")
    return ExitCode.OK


def cmd_archive(ctx: Context) -> int:
    records = [ctx.experiment(ref) for ref in ctx.args.experiment]  # all found, or none done
    for record in records:
        lifetime.set_run_archived(ctx.db, record.id, ctx.args.archived)
        what = "archived" if ctx.args.archived else "unarchived"
        ctx.out.write(f"run {record.id} '{record.name}' {what}\n")
    if ctx.args.archived:
        ctx.out.write("`ravelab list --archived` shows archived runs\n")
    return ExitCode.OK


def cmd_delete(ctx: Context) -> int:
    record = ctx.experiment(ctx.args.experiment)
    manager = ctx.manager(follow=False)  # re-attaching settles a run that ended meanwhile
    record = ctx.experiment(str(record.id))
    folder = lifetime.folder_to_delete(ctx.db, record) if ctx.args.files else None
    if not ctx.args.yes:
        what = f"run {record.id} '{record.name}'" + (
            f" and its folder {folder}" if folder is not None else ""
        )
        if not sys.stdin.isatty():
            ctx.err.write(f"ravelab: error: deleting {what} needs --yes (no terminal to ask)\n")
            return ExitCode.INVALID
        ctx.err.write(f"delete {what}? This cannot be undone. [y/N] ")
        ctx.err.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            ctx.out.write("nothing deleted\n")
            return ExitCode.OK
    deleted = lifetime.delete_run(
        ctx.db,
        record.id,
        with_files=ctx.args.files,
        still_lives=lambda current: manager.processes_live(current.id),
    )
    ctx.out.write(
        f"deleted run {record.id} '{record.name}'"
        + (f" and its folder {deleted.folder}" if deleted.folder is not None else "")
        + "\n"
    )
    if deleted.folder_problem:
        ctx.err.write(f"warning: {deleted.folder_problem}\n")
    elif not ctx.args.files and record.run_dir:
        ctx.out.write(f"its folder {record.run_dir} was kept\n")
    return ExitCode.OK


def _read_notes(stream: TextIO) -> str:
    """Notes from standard input: at most what ``MAX_NOTES`` characters can take, UTF-8
    (read as bytes where the stream has them, so bad bytes are named, not a traceback)."""
    limit = lifetime.MAX_NOTES * 4
    raw: BinaryIO | None = getattr(stream, "buffer", None)
    if raw is None:
        text = stream.read(limit + 1)
        if len(text) > limit:
            raise ConfigError(_TOO_LONG)
        return text
    data = raw.read(limit + 1)
    if len(data) > limit:
        raise ConfigError(_TOO_LONG)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"the notes on standard input are not UTF-8 (byte {error.start}): give UTF-8 text"
        ) from error


_TOO_LONG = f"the notes on standard input are too long: {lifetime.MAX_NOTES:,} characters at most"
