"""``ravelab remote add | list | remove | check | setup``: machines runs are sent to over SSH."""

from __future__ import annotations

import argparse
import dataclasses

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import print_json, table


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    remote = subparsers.add_parser(
        "remote",
        help="machines runs are sent to over SSH: add, check, set up",
        description="A remote is a Linux machine with a GPU that you reach with ssh (a rented "
        "one, your lab's). Your own OpenSSH setup is used (~/.ssh/config, agent, keys, "
        "known_hosts); ravelab never asks for or stores a password. Then: `ravelab train "
        "--executor ssh --remote NAME ...`.",
    )
    sub = remote.add_subparsers(dest="remote_command", required=True, metavar="COMMAND")
    add = sub.add_parser("add", help="name a machine reached with ssh")
    add.add_argument("name", help="a short name for it, e.g. lab-gpu")
    add.add_argument("destination", metavar="[USER@]HOST", help="as you would give it to ssh")
    add.add_argument("--port", type=int, help="ssh port (default: ssh's)")
    add.add_argument("--identity", metavar="FILE", help="private key file (default: ssh's)")
    add.add_argument(
        "--ssh-config", metavar="FILE", help="ssh config file instead of ~/.ssh/config"
    )
    add.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="run folders there (default: ~/ravelab/runs; copied datasets go to DIR/datasets)",
    )
    add.add_argument(
        "--python", metavar="PATH", help="Python there (default: the one `remote setup` makes)"
    )
    add.add_argument("--rave", metavar="PATH", help="rave there (default: found by ravelab there)")
    add.set_defaults(handler=cmd_remote_add)

    listing = sub.add_parser("list", help="list the remotes")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_remote_list)

    remove = sub.add_parser("remove", help="forget a remote (nothing there is touched)")
    remove.add_argument("name")
    remove.add_argument(
        "--abandon-runs",
        action="store_true",
        help="end its unended runs as failed first (the machine is gone for good)",
    )
    remove.set_defaults(handler=cmd_remote_remove)

    check = sub.add_parser("check", help="say what works there and what is missing")
    check.add_argument("name")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=cmd_remote_check)

    setup = sub.add_parser(
        "setup", help="install this ravelab and RAVE there (again: only what is missing)"
    )
    setup.add_argument("name")
    setup.add_argument(
        "--no-rave", action="store_true", help="install ravelab only, not RAVE (torch: GBs)"
    )
    setup.set_defaults(handler=cmd_remote_setup)


def cmd_remote_add(ctx: Context) -> int:
    from ravelab.core.ssh.remotes import add_remote

    args = ctx.args
    remote = add_remote(
        ctx.db,
        args.name,
        args.destination,
        port=args.port,
        identity=args.identity,
        ssh_config=args.ssh_config,
        runs_dir=args.runs_dir,
        python=args.python,
        rave=args.rave,
    )
    ctx.out.write(
        f"added remote {remote.name} ({remote.destination}); next: "
        f"`ravelab remote check {remote.name}`, then `ravelab remote setup {remote.name}`\n"
    )
    return ExitCode.OK


def cmd_remote_list(ctx: Context) -> int:
    from ravelab.core.ssh.remotes import list_remotes

    remotes = list_remotes(ctx.db)
    if ctx.args.json:
        print_json([dataclasses.asdict(r) for r in remotes], ctx.out)
        return ExitCode.OK
    if not remotes:
        ctx.out.write("no remotes: add one with `ravelab remote add NAME [USER@]HOST`\n")
        return ExitCode.OK
    rows = [
        (r.name, r.destination, r.port or "", r.runs_dir, r.python, r.rave or "(found there)")
        for r in remotes
    ]
    ctx.out.write(table(("NAME", "DESTINATION", "PORT", "RUNS", "PYTHON", "RAVE"), rows) + "\n")
    return ExitCode.OK


def cmd_remote_remove(ctx: Context) -> int:
    from ravelab.core.ssh.remotes import remove_remote

    abandoned = remove_remote(ctx.db, ctx.args.name, abandon_runs=ctx.args.abandon_runs)
    for experiment_id in abandoned:
        ctx.out.write(
            f"run {experiment_id} ended as failed (abandoned): if that machine still "
            "answers, what runs there goes on; stop it there by hand\n"
        )
    ctx.out.write(f"removed remote {ctx.args.name} (its machine and files are untouched)\n")
    return ExitCode.OK


_MARKS = {True: "ok", None: "warning", False: "MISSING"}


def cmd_remote_check(ctx: Context) -> int:
    from ravelab.core.ssh.remote_check import check_remote
    from ravelab.core.ssh.remotes import get_remote

    report = check_remote(get_remote(ctx.db, ctx.args.name))
    if ctx.args.json:
        print_json(
            {
                "remote": report.remote.name,
                "ready": report.ready,
                "checks": [dataclasses.asdict(line) for line in report.lines],
                "agent": report.hello,
            },
            ctx.out,
        )
    else:
        rows = [(line.what, _MARKS[line.ok], line.detail) for line in report.lines]
        ctx.out.write(table(("CHECK", "STATE", "DETAIL"), rows) + "\n")
        ctx.out.write(
            f"\n{report.remote.name} is ready for runs\n"
            if report.ready
            else f"\n{report.remote.name} is not ready: see MISSING above\n"
        )
    return ExitCode.OK if report.ready else ExitCode.REMOTE


def cmd_remote_setup(ctx: Context) -> int:
    from ravelab.core.ssh.remote_setup import setup_remote
    from ravelab.core.ssh.remotes import get_remote

    remote = get_remote(ctx.db, ctx.args.name)

    def say(line: str) -> None:
        ctx.out.write(line + "\n")
        ctx.out.flush()

    hello = setup_remote(remote, say, rave=not ctx.args.no_rave)
    rave = hello.get("rave") or "not installed (--no-rave)"
    say(f"{remote.name} is set up: ravelab {hello.get('version')}, rave {rave}")
    return ExitCode.OK
