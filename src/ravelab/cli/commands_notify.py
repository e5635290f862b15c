"""``ravelab notify add | list | remove | test``: where ravelab sends its notifications.

Channels are apprise URLs (see ``core/operations/notifications.py``); the warden sends
events to them with nobody watching. URLs are only ever printed masked.
"""

from __future__ import annotations

import argparse

from ravelab.cli.context import Context, whole_argument
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import print_json, table

_EVENTS_HELP = (
    "only these events, comma-separated (default: all): completed, failed, nonfinite, "
    "stalled, phase2, best_validation, queue_started, export_finished, disk_low"
)


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    notify = subparsers.add_parser(
        "notify",
        help="send notifications (ntfy, Discord, email...) on run events",
        description="Tell ravelab where to send notifications (run completed or failed, "
        "NaN, stalled, phase 2, new best validation, queue, export, disk low). A channel is "
        "any URL apprise understands, e.g. ntfy://mytopic, discord://ID/TOKEN, "
        "mailto://user:pass@example.com, json://host/path, dbus:// (a desktop "
        "notification). They are sent by ravelab's background warden, with no app open.",
    )
    sub = notify.add_subparsers(dest="notify_command", required=True, metavar="COMMAND")
    add = sub.add_parser("add", help="add a channel (its URL is checked by apprise)")
    add.add_argument("url", metavar="URL", help="an apprise URL")
    add.add_argument("--events", metavar="LIST", help=_EVENTS_HELP)
    add.set_defaults(handler=cmd_notify_add)

    list_ = sub.add_parser("list", help="list channels (URLs masked), counts and last errors")
    list_.add_argument("--json", action="store_true", help="print JSON")
    list_.set_defaults(handler=cmd_notify_list)

    remove = sub.add_parser("remove", help="remove a channel")
    remove.add_argument("id", metavar="ID", type=whole_argument, help="channel id")
    remove.set_defaults(handler=cmd_notify_remove)

    test = sub.add_parser("test", help="send a test message now (exit status 4 if one fails)")
    test.add_argument(
        "id", metavar="ID", nargs="?", type=whole_argument, help="channel id (default: all)"
    )
    test.set_defaults(handler=cmd_notify_test)


def cmd_notify_add(ctx: Context) -> int:
    from ravelab.core.operations.notifications import add_channel

    channel = add_channel(ctx.db, ctx.args.url, ctx.args.events)
    kinds = ", ".join(channel.events) or "all events"
    ctx.out.write(f"channel {channel.id} added: {channel.url} ({kinds})\n")
    return ExitCode.OK


def _status(channel: object) -> str:
    from ravelab.core.display import local_time
    from ravelab.core.operations.notifications import Channel

    assert isinstance(channel, Channel)
    if channel.last_error is None:
        return "ok" if channel.sent else "-"
    from datetime import UTC, datetime

    when = ""
    if channel.last_error_at is not None:
        moment = datetime.fromtimestamp(channel.last_error_at, UTC).isoformat()
        when = f" ({local_time(moment)})"
    return f"{channel.last_error}{when}"


def cmd_notify_list(ctx: Context) -> int:
    from ravelab.core.operations.notifications import list_channels

    channels = list_channels(ctx.db)
    if ctx.args.json:
        print_json([channel.as_dict() for channel in channels], ctx.out)
        return ExitCode.OK
    if not channels:
        ctx.out.write("no notification channels: `ravelab notify add URL` adds one\n")
        return ExitCode.OK
    ctx.out.write(
        table(
            ("ID", "URL", "EVENTS", "SENT", "PENDING", "FAILED", "LAST ERROR"),
            [
                (
                    channel.id,
                    channel.url,
                    ",".join(channel.events) or "all",
                    channel.sent,
                    channel.pending,
                    channel.failed,
                    _status(channel),
                )
                for channel in channels
            ],
        )
        + "\n"
    )
    return ExitCode.OK


def cmd_notify_remove(ctx: Context) -> int:
    from ravelab.core.operations.notifications import remove_channel

    remove_channel(ctx.db, ctx.args.id)
    ctx.out.write(f"channel {ctx.args.id} removed\n")
    return ExitCode.OK


def cmd_notify_test(ctx: Context) -> int:
    from ravelab.core.operations.notifications import send_test

    results = send_test(ctx.db, ctx.args.id)
    if not results:
        ctx.out.write("no notification channels: `ravelab notify add URL` adds one\n")
        return ExitCode.OK
    for result in results:
        outcome = "sent" if result.error is None else f"FAILED: {result.error}"
        ctx.out.write(f"channel {result.channel_id}: {result.url}: {outcome}\n")
    return ExitCode.OK if all(r.error is None for r in results) else ExitCode.INVALID
