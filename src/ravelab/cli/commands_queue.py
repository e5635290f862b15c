"""``ravelab queue``: the runs waiting for their device, their order, taking one out.

Thin over ``ravelab.core.operations.queue`` (the app uses the same calls). A run is queued
with ``ravelab train ... --queue``; the warden starts the head of each free device's queue,
with no app or command open.
"""

from __future__ import annotations

import argparse

from ravelab.cli.context import Context, count_argument
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import local_time, print_json, table
from ravelab.core.errors import ConfigError
from ravelab.core.operations import queue

__all__ = ["add_parsers"]


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "queue",
        help="list, reorder or remove queued runs (train --queue)",
        description="Runs queued with `ravelab train ... --queue` wait for their device (a "
        "GPU or the CPU) and start when the run before them there ends, however it ends.",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(handler=cmd_queue)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    move = actions.add_parser("move", help="move a queued run to another place in its queue")
    move.add_argument("experiment", metavar="ID", help="experiment id or name")
    move.add_argument(
        "position", metavar="POSITION", nargs="?", type=count_argument, help="1 = next to start"
    )
    move.add_argument("--top", action="store_true", help="make it the next to start")
    move.set_defaults(handler=cmd_move)
    remove = actions.add_parser("remove", help="take a queued run out (its row is deleted)")
    remove.add_argument("experiment", metavar="ID", help="experiment id or name")
    remove.set_defaults(handler=cmd_remove)


def cmd_queue(ctx: Context) -> int:
    ctx.settle()  # re-attaching puts back a run whose claimer died before starting it
    entries = queue.list_queue(ctx.db)
    if ctx.args.json:
        print_json([entry.as_dict() for entry in entries], ctx.out)
        return ExitCode.OK
    if not entries:
        ctx.out.write("no run is queued: queue one with `ravelab train ... --queue`\n")
        return ExitCode.OK
    rows = [
        (
            entry.device,
            entry.rank,
            entry.experiment_id,
            entry.name,
            local_time(entry.queued_at),
            entry.then_export or "-",
            entry.waits_for,
        )
        for entry in entries
    ]
    headers = ("DEVICE", "POS", "ID", "NAME", "QUEUED", "THEN EXPORT", "WAITS FOR")
    ctx.out.write(table(headers, rows) + "\n")
    return ExitCode.OK


def cmd_move(ctx: Context) -> int:
    args = ctx.args
    if args.top == (args.position is not None):
        raise ConfigError("give either a POSITION (1 = next to start) or --top")
    record = ctx.experiment(args.experiment)
    entry = queue.move(ctx.db, record.id, 1 if args.top else args.position)
    ctx.out.write(f"run {entry.experiment_id} '{entry.name}' is now {entry.label}\n")
    return ExitCode.OK


def cmd_remove(ctx: Context) -> int:
    record = ctx.experiment(ctx.args.experiment)
    queue.remove(ctx.db, record.id)
    ctx.out.write(f"removed queued run {record.id} '{record.name}' (it never started)\n")
    return ExitCode.OK
