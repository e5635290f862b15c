"""``ravelab slurm show | set | check``: the SLURM target's settings and the cluster's health."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from typing import Any

from ravelab.cli.context import Context
from ravelab.cli.exit_codes import ExitCode
from ravelab.cli.formatting import print_json, table
from ravelab.core.errors import ConfigError
from ravelab.core.slurm.executor import ClusterCheck, check_cluster
from ravelab.core.slurm.settings import FIELDS, KEYS, SlurmSettings

#: ``slurm set`` flags: (flag, field, help).
SET_FLAGS = (
    ("--partition", "partition", "partition(s), e.g. gpu or gpu,gpu-long"),
    ("--account", "account", "account to charge"),
    ("--time", "time", "time limit, e.g. 12:00:00 or 2-00:00:00"),
    ("--gres", "gres", "generic resources, e.g. gpu:1 (a number N means gpu:N)"),
    ("--cpus", "cpus", "CPUs per run (--cpus-per-task)"),
    ("--mem", "mem", "memory per run, e.g. 32G"),
    ("--runs-dir", "runs_dir", "folder for SLURM run folders, shared with the compute nodes"),
)


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    slurm = subparsers.add_parser(
        "slurm",
        help="SLURM cluster settings and checks",
        description="Settings for `ravelab train --executor slurm` (each can be overridden "
        "per run with train's flags) and a check that the cluster answers.",
    )
    sub = slurm.add_subparsers(dest="slurm_command", required=True, metavar="COMMAND")
    show = sub.add_parser("show", help="print the SLURM settings")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_slurm_show)

    set_ = sub.add_parser("set", help="change SLURM settings (an empty value removes one)")
    for flag, field, text in SET_FLAGS:
        set_.add_argument(flag, dest=field, metavar="VALUE", help=text)
    set_.add_argument(
        "--sbatch-line",
        action="append",
        dest="extra",
        metavar="LINE",
        help="an extra '#SBATCH ...' line; repeatable; replaces the stored lines ('' clears)",
    )
    set_.set_defaults(handler=cmd_slurm_set)

    check = sub.add_parser("check", help="check that the cluster answers (sinfo, scontrol ping)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=cmd_slurm_check)


def _show(ctx: Context, settings: SlurmSettings) -> None:
    for name in FIELDS:
        value = getattr(settings, name)
        if name == "extra":
            text = "; ".join(value) if value else "(none)"
        else:
            text = "(cluster default)" if value is None else str(value)
            if name == "runs_dir" and value is None:
                text = "(the general runs folder)"
        ctx.out.write(f"{KEYS[name]} = {text}\n")


def cmd_slurm_show(ctx: Context) -> int:
    settings = SlurmSettings.load(ctx.db)
    if ctx.args.json:
        print_json(settings.as_dict(), ctx.out)
    else:
        _show(ctx, settings)
    return ExitCode.OK


def cmd_slurm_set(ctx: Context) -> int:
    args = ctx.args
    changes: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(args, name, None)
        if value is None:
            continue
        if name == "extra":
            changes[name] = [line for line in value if line] or None
        else:
            changes[name] = value or None
    if not changes:
        raise ConfigError("nothing to set: give at least one flag (`ravelab slurm set --help`)")
    settings = SlurmSettings.load(ctx.db).merged(changes)
    settings.save(ctx.db)
    _show(ctx, settings)
    return ExitCode.OK


def cluster_report(ctx: Context) -> ClusterCheck | None:
    """The cluster check for ``doctor``: None where SLURM is neither installed nor set up."""
    try:
        settings = SlurmSettings.load(ctx.db)
    except ConfigError as error:
        return ClusterCheck(None, None, None, [], {}, [str(error)])
    if shutil.which("sbatch") is None and settings.is_empty:
        return None
    return check_cluster(settings)


def doctor_rows(check: ClusterCheck) -> list[tuple[str, str]]:
    """``doctor``'s table rows for SLURM."""
    partitions = ", ".join(line.split("|")[0] for line in check.partitions) or "-"
    return [
        ("SLURM", check.version or "NOT FOUND"),
        ("SLURM controller", check.controller or "-"),
        ("SLURM partitions", partitions),
    ]


def cmd_slurm_check(ctx: Context) -> int:
    check = cluster_report(ctx) or check_cluster(SlurmSettings())
    if ctx.args.json:
        print_json({**dataclasses.asdict(check), "ok": check.ok}, ctx.out)
    else:
        ctx.out.write(table(("CHECK", "RESULT"), doctor_rows(check)) + "\n")
        for problem in check.problems:
            ctx.out.write(f"\nproblem: {problem}\n")
    return ExitCode.OK if check.ok else ExitCode.INVALID
